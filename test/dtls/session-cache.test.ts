import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SessionCache, type CachedSession } from '../../src/dtls/session-cache.js';

const psk = (raw: Uint8Array): CachedSession['identity'] => ({ type: 'psk', identity: new TextDecoder().decode(raw), raw });

describe('SessionCache', () => {
  it('gives back every field of a PSK session (packed form), identity bytes 0x00–0xff included', () => {
    const cache = new SessionCache();
    for (const [createdAt, raw] of [
      [Date.now(), new TextEncoder().encode('dev-1-psk')],
      [0, Uint8Array.from({ length: 256 }, (_, i) => i)],
      [2 ** 48 - 1, new Uint8Array(0)],
      [1_700_000_000_123, randomBytes(1024)],
    ] as const) {
      const entry: CachedSession = { sessionId: randomBytes(32), masterSecret: randomBytes(48), cipherSuite: 0xc0a8, identity: psk(raw), createdAt };
      cache.set(entry);
      const back = cache.get(entry.sessionId, createdAt);
      assert.ok(back !== undefined);
      assert.deepEqual(Buffer.from(back.masterSecret), Buffer.from(entry.masterSecret));
      assert.deepEqual(Buffer.from(back.sessionId), Buffer.from(entry.sessionId));
      assert.equal(back.cipherSuite, 0xc0a8);
      assert.equal(back.createdAt, createdAt);
      assert.equal(back.identity.type, 'psk');
      assert.deepEqual(Buffer.from((back.identity as { raw: Uint8Array }).raw), Buffer.from(raw));
      assert.equal((back.identity as { identity: string }).identity, new TextDecoder().decode(raw));
    }
  });

  it('keeps sessions that do not pack (long identity, other credentials, odd times) as objects', () => {
    const cache = new SessionCache();
    const rpk: CachedSession = { sessionId: randomBytes(32), masterSecret: randomBytes(48), cipherSuite: 0xc0ae, identity: { type: 'rpk', publicKey: randomBytes(91) }, createdAt: Date.now() };
    const long: CachedSession = { sessionId: randomBytes(32), masterSecret: randomBytes(48), cipherSuite: 0xc0a8, identity: psk(randomBytes(2000)), createdAt: Date.now() + 0.5 };
    cache.set(rpk);
    cache.set(long);
    assert.equal(cache.get(rpk.sessionId)!.identity, rpk.identity);
    assert.deepEqual(Buffer.from(cache.get(long.sessionId)!.masterSecret), Buffer.from(long.masterSecret));
    assert.deepEqual(Buffer.from((cache.get(long.sessionId)!.identity as { raw: Uint8Array }).raw), Buffer.from((long.identity as { raw: Uint8Array }).raw));
  });

  it('expires entries after the lifetime and evicts the oldest beyond maxEntries', () => {
    const cache = new SessionCache({ maxEntries: 2, lifetimeMs: 1000 });
    const mk = (t: number): CachedSession => ({ sessionId: randomBytes(32), masterSecret: randomBytes(48), cipherSuite: 0xc0a8, identity: psk(Uint8Array.of(1, 2)), createdAt: t });
    const a = mk(10_000);
    const b = mk(10_000);
    const c = mk(10_000);
    cache.set(a);
    cache.set(b);
    cache.set(c);
    assert.equal(cache.size, 2);
    assert.equal(cache.get(a.sessionId, 10_500), undefined, 'the oldest was evicted');
    assert.ok(cache.get(b.sessionId, 10_999) !== undefined);
    assert.equal(cache.get(b.sessionId, 11_000), undefined, 'expired at the lifetime');
    assert.equal(cache.size, 1);
  });
});
