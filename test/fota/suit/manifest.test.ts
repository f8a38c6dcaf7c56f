/** rootline's own manifests: build, sign, verify, and the device-side image checks. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CborTag, decodeCbor, encodeCbor } from '../../../src/cose/cbor.js';
import {
  checkBaseImage,
  checkImage,
  classIdFor,
  createImageVerifier,
  decodeEnvelope,
  decodeManifest,
  decryptPayload,
  encodeEnvelope,
  encodeManifest,
  encryptPayload,
  keyIdOf,
  signManifest,
  vendorIdFor,
  verifyManifest,
  type ManifestInput,
} from '../../../src/fota/suit/index.js';
import { ed25519Key, hasCode, p256Key, toHex } from './helpers.js';

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const vendorId = vendorIdFor('example.com');
const classId = classIdFor(vendorId, 'TH-1');
const image = new Uint8Array(randomBytes(3000));

function input(overrides: Partial<ManifestInput> = {}): ManifestInput {
  return {
    sequenceNumber: 7,
    vendorId,
    classId,
    imageDigest: sha256(image),
    imageSize: image.length,
    uri: 'coaps://fw.example.com/fw/1',
    text: { vendorName: 'example.com', modelName: 'TH-1', version: '1.2.3' },
    ...overrides,
  };
}

describe('SUIT manifests made by rootline', () => {
  it('round-trip: the verified view holds what was put in (ES256 and EdDSA)', async () => {
    for (const key of [p256Key(), ed25519Key()]) {
      const envelope = await signManifest(encodeManifest(input()), key.signer);
      const view = await verifyManifest(envelope, { trustedKeys: [key.publicKey], vendorId, classId, minSequence: 6 });
      assert.equal(view.sequenceNumber, 7);
      assert.deepEqual(view.vendorId, vendorId);
      assert.deepEqual(view.classId, classId);
      assert.deepEqual(view.image.digest?.bytes, sha256(image));
      assert.equal(view.image.size, image.length);
      assert.equal(view.uri, 'coaps://fw.example.com/fw/1');
      assert.equal(view.version, '1.2.3');
      assert.equal(view.signature.alg, key.signer.algorithm === 'ES256' ? -7 : -8);
      assert.deepEqual(view.signature.kid, keyIdOf(key.signer.publicKey));
      assert.equal(view.delta, undefined);
      checkImage(view, image);
    }
  });

  it('encoding is deterministic and the decoder reads back the same manifest', () => {
    const a = encodeManifest(input());
    assert.deepEqual(encodeManifest(input()), a);
    const m = decodeManifest(a);
    assert.equal(m.sequenceNumber, 7);
    assert.equal(m.install?.severed, false);
    assert.deepEqual(m.components, [[Uint8Array.of(0)]]);
  });

  it('a manifest signed by another key: ERR_SUIT_UNKNOWN_KEY; a forged one under a trusted kid: ERR_SUIT_BAD_SIGNATURE', async () => {
    const trusted = p256Key();
    const attacker = p256Key();
    const forged = await signManifest(encodeManifest(input()), attacker.signer);
    await assert.rejects(verifyManifest(forged, { trustedKeys: [trusted.publicKey] }), hasCode('ERR_SUIT_UNKNOWN_KEY'));
    // The attacker claims the trusted key's kid: the named key does not verify.
    const claimed = await signManifest(encodeManifest(input()), attacker.signer, { kid: keyIdOf(trusted.signer.publicKey) });
    await assert.rejects(
      verifyManifest(claimed, { trustedKeys: [{ key: trusted.publicKey, kid: keyIdOf(trusted.signer.publicKey) }] }),
      hasCode('ERR_SUIT_BAD_SIGNATURE'),
    );
    // An Ed25519 signature when only P-256 keys are trusted: nobody to ask.
    const ed = ed25519Key();
    await assert.rejects(verifyManifest(await signManifest(encodeManifest(input()), ed.signer), { trustedKeys: [trusted.publicKey] }), hasCode('ERR_SUIT_UNKNOWN_KEY'));
  });

  it('a manifest swapped under a valid wrapper: ERR_SUIT_BAD_SIGNATURE', async () => {
    const key = p256Key();
    const good = decodeEnvelope(await signManifest(encodeManifest(input()), key.signer));
    const evil = encodeManifest(input({ sequenceNumber: 99 }));
    const spliced = encodeEnvelope(evil, good.authentication.digestBytes, good.authentication.blocks);
    await assert.rejects(verifyManifest(spliced, { trustedKeys: [key.publicKey] }), hasCode('ERR_SUIT_BAD_SIGNATURE'));
    const unsigned = encodeEnvelope(encodeManifest(input()), good.authentication.digestBytes, []);
    await assert.rejects(verifyManifest(unsigned, { trustedKeys: [key.publicKey] }), hasCode('ERR_SUIT_UNKNOWN_KEY'));
  });

  it('anti-rollback: equal or lower sequence numbers are refused', async () => {
    const key = p256Key();
    const envelope = await signManifest(encodeManifest(input({ sequenceNumber: 5 })), key.signer);
    for (const minSequence of [5, 6, 1000]) {
      await assert.rejects(verifyManifest(envelope, { trustedKeys: [key.publicKey], minSequence }), (err: unknown) => {
        hasCode('ERR_SUIT_ROLLBACK')(err);
        assert.equal((err as { sequenceNumber: number }).sequenceNumber, 5);
        return true;
      });
    }
    assert.equal((await verifyManifest(envelope, { trustedKeys: [key.publicKey], minSequence: 4 })).sequenceNumber, 5);
  });

  it('wrong vendor or class: ERR_SUIT_WRONG_CLASS; UUID text accepted', async () => {
    const key = p256Key();
    const envelope = await signManifest(encodeManifest(input()), key.signer);
    await assert.rejects(verifyManifest(envelope, { trustedKeys: [key.publicKey], classId: classIdFor(vendorId, 'TH-2') }), hasCode('ERR_SUIT_WRONG_CLASS'));
    await assert.rejects(verifyManifest(envelope, { trustedKeys: [key.publicKey], vendorId: vendorIdFor('other.example') }), hasCode('ERR_SUIT_WRONG_CLASS'));
    const text = Buffer.from(classId).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    await verifyManifest(envelope, { trustedKeys: [key.publicKey], classId: text });
  });

  it('a manifest that never checks the class is refused when the device asks for it', async () => {
    const key = p256Key();
    const manifest = encodeCbor(
      new Map<number, unknown>([
        [1, 1],
        [2, 1],
        [3, encodeCbor(new Map<number, unknown>([[2, [[Uint8Array.of(0)]]], [4, encodeCbor([20, new Map([[1, vendorId]]), 1, 15])]]))],
      ]),
    );
    const envelope = await signManifest(manifest, key.signer);
    await verifyManifest(envelope, { trustedKeys: [key.publicKey], vendorId });
    await assert.rejects(verifyManifest(envelope, { trustedKeys: [key.publicKey], classId }), hasCode('ERR_SUIT_WRONG_CLASS'));
  });

  it('tampered, truncated and oversize images: digest and size mismatch, also when streamed', async () => {
    const key = p256Key();
    const view = await verifyManifest(await signManifest(encodeManifest(input()), key.signer), { trustedKeys: [key.publicKey] });
    const tampered = new Uint8Array(image);
    tampered[1234]! ^= 0x80;
    assert.throws(() => checkImage(view, tampered), hasCode('ERR_SUIT_DIGEST_MISMATCH'));
    assert.throws(() => checkImage(view, image.subarray(0, image.length - 1)), hasCode('ERR_SUIT_SIZE_MISMATCH'));
    assert.throws(() => checkImage(view, new Uint8Array([...image, 0])), hasCode('ERR_SUIT_SIZE_MISMATCH'));

    const streamed = createImageVerifier(view);
    for (let i = 0; i < image.length; i += 700) streamed.update(image.subarray(i, i + 700));
    streamed.finish();
    const bad = createImageVerifier(view);
    bad.update(tampered);
    assert.throws(() => bad.finish(), hasCode('ERR_SUIT_DIGEST_MISMATCH'));
    const long = createImageVerifier(view);
    long.update(image);
    assert.throws(() => long.update(Uint8Array.of(1)), hasCode('ERR_SUIT_SIZE_MISMATCH'));
  });

  it('delta manifests carry the base image (custom parameters -24/-25/-26, condition -24)', async () => {
    const key = p256Key();
    const base = new Uint8Array(randomBytes(2000));
    const envelope = await signManifest(encodeManifest(input({ delta: { baseImageDigest: sha256(base), baseImageSize: base.length } })), key.signer);
    const view = await verifyManifest(envelope, { trustedKeys: [key.publicKey], vendorId, classId });
    assert.deepEqual(view.delta?.baseDigest.bytes, sha256(base));
    assert.equal(view.delta?.baseSize, base.length);
    assert.equal(view.delta?.format, 1);
    checkBaseImage(view, base);
    assert.throws(() => checkBaseImage(view, image), hasCode('ERR_SUIT_WRONG_BASE'));
    const m = decodeManifest(view.manifestBytes);
    const overrides = m.sharedSequence[0];
    assert.ok(overrides?.kind === 'parameters');
    assert.deepEqual([...overrides.parameters.raw.keys()].filter((k) => k < 0).sort((a, b) => a - b), [-26, -25, -24]);
    assert.ok(m.sharedSequence.some((c) => c.code === -24));
  });

  it('encrypted payloads (AES-CCM and LEA-CCM, class key): the manifest carries the Encrypt0, a wrong key fails', async () => {
    const key = p256Key();
    for (const algorithm of ['AES-CCM-128', 'AES-CCM-256', 'LEA-CCM-128', 'LEA-CCM-256'] as const) {
      const classKey = new Uint8Array(randomBytes(algorithm.endsWith('256') ? 32 : 16));
      const { ciphertext, encryptionInfo } = await encryptPayload({ plaintext: image, key: classKey, algorithm, kid: classId });
      assert.notDeepEqual(ciphertext.subarray(0, 64), image.subarray(0, 64));
      const view = await verifyManifest(await signManifest(encodeManifest(input({ encryptionInfo })), key.signer), { trustedKeys: [key.publicKey] });
      assert.deepEqual(view.encryptionInfo, encryptionInfo);
      const plain = await decryptPayload(view.encryptionInfo!, ciphertext, classKey);
      checkImage(view, plain);
      const wrong = new Uint8Array(classKey);
      wrong[0]! ^= 1;
      await assert.rejects(decryptPayload(encryptionInfo, ciphertext, wrong), hasCode('ERR_SUIT_DECRYPTION_FAILED'));
      const flipped = new Uint8Array(ciphertext);
      flipped[10]! ^= 1;
      await assert.rejects(decryptPayload(encryptionInfo, flipped, classKey), hasCode('ERR_SUIT_DECRYPTION_FAILED'));
    }
  });

  it('severed members must match their digest', async () => {
    const key = p256Key();
    const installBytes = encodeCbor([21, 15, 3, 15]);
    const wrapped = new Uint8Array(createHash('sha256').update(encodeCbor(installBytes)).digest());
    const manifest = decodeCbor(encodeManifest(input())) as Map<unknown, unknown>;
    manifest.set(20, [-16, wrapped]);
    const manifestBytes = encodeCbor(manifest);
    const signed = decodeEnvelope(await signManifest(manifestBytes, key.signer));
    const withMember = (member: Uint8Array): Uint8Array =>
      encodeCbor(new CborTag(107, new Map<number, unknown>([[2, encodeCbor([signed.authentication.digestBytes, ...signed.authentication.blocks])], [3, manifestBytes], [20, member]])));
    const ok = await verifyManifest(withMember(installBytes), { trustedKeys: [key.publicKey] });
    assert.equal(ok.manifest.install?.severed, true);
    await assert.rejects(verifyManifest(withMember(encodeCbor([21, 15])), { trustedKeys: [key.publicKey] }), hasCode('ERR_SUIT_BAD_SIGNATURE'));
  });

  it('validates arguments', async () => {
    assert.throws(() => encodeManifest(input({ imageDigest: new Uint8Array(31) })), hasCode('ERR_INVALID_ARGUMENT'));
    assert.throws(() => encodeManifest(input({ sequenceNumber: -1 })), hasCode('ERR_INVALID_ARGUMENT'));
    await assert.rejects(verifyManifest(new Uint8Array(4), { trustedKeys: [] }), hasCode('ERR_INVALID_ARGUMENT'));
    const key = p256Key();
    await assert.rejects(verifyManifest(new Uint8Array(4), { trustedKeys: [key.publicKey], minSequence: -1 }), hasCode('ERR_INVALID_ARGUMENT'));
    assert.equal(toHex(keyIdOf(key.signer.publicKey)).length, 64);
  });
});
