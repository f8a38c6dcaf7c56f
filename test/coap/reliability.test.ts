import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
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
  c.setReply(e, Uint8Array.of(1));
  assert.deepEqual(c.reply(c.get('p', 1, 50)), Uint8Array.of(1));
  assert.equal(c.get('p', 1, 100), -1, 'expired at its lifetime');
  assert.equal(c.get('q', 1, 50), -1, 'keyed by peer too');
  c.add('p', 2, 10, 1000);
  c.add('p', 3, 10, 1000);
  c.add('p', 4, 10, 1000);
  c.add('p', 5, 10, 1000);
  assert.equal(c.size, 3);
  assert.equal(c.get('p', 2, 20), -1, 'oldest evicted');
  assert.ok(c.get('p', 5, 20) >= 0);
  c.add('p', 6, 2000, 1000);
  assert.equal(c.size, 1, 'expired entries swept on insert');
});

test('dedup cache: replies kept byte for byte per peer and message ID, across slabs and compaction', () => {
  const c = new DedupCache(100_000);
  const replyOf = (peer: number, mid: number): Uint8Array => Uint8Array.from({ length: 1 + ((peer * 7 + mid) % 300) }, (_, k) => (peer + mid + k) & 0xff);
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < 2000; p++) {
      const mid = (round * 5 + p) & 0xffff;
      const slot = c.add(`peer-${p}`, mid, round, 1000);
      if (p % 3 !== 0) c.setReply(slot, replyOf(p, mid));
    }
  }
  assert.equal(c.size, 6000, 'several live message IDs per peer');
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < 2000; p += 7) {
      const mid = (round * 5 + p) & 0xffff;
      const slot = c.get(`peer-${p}`, mid, 10);
      assert.ok(slot >= 0);
      if (p % 3 === 0) assert.equal(c.reply(slot), undefined, 'nothing answered yet');
      else assert.deepEqual(c.reply(slot), replyOf(p, mid));
    }
  }
  // A message ID seen again after expiry is a new message with a new reply.
  const again = c.add('peer-1', 1, 5000, 1000);
  assert.equal(c.size, 1, 'everything else expired and was swept');
  assert.equal(c.reply(again), undefined);
  c.setReply(again, Uint8Array.of(9, 9));
  assert.deepEqual(c.reply(c.get('peer-1', 1, 5001)), Uint8Array.of(9, 9));
  // Large replies get a slab of their own.
  const big = new Uint8Array(100_000).fill(7);
  const s2 = c.add('peer-2', 2, 5000, 1000);
  c.setReply(s2, big);
  assert.deepEqual(c.reply(s2), big);
  assert.deepEqual(c.reply(again), Uint8Array.of(9, 9));
});

test('dedup cache: an evicted slot keeps no reply, a re-added message ID replaces the old slot', () => {
  const c = new DedupCache(2);
  const a = c.add('p', 1, 0, 1000);
  const b = c.add('p', 1, 0, 1000);
  assert.equal(c.size, 1);
  assert.equal(c.get('p', 1, 1), b);
  c.setReply(a, Uint8Array.of(1));
  c.setReply(b, Uint8Array.of(2));
  c.add('q', 1, 0, 1000);
  c.add('r', 1, 0, 1000);
  assert.equal(c.get('p', 1, 1), -1, 'evicted at the bound');
  c.setReply(b, Uint8Array.of(3));
  assert.equal(c.reply(b), undefined);
});

test('dedup cache: forget(peer) drops that peer\'s entries (one or several) and nobody else\'s; the count follows', () => {
  const c = new DedupCache(100);
  const one = c.add('a:1', 7, 0, 1000);
  c.setReply(one, new Uint8Array([1]));
  c.add('b:2', 7, 0, 1000);
  c.add('b:2', 8, 0, 1000);
  c.add('c:3', 7, 0, 1000);
  assert.equal(c.size, 4);
  c.forget('a:1');
  c.forget('b:2');
  c.forget('nobody:9');
  assert.equal(c.size, 1);
  assert.equal(c.get('a:1', 7, 1), -1);
  assert.equal(c.get('b:2', 7, 1), -1);
  assert.equal(c.get('b:2', 8, 1), -1);
  assert.notEqual(c.get('c:3', 7, 1), -1);
  // The same peer and message ID again: a fresh entry, no reply from before.
  const again = c.add('a:1', 7, 2, 1000);
  assert.equal(c.get('a:1', 7, 3), again);
  assert.equal(c.reply(again), undefined);
  assert.equal(c.size, 2);
  // Dead slots are swept like expired ones.
  for (let i = 0; i < 10; i++) c.add('d:4', i, 2000, 1000);
  assert.equal(c.size, 10);
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

// A reference model of the dedup cache with one lifetime (so insertion order is expiry order):
// live entries in insertion order, a re-added key moving to the end, expired ones swept from the
// front on add, the oldest evicted above the bound, forget() removing a peer's entries.
test('dedup cache: matches a plain reference model under random add/get/setReply/forget/time', () => {
  type Op =
    | { op: 'add'; peer: number; mid: number; reply: number }
    | { op: 'get'; peer: number; mid: number }
    | { op: 'forget'; peer: number }
    | { op: 'tick'; ms: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), peer: fc.integer({ min: 0, max: 4 }), mid: fc.integer({ min: 0, max: 6 }), reply: fc.integer({ min: -1, max: 40 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('get' as const), peer: fc.integer({ min: 0, max: 4 }), mid: fc.integer({ min: 0, max: 6 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('forget' as const), peer: fc.integer({ min: 0, max: 4 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 60 }) }) },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(opArb, { maxLength: 300 }), (max, ops) => {
      const LIFETIME = 100;
      const c = new DedupCache(max);
      const model = new Map<string, { expires: number; reply: Uint8Array | undefined; slot: number }>();
      let now = 0;
      const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, k) => (n * 31 + k) & 0xff);
      for (const o of ops) {
        if (o.op === 'tick') now += o.ms;
        else if (o.op === 'forget') {
          c.forget(`p${o.peer}`);
          for (const k of [...model.keys()]) if (k.startsWith(`p${o.peer}|`)) model.delete(k);
        } else if (o.op === 'add') {
          const slot = c.add(`p${o.peer}`, o.mid, now, LIFETIME);
          const reply = o.reply >= 0 ? bytes(o.reply) : undefined;
          if (reply !== undefined) c.setReply(slot, reply);
          for (const [k, e] of model) {
            if (e.expires > now) break;
            model.delete(k);
          }
          const key = `p${o.peer}|${o.mid}`;
          model.delete(key);
          model.set(key, { expires: now + LIFETIME, reply, slot });
          while (model.size > max) model.delete(model.keys().next().value as string);
          assert.equal(c.size, model.size, 'size after add');
        } else {
          const slot = c.get(`p${o.peer}`, o.mid, now);
          const e = model.get(`p${o.peer}|${o.mid}`);
          if (e === undefined || e.expires <= now) assert.equal(slot, -1, 'miss');
          else {
            assert.equal(slot, e.slot, 'hit on the latest slot');
            assert.deepEqual(c.reply(slot), e.reply);
          }
        }
      }
    }),
    { numRuns: 300 },
  );
});
