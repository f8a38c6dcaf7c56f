/**
 * Registration ids come from a CSPRNG pool (registration-interface.ts) and the registry remembers
 * parsed expiry times per record (registration-registry.ts): ids stay 80 random bits, distinct,
 * URL-safe, across pool refills; isExpired follows a record whose expiresAt changes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRegistrationId } from '../../../src/lwm2m/server/registration-interface.js';
import { RegistrationRegistry } from '../../../src/lwm2m/server/registration-registry.js';
import type { RegistrationRecord, Store } from '../../../src/store/types.js';

test('registration ids: 10 random bytes as base64url, distinct across several pool refills', () => {
  const ids = Array.from({ length: 2_000 }, () => newRegistrationId());
  assert.equal(new Set(ids).size, ids.length);
  const seen = new Set<number>();
  for (const id of ids) {
    assert.match(id, /^[A-Za-z0-9_-]{14}$/);
    const bytes = Buffer.from(id, 'base64url');
    assert.equal(bytes.length, 10);
    for (const b of bytes) seen.add(b);
  }
  // 20,000 random bytes cover every byte value; a pool that was not refilled would repeat ids.
  assert.equal(seen.size, 256);
});

test('isExpired: follows expiresAt, also when a record object is given a new expiresAt', () => {
  const registry = new RegistrationRegistry({} as Store);
  const now = Date.parse('2026-01-01T00:00:00.000Z');
  const r = { expiresAt: '2026-01-01T00:05:00.000Z' } as RegistrationRecord;
  assert.equal(registry.isExpired(r, now), false);
  assert.equal(registry.isExpired(r, now + 300_000), true);
  r.expiresAt = '2025-12-31T23:59:00.000Z';
  assert.equal(registry.isExpired(r, now), true);
  r.expiresAt = '2026-01-01T01:00:00.000Z';
  assert.equal(registry.isExpired(r, now + 300_000), false);
  const graced = new RegistrationRegistry({} as Store, { lifetimeGraceMs: 10_000 });
  assert.equal(graced.isExpired({ expiresAt: '2026-01-01T00:00:05.000Z' } as RegistrationRecord, now + 10_000), false);
});
