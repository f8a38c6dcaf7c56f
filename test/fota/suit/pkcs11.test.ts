/** A manifest signed inside a PKCS#11 token (SoftHSM2) verifies with the SPKI the token reports. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyStoreSigner } from '../../../src/crypto/signer.js';
import { classIdFor, encodeManifest, signManifest, vendorIdFor, verifyManifest } from '../../../src/fota/suit/index.js';
import { softHsmSkip, useTokenKeyStore } from '../../crypto/keystore/softhsm.js';
import { hasCode, p256Key } from './helpers.js';

const skip = softHsmSkip();

describe('SUIT manifests signed with a PKCS#11 key (SoftHSM2)', { skip }, () => {
  const hsm = useTokenKeyStore();

  it('ES256 and EdDSA token keys sign manifests that verify; other keys do not', async () => {
    const vendorId = vendorIdFor('example.com');
    const classId = classIdFor(vendorId, 'TH-1');
    const image = new TextEncoder().encode('firmware image in the token test');
    const manifest = encodeManifest({
      sequenceNumber: 3,
      vendorId,
      classId,
      imageDigest: new Uint8Array(createHash('sha256').update(image).digest()),
      imageSize: image.length,
    });
    for (const [label, type] of [['fw-es256', 'ec-p256'], ['fw-eddsa', 'ed25519']] as const) {
      await hsm.store.generateKey(label, type);
      const signer = await keyStoreSigner(hsm.store, label);
      const envelope = await signManifest(manifest, signer);
      const view = await verifyManifest(envelope, { trustedKeys: [signer.publicKey], vendorId, classId, minSequence: 2 });
      assert.equal(view.sequenceNumber, 3);
      assert.equal(view.signature.alg, type === 'ec-p256' ? -7 : -8);
      await assert.rejects(verifyManifest(envelope, { trustedKeys: [p256Key().publicKey] }), hasCode('ERR_SUIT_UNKNOWN_KEY'));
    }
  });
});
