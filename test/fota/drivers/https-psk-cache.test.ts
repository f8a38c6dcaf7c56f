/** The HTTPS listener's PSK cache: keys only while an attempt is open, expiring, revocable, bounded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpsPskCache } from '../../../src/fota/drivers/index.js';

test('psk cache: grant, lookup, expiry, revoke, a device without a PSK, the size bound', async () => {
  let now = 1_000;
  const creds = new Map<string, Array<{ identity: string; key: Uint8Array }>>([
    ['dev-a', [{ identity: 'a-id', key: new Uint8Array([1, 2, 3]) }, { identity: 'a-id2', key: new Uint8Array([4]) }]],
    ['dev-b', [{ identity: 'b-id', key: new Uint8Array([9]) }]],
    ['dev-cert', []],
  ]);
  const cache = new HttpsPskCache({ loadPsks: async (ep) => creds.get(ep) ?? [], now: () => now, maxEntries: 3 });
  assert.equal(cache.lookup('a-id'), undefined, 'nothing before a grant');
  await cache.grant('dev-a', 5_000);
  assert.deepEqual(cache.lookup('a-id'), new Uint8Array([1, 2, 3]));
  assert.deepEqual(cache.lookup('a-id2'), new Uint8Array([4]));
  assert.equal(cache.size, 2);
  await assert.rejects(cache.grant('dev-cert', 5_000), { code: 'ERR_FOTA_HTTPS_NO_PSK' });
  await cache.grant('dev-b', 2_000);
  await assert.rejects(cache.grant('dev-extra', 9_000).catch((e: unknown) => Promise.reject(e)), { code: 'ERR_FOTA_HTTPS_NO_PSK' });
  creds.set('dev-c', [{ identity: 'c-id', key: new Uint8Array([7]) }]);
  await assert.rejects(cache.grant('dev-c', 9_000), { code: 'ERR_FOTA_HTTPS_CACHE_FULL' });
  now = 2_000;
  assert.equal(cache.lookup('b-id'), undefined, 'expired');
  await cache.grant('dev-c', 9_000);
  assert.deepEqual(cache.lookup('c-id'), new Uint8Array([7]));
  // The cache holds its own copy and wipes it on revoke.
  const held = cache.lookup('a-id')!;
  cache.revoke('dev-a');
  assert.equal(cache.lookup('a-id'), undefined);
  assert.deepEqual(held, new Uint8Array([0, 0, 0]));
  assert.deepEqual(creds.get('dev-a')![0]!.key, new Uint8Array([1, 2, 3]));
  cache.clear();
  assert.equal(cache.size, 0);
  await assert.rejects(cache.grant('', 1), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(cache.grant('dev-a', Number.NaN), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => new HttpsPskCache({ loadPsks: 'x' as never }), { code: 'ERR_INVALID_ARGUMENT' });
});
