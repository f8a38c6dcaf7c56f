/** The delta cache: built in the background per (from, to) pair, served once ready, full image before. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { openSoftwareKeyStore } from '../../../src/crypto/keystore/software.js';
import { applyDeltaToBuffer } from '../../../src/fota/delta/index.js';
import { createDeltaCache, createFirmwareService } from '../../../src/fota/firmware/index.js';
import { checkBaseImage, checkImage, verifyManifest } from '../../../src/fota/suit/index.js';
import { openSqliteStore } from '../../../src/store/sqlite/store.js';

async function setup(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-fw-cache-'));
  const store = await openSqliteStore({ file: join(dir, 'db.sqlite') });
  const keyStore = await openSoftwareKeyStore({ directory: join(dir, 'keys'), masterKey: randomBytes(32) });
  t.after(async () => {
    await store.close();
    await keyStore.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const service = await createFirmwareService({ store, keyStore, blobDirectory: join(dir, 'firmware') });
  const v1 = new Uint8Array(randomBytes(12_000));
  const v2 = new Uint8Array(v1);
  for (let i = 50; i < v2.length; i += 1500) v2[i]! ^= 0x5a;
  const a = await service.addImage({ bytes: v1, vendor: 'example.com', model: 'TH-1', version: '1.0.0' });
  const b = await service.addImage({ bytes: v2, vendor: 'example.com', model: 'TH-1', version: '2.0.0' });
  return { dir, service, cache: createDeltaCache(service), v1, v2, a, b };
}

describe('delta cache', () => {
  it('serves full until the delta is built, then the cached delta package', async (t) => {
    const { service, cache, v1, a, b } = await setup(t);
    assert.equal(await cache.get(b.id, '1.0.0'), undefined);
    assert.equal(await cache.packageKindFor(b.id, null), 'full');
    assert.equal(await cache.packageKindFor(b.id, '0.9.0'), 'full');
    await cache.prepare(b.id, ['1.0.0', '1.0.0', '0.9.0', '2.0.0']);
    assert.equal(await cache.packageKindFor(b.id, '1.0.0'), 'delta');
    const pkg = await cache.get(b.id, '1.0.0');
    assert.ok(pkg !== undefined);
    assert.equal(pkg.from.id, a.id);
    const view = await verifyManifest(pkg.manifest, { trustedKeys: [service.signingPublicKey], minSequence: a.sequence });
    checkBaseImage(view, v1);
    checkImage(view, await applyDeltaToBuffer(v1, pkg.delta));
    assert.deepEqual(await cache.describe(b.id), { id: b.id, version: '2.0.0', model: 'TH-1' });
    assert.equal(await cache.describe('missing'), undefined);
    // Deleting the base image drops the cached deltas made from it.
    await service.deleteImage(a.id);
    assert.deepEqual(readdirSync(join(service.blobs.directory, 'deltas')), []);
  });

  it('packageKindFor starts a background build; a damaged entry is dropped, not served', async (t) => {
    const { service, cache, b } = await setup(t);
    assert.equal(await cache.packageKindFor(b.id, '1.0.0'), 'full');
    // The build started above; prepare joins it rather than starting a second one.
    await cache.prepare(b.id, ['1.0.0']);
    assert.equal(await cache.packageKindFor(b.id, '1.0.0'), 'delta');
    const deltas = join(service.blobs.directory, 'deltas');
    const file = readdirSync(deltas).find((f) => f.endsWith('.rldt'))!;
    writeFileSync(join(deltas, file), new Uint8Array(100));
    assert.equal(await cache.get(b.id, '1.0.0'), undefined);
    assert.deepEqual(readdirSync(deltas), []);
    await assert.rejects(cache.prepare(b.id, 'x' as never), { code: 'ERR_INVALID_ARGUMENT' });
  });
});
