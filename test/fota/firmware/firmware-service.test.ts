/**
 * The firmware repository service on SQLite with a software KeyStore: add (bytes and stream),
 * signed manifests that devices verify, monotonic sequence numbers, conflicts, downloads,
 * deletion guarded by isReferenced, audit records, delta and encrypted packages.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { openSoftwareKeyStore } from '../../../src/crypto/keystore/software.js';
import type { KeyStore } from '../../../src/crypto/keystore/types.js';
import { applyDeltaToBuffer } from '../../../src/fota/delta/index.js';
import {
  buildDeltaManifest,
  buildEncryptedPackage,
  createDeltaPackage,
  createFirmwareService,
  type FirmwareService,
  type FirmwareServiceOptions,
} from '../../../src/fota/firmware/index.js';
import { checkBaseImage, checkImage, classIdFor, decryptPayload, vendorIdFor, verifyManifest } from '../../../src/fota/suit/index.js';
import { openSqliteStore } from '../../../src/store/sqlite/store.js';
import type { Store } from '../../../src/store/types.js';

interface Fixture {
  dir: string;
  store: Store;
  keyStore: KeyStore;
  service: FirmwareService;
}

async function setup(t: TestContext, extra: Partial<FirmwareServiceOptions> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-fw-'));
  const store = await openSqliteStore({ file: join(dir, 'db.sqlite') });
  const keyStore = await openSoftwareKeyStore({ directory: join(dir, 'keys'), masterKey: randomBytes(32) });
  t.after(async () => {
    await store.close();
    await keyStore.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const service = await createFirmwareService({ store, keyStore, blobDirectory: join(dir, 'firmware'), ...extra });
  return { dir, store, keyStore, service };
}

/** A firmware-like image: mostly the base with scattered edits, so deltas are meaningful. */
function images(): { v1: Uint8Array; v2: Uint8Array } {
  const v1 = new Uint8Array(randomBytes(20_000));
  const v2 = new Uint8Array(v1);
  for (let i = 100; i < v2.length; i += 997) v2[i] = (v2[i]! + 1) & 0xff;
  return { v1, v2 };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const VENDOR = 'example.com';
const vendorId = vendorIdFor(VENDOR);

describe('firmware repository service', () => {
  it('adds an image: blob on disk by digest, row, and a signed SUIT manifest a device accepts', async (t) => {
    const { service, store, dir } = await setup(t);
    const { v1 } = images();
    const rec = await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-1', version: '1.0.0', attributes: { notes: 'first' }, actor: 'operator:ann' });
    assert.equal(rec.sequence, 1);
    assert.equal(rec.size, v1.length);
    assert.equal(rec.sha256, sha(v1));
    assert.ok(existsSync(join(dir, 'firmware', 'sha256', rec.sha256.slice(0, 2), rec.sha256)));
    assert.deepEqual(readdirSync(join(dir, 'firmware', 'tmp')), []);
    const view = await verifyManifest(rec.manifest, { trustedKeys: [service.signingPublicKey], vendorId, classId: classIdFor(vendorId, 'TH-1'), minSequence: 0 });
    assert.equal(view.sequenceNumber, 1);
    assert.equal(view.version, '1.0.0');
    assert.deepEqual(view.signature.kid, service.signingKeyId);
    checkImage(view, v1);
    assert.deepEqual(await store.firmware.get(rec.id), rec);
    const audit = await store.audit.list({ action: 'firmware.add' });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor, 'operator:ann');
    assert.equal(audit[0]!.details.sha256, rec.sha256);
    // Key material never reaches the audit log: only label, type and key id.
    const keyAudit = await store.audit.list({ action: 'firmware.signing-key.create' });
    assert.equal(keyAudit.length, 1);
    assert.deepEqual(Object.keys(keyAudit[0]!.details).sort(), ['backend', 'type']);
  });

  it('streams an upload, numbers images per model in order, and never reuses a number', async (t) => {
    const { service } = await setup(t);
    const { v1, v2 } = images();
    const a = await service.addImage({ stream: Readable.from([v1.subarray(0, 5000), v1.subarray(5000)]), vendor: VENDOR, model: 'TH-1', version: '1.0.0' });
    const b = await service.addImage({ bytes: v2, vendor: VENDOR, model: 'TH-1', version: '1.1.0' });
    const other = await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-2', version: '0.1.0' });
    assert.deepEqual([a.sequence, b.sequence, other.sequence], [1, 2, 1]);
    assert.equal(a.sha256, sha(v1));
    await service.deleteImage(b.id);
    const c = await service.addImage({ bytes: v2, vendor: VENDOR, model: 'TH-1', version: '1.2.0' });
    assert.equal(c.sequence, 3);
    assert.deepEqual((await service.list({ model: 'TH-1' })).map((r) => r.version), ['1.0.0', '1.2.0']);
  });

  it('refuses a duplicate version, an older version, a bad semver and an oversize image (typed, audited)', async (t) => {
    const { service, store, dir } = await setup(t, { maxImageSize: 25_000 });
    const { v1, v2 } = images();
    await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-1', version: '1.1.0' });
    await assert.rejects(service.addImage({ bytes: v2, vendor: VENDOR, model: 'TH-1', version: '1.1.0' }), { code: 'ERR_FIRMWARE_VERSION_EXISTS' });
    await assert.rejects(service.addImage({ bytes: v2, vendor: VENDOR, model: 'TH-1', version: '1.0.9' }), { code: 'ERR_FIRMWARE_VERSION_NOT_NEWER' });
    await assert.rejects(service.addImage({ bytes: v2, vendor: VENDOR, model: 'TH-1', version: '1.2' }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(service.addImage({ bytes: v2, vendor: 'not a domain', model: 'TH-1', version: '1.2.0' }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(service.addImage({ bytes: v2, stream: Readable.from([v2]), vendor: VENDOR, model: 'TH-1', version: '1.2.0' }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(service.addImage({ bytes: new Uint8Array(25_001), vendor: VENDOR, model: 'TH-1', version: '2.0.0' }), { code: 'ERR_FIRMWARE_TOO_LARGE' });
    assert.deepEqual(readdirSync(join(dir, 'firmware', 'tmp')), []);
    const denied = (await store.audit.list({ action: 'firmware.add' })).filter((r) => r.outcome === 'deny').map((r) => r.details.reason);
    assert.deepEqual(denied, ['ERR_FIRMWARE_VERSION_EXISTS', 'ERR_FIRMWARE_VERSION_NOT_NEWER']);
    assert.equal((await service.list()).length, 1);
  });

  it('concurrent adds of one version: exactly one wins; a failing upload stream leaves no blob behind', async (t) => {
    const { service, dir } = await setup(t);
    const { v1, v2 } = images();
    const results = await Promise.allSettled([
      service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-1', version: '1.0.0' }),
      service.addImage({ bytes: v2, vendor: VENDOR, model: 'TH-1', version: '1.0.0' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = results.find((r) => r.status === 'rejected');
    assert.equal((lost as PromiseRejectedResult).reason.code, 'ERR_FIRMWARE_VERSION_EXISTS');
    const [kept] = await service.list();
    assert.ok(await service.blobs.exists(kept!.sha256));
    assert.equal(await service.blobs.exists(kept!.sha256 === sha(v1) ? sha(v2) : sha(v1)), false);

    async function* broken(): AsyncGenerator<Uint8Array> {
      yield v2.subarray(0, 1000);
      throw new Error('connection reset');
    }
    await assert.rejects(service.addImage({ stream: broken(), vendor: VENDOR, model: 'TH-1', version: '2.0.0' }), /connection reset/);
    assert.deepEqual(readdirSync(join(dir, 'firmware', 'tmp')), []);
    assert.equal((await service.list()).length, 1);
  });

  it('downloads stream the image; a blob damaged on disk fails the download with ERR_FIRMWARE_BLOB_CORRUPT', async (t) => {
    const { service } = await setup(t);
    const { v1 } = images();
    const rec = await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-1', version: '1.0.0' });
    const { stream } = await service.openDownload(rec.id);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    assert.equal(sha(Buffer.concat(chunks)), rec.sha256);
    assert.deepEqual(await service.readImage(rec.id), v1);

    const damaged = new Uint8Array(v1);
    damaged[7]! ^= 1;
    writeFileSync(service.blobs.pathOf(rec.sha256), damaged);
    const bad = await service.openDownload(rec.id);
    await assert.rejects(
      (async () => {
        for await (const _ of bad.stream) void _;
      })(),
      { code: 'ERR_FIRMWARE_BLOB_CORRUPT' },
    );
    await assert.rejects(service.readImage(rec.id), { code: 'ERR_FIRMWARE_BLOB_CORRUPT' });
    rmSync(service.blobs.pathOf(rec.sha256));
    await assert.rejects(service.openDownload(rec.id), { code: 'ERR_FIRMWARE_BLOB_MISSING' });
    await assert.rejects(service.get('no-such-id'), { code: 'ERR_FIRMWARE_NOT_FOUND' });
  });

  it('delete: refused while referenced (audited deny), then removes row and unshared blob', async (t) => {
    const referenced = new Set<string>();
    const { service, store } = await setup(t, { isReferenced: (image) => referenced.has(image.id) });
    const { v1 } = images();
    const a = await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-1', version: '1.0.0' });
    const same = await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-2', version: '1.0.0' });
    referenced.add(a.id);
    await assert.rejects(service.deleteImage(a.id, { actor: 'operator:bob' }), { code: 'ERR_FIRMWARE_IN_USE' });
    assert.ok(await service.get(a.id));
    referenced.clear();
    await service.deleteImage(a.id, { actor: 'operator:bob' });
    await assert.rejects(service.get(a.id), { code: 'ERR_FIRMWARE_NOT_FOUND' });
    // The same bytes are still registered for TH-2: the blob stays until its last user goes.
    assert.ok(await service.blobs.exists(a.sha256));
    await service.deleteImage(same.id);
    assert.equal(await service.blobs.exists(a.sha256), false);
    const deletes = (await store.audit.list({ action: 'firmware.delete' })).map((r) => [r.actor, r.outcome]);
    assert.deepEqual(deletes, [['operator:bob', 'deny'], ['operator:bob', 'success'], ['system', 'success']]);
    assert.equal((await store.audit.verify()).ok, true);
  });

  it('reuses an existing signing key by label, and creates an Ed25519 one when asked', async (t) => {
    const { store, keyStore, service, dir } = await setup(t);
    const again = await createFirmwareService({ store, keyStore, blobDirectory: join(dir, 'firmware') });
    assert.deepEqual(again.signingPublicKey, service.signingPublicKey);
    const ed = await createFirmwareService({ store, keyStore, blobDirectory: join(dir, 'firmware'), signingKeyLabel: 'fw-ed', signingKeyType: 'ed25519' });
    assert.equal(ed.signer.algorithm, 'EdDSA');
    assert.equal((await keyStore.getKeyInfo('fw-ed')).type, 'ed25519');
  });

  it('delta packages: the manifest names target and base; the delta turns v1 into v2; wrong pairs are refused', async (t) => {
    const { service } = await setup(t);
    const { v1, v2 } = images();
    const a = await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-1', version: '1.0.0' });
    const b = await service.addImage({ bytes: v2, vendor: VENDOR, model: 'TH-1', version: '1.1.0' });
    const pkg = await createDeltaPackage(service, a.id, b.id);
    assert.ok(pkg.delta.length < v2.length / 4);
    const view = await verifyManifest(pkg.manifest, { trustedKeys: [service.signingPublicKey], vendorId, classId: classIdFor(vendorId, 'TH-1'), minSequence: a.sequence });
    assert.equal(view.sequenceNumber, b.sequence);
    assert.equal(view.version, '1.1.0');
    checkBaseImage(view, v1);
    assert.throws(() => checkBaseImage(view, v2), { code: 'ERR_SUIT_WRONG_BASE' });
    const applied = await applyDeltaToBuffer(v1, pkg.delta);
    checkImage(view, applied);
    // A delta for the opposite direction cannot be packaged as a -> b.
    const reverse = await createDeltaPackage(service, b.id, a.id);
    await assert.rejects(buildDeltaManifest(a, b, reverse.delta, service.signer), { code: 'ERR_FIRMWARE_DELTA_MISMATCH' });
    const other = await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-9', version: '1.0.0' });
    await assert.rejects(createDeltaPackage(service, other.id, b.id), { code: 'ERR_FIRMWARE_MODEL_MISMATCH' });
  });

  it('encrypted packages for a class (AES-CCM and LEA-CCM) decrypt to the image the manifest names', async (t) => {
    const { service } = await setup(t);
    const { v1 } = images();
    const rec = await service.addImage({ bytes: v1, vendor: VENDOR, model: 'TH-1', version: '1.0.0' });
    for (const algorithm of ['AES-CCM-128', 'LEA-CCM-256'] as const) {
      const key = new Uint8Array(randomBytes(algorithm.endsWith('256') ? 32 : 16));
      const pkg = await buildEncryptedPackage(service, rec.id, { key, algorithm });
      const view = await verifyManifest(pkg.manifest, { trustedKeys: [service.signingPublicKey], minSequence: 0 });
      assert.ok(view.encryptionInfo !== undefined);
      checkImage(view, await decryptPayload(view.encryptionInfo, pkg.ciphertext, key));
    }
  });
});
