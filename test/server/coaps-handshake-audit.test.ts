/**
 * HandshakeAuditor: the first decision per (outcome, credential, identity) is written at once,
 * repeats in the window are counted into one later record, a flood of distinct identities is
 * capped per window and summarised, and nothing is lost at close. Driven by a fake clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEntry } from '../../src/store/types.js';
import { HandshakeAuditor } from '../../src/server/handshake-audit.js';

function harness(options: { maxRecordsPerWindow?: number; maxTracked?: number } = {}) {
  const written: AuditEntry[] = [];
  let now = 1_000_000;
  const auditor = new HandshakeAuditor(
    async (e) => {
      written.push(e);
    },
    { windowMs: 60_000, timer: false, now: () => now, ...options },
  );
  return {
    written,
    auditor,
    advance(ms: number) {
      now += ms;
    },
    settle: () => new Promise((r) => setImmediate(r)),
  };
}

test('first decision is written at once; repeats within the window become one record with the count', async () => {
  const h = harness();
  h.auditor.record({ outcome: 'deny', credential: 'psk', identity: 'dev-1', peer: '192.0.2.1:1000', reason: 'ERR_DTLS_HANDSHAKE_TIMEOUT' });
  for (let i = 0; i < 500; i++) h.auditor.record({ outcome: 'deny', credential: 'psk', identity: 'dev-1', peer: `192.0.2.1:${2000 + i}`, reason: 'ERR_DTLS_HANDSHAKE_TIMEOUT' });
  await h.settle();
  assert.equal(h.written.length, 1);
  assert.deepEqual(h.written[0], {
    actor: 'system',
    action: 'dtls.handshake',
    subject: 'psk:dev-1',
    outcome: 'deny',
    details: { credential: 'psk', identity: 'dev-1', peer: '192.0.2.1:1000', reason: 'ERR_DTLS_HANDSHAKE_TIMEOUT' },
  });

  h.auditor.sweep(); // window not over yet: nothing
  await h.settle();
  assert.equal(h.written.length, 1);

  h.advance(60_000);
  h.auditor.sweep();
  await h.settle();
  assert.equal(h.written.length, 2);
  assert.equal(h.written[1]!.subject, 'psk:dev-1');
  assert.equal(h.written[1]!.details!.repeated, 500);
  assert.equal(h.written[1]!.details!.peer, '192.0.2.1:2499', 'the summary names the last peer');
});

test('allow and deny, and different identities, are tracked apart; an allow names the device', async () => {
  const h = harness();
  h.auditor.record({ outcome: 'allow', credential: 'psk', identity: 'dev-1', endpoint: 'ep-1', peer: '127.0.0.1:1', cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8' });
  h.auditor.record({ outcome: 'deny', credential: 'psk', identity: 'dev-1', reason: 'x' });
  h.auditor.record({ outcome: 'allow', credential: 'rpk', identity: 'ab'.repeat(32), endpoint: 'ep-2' });
  h.auditor.record({ outcome: 'allow', credential: 'psk', identity: 'dev-1', endpoint: 'ep-1' });
  await h.settle();
  assert.deepEqual(
    h.written.map((e) => [e.actor, e.subject, e.outcome]),
    [
      ['device:ep-1', 'psk:dev-1', 'allow'],
      ['system', 'psk:dev-1', 'deny'],
      ['device:ep-2', `rpk:${'ab'.repeat(32)}`, 'allow'],
    ],
  );
  assert.equal(h.written[0]!.details!.cipherSuite, 'TLS_PSK_WITH_AES_128_CCM_8');
});

test('a flood of distinct identities is capped per window and summarised in one record', async () => {
  const h = harness({ maxRecordsPerWindow: 10 });
  for (let i = 0; i < 1000; i++) h.auditor.record({ outcome: 'deny', credential: 'psk', identity: `random-${i}`, reason: 'unknown identity' });
  h.auditor.record({ outcome: 'allow', credential: 'psk', identity: 'good', endpoint: 'ep' });
  await h.settle();
  assert.equal(h.written.length, 10);
  h.advance(60_000);
  h.auditor.sweep();
  await h.settle();
  const summary = h.written.find((e) => e.action === 'dtls.handshake.suppressed');
  assert.deepEqual(summary?.details, { allow: 1, deny: 990, windowMs: 60_000, reason: 'audit rate limit' });
  // A new window writes again.
  h.auditor.record({ outcome: 'deny', credential: 'psk', identity: 'after', reason: 'unknown identity' });
  await h.settle();
  assert.equal(h.written.at(-1)!.subject, 'psk:after');
});

test('tracked keys are bounded; untracked overflow is counted, not stored', async () => {
  const h = harness({ maxTracked: 5, maxRecordsPerWindow: 1000 });
  for (let i = 0; i < 50; i++) h.auditor.record({ outcome: 'deny', credential: 'none', identity: `x${i}` });
  await h.auditor.close();
  assert.equal(h.written.filter((e) => e.action === 'dtls.handshake').length, 5);
  assert.deepEqual(h.written.find((e) => e.action === 'dtls.handshake.suppressed')?.details, { allow: 0, deny: 45, windowMs: 60_000, reason: 'audit rate limit' });
});

test('identities from the network are truncated in records; close() writes pending counts', async () => {
  const h = harness();
  const long = 'i'.repeat(5000);
  h.auditor.record({ outcome: 'deny', credential: 'psk', identity: long });
  h.auditor.record({ outcome: 'deny', credential: 'psk', identity: long });
  await h.auditor.close();
  assert.equal(h.written.length, 2);
  assert.equal(h.written[0]!.subject, `psk:${'i'.repeat(128)}`);
  assert.equal(h.written[1]!.details!.repeated, 1);
});

test('a failing append is reported to onError and never throws into the handshake path', async () => {
  const errors: unknown[] = [];
  const auditor = new HandshakeAuditor(() => Promise.reject(new Error('disk full')), { timer: false, onError: (e) => errors.push(e) });
  auditor.record({ outcome: 'allow', credential: 'psk', identity: 'a' });
  await auditor.close();
  assert.equal(errors.length, 1);
  assert.match((errors[0] as Error).message, /disk full/);
});
