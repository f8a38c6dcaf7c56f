import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_TRANSMISSION,
  DedupCache,
  NstartLimiter,
  exchangeLifetime,
  initialTimeout,
  maxTransmitSpan,
  maxTransmitWait,
  nonLifetime,
} from '../../src/coap/reliability.js';

test('RFC 7252 §4.8.2 derived times for the default parameters', () => {
  assert.equal(maxTransmitSpan(DEFAULT_TRANSMISSION), 45_000);
  assert.equal(maxTransmitWait(DEFAULT_TRANSMISSION), 93_000);
  assert.equal(exchangeLifetime(DEFAULT_TRANSMISSION), 247_000);
  assert.equal(nonLifetime(DEFAULT_TRANSMISSION), 145_000);
  assert.equal(initialTimeout(DEFAULT_TRANSMISSION, () => 0), 2000);
  assert.equal(initialTimeout(DEFAULT_TRANSMISSION, () => 0.999999), 2000 * (1 + 0.999999 * 0.5));
});

test('dedup cache: entries expire, the oldest is evicted at the bound', () => {
  const c = new DedupCache(3);
  const e = c.add('p', 1, 0, 100);
  e.reply = Uint8Array.of(1);
  assert.deepEqual(c.get('p', 1, 50)?.reply, Uint8Array.of(1));
  assert.equal(c.get('p', 1, 100), undefined, 'expired at its lifetime');
  assert.equal(c.get('q', 1, 50), undefined, 'keyed by peer too');
  c.add('p', 2, 10, 1000);
  c.add('p', 3, 10, 1000);
  c.add('p', 4, 10, 1000);
  c.add('p', 5, 10, 1000);
  assert.equal(c.size, 3);
  assert.equal(c.get('p', 2, 20), undefined, 'oldest evicted');
  assert.ok(c.get('p', 5, 20));
  c.add('p', 6, 2000, 1000);
  assert.equal(c.size, 1, 'expired entries swept on insert');
});

test('NSTART limiter: at most n outstanding per peer, FIFO hand-over, peers independent', async () => {
  const l = new NstartLimiter(1);
  const order: string[] = [];
  const r1 = await l.acquire('a');
  const p2 = l.acquire('a').then((r) => { order.push('a2'); return r; });
  const p3 = l.acquire('a').then((r) => { order.push('a3'); return r; });
  const b1 = await l.acquire('b');
  order.push('b1');
  assert.equal(l.pending('a'), 3);
  r1();
  r1(); // releasing twice has no effect
  const r2 = await p2;
  assert.deepEqual(order, ['b1', 'a2']);
  r2();
  (await p3)();
  b1();
  assert.deepEqual(order, ['b1', 'a2', 'a3']);
  assert.equal(l.pending('a'), 0);
  assert.equal(l.pending('b'), 0);
});
