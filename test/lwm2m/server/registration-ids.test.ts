/**
 * Registration ids come from a CSPRNG pool (registration-interface.ts) and the registry's sweep
 * compares ISO expiry strings instead of parsing them (registration-registry.ts): ids stay 80
 * random bits, distinct, URL-safe, across pool refills; the sweep drops exactly the registrations
 * isExpired calls expired, at the boundary too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
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

test('sweep: the string comparison drops exactly what isExpired (Date.parse) calls expired', async () => {
  const fake = {
    appendAuditAndPutRegistrations: async (_a: unknown, rs: readonly unknown[]) => ({ audit: [], registrations: rs.map(() => ({ ok: true, replaced: undefined })) }),
    registrations: { deleteExpired: async () => [], get: async () => undefined, delete: async () => true },
  } as unknown as Store;
  const now = Date.parse('2026-06-01T12:00:00.000Z');
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.integer({ min: -5_000, max: 5_000 }), fc.constantFrom(0, -1, 1, -1000, 1000)), { minLength: 1, maxLength: 30 }),
      fc.constantFrom(0, 1, 999, 1000, 4_000),
      async (offsets, graceMs) => {
        const registry = new RegistrationRegistry(fake, { lifetimeGraceMs: graceMs });
        const records = offsets.map((off, i): RegistrationRecord => ({
          id: `r${i}`, endpoint: `ep-${i}`, lifetime: 60, lwm2mVersion: '1.1', binding: 'U', queueMode: false, smsNumber: null, objectLinks: '</3/0>',
          security: 'psk', peer: null, registeredAt: '2026-06-01T11:00:00.000Z', updatedAt: '2026-06-01T11:00:00.000Z', expiresAt: new Date(now + off).toISOString(),
        }));
        await Promise.all(records.map((r) => registry.put(r)));
        const expected = records.filter((r) => registry.isExpired(r, now)).map((r) => r.id).sort();
        const swept = (await registry.sweep(now)).map((r) => r.id).sort();
        assert.deepEqual(swept, expected);
        assert.equal(registry.cachedCount, records.length - expected.length);
      },
    ),
    { numRuns: 200 },
  );
});
