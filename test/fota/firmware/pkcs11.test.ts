/** The firmware service with its signing key inside a PKCS#11 token (SoftHSM2). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KeyStore } from '../../../src/crypto/keystore/types.js';
import { createFirmwareService } from '../../../src/fota/firmware/index.js';
import { checkImage, verifyManifest } from '../../../src/fota/suit/index.js';
import { openSqliteStore } from '../../../src/store/sqlite/store.js';
import type { Store } from '../../../src/store/types.js';
import { createSoftHsmToken, openTokenKeyStore, softHsmSkip, type TestToken } from '../../crypto/keystore/softhsm.js';

describe('firmware service signing in a PKCS#11 token (SoftHSM2)', { skip: softHsmSkip() }, () => {
  let token: TestToken;
  let keyStore: KeyStore;
  let store: Store;
  let dir: string;
  before(async () => {
    token = createSoftHsmToken();
    keyStore = await openTokenKeyStore(token);
    dir = mkdtempSync(join(tmpdir(), 'rootline-fw-p11-'));
    store = await openSqliteStore({ file: join(dir, 'db.sqlite') });
  });
  after(async () => {
    await store?.close();
    await keyStore?.close();
    token?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the signing key in the token and its manifests verify with the token public key', async () => {
    const service = await createFirmwareService({ store, keyStore, blobDirectory: join(dir, 'firmware'), signingKeyLabel: 'fw-token' });
    assert.equal((await keyStore.getKeyInfo('fw-token')).backend, 'pkcs11');
    const image = new Uint8Array(randomBytes(4096));
    const rec = await service.addImage({ bytes: image, vendor: 'example.com', model: 'TH-1', version: '1.0.0' });
    const view = await verifyManifest(rec.manifest, { trustedKeys: [await keyStore.getPublicKey('fw-token')], minSequence: 0 });
    checkImage(view, image);
  });
});
