/**
 * draft-ietf-suit-manifest Appendix B: the published example envelopes decode to what their
 * diagnostic notation says and verify with the draft's example public key (ES256 and ESP256).
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeEnvelope, decodeManifest, decodeText, verifyManifest, vendorIdFor, formatUuid } from '../../../src/fota/suit/index.js';
import { ManifestKey } from '../../../src/fota/suit/labels.js';
import { hasCode, hex, p256Key, readDraftExamples, toHex } from './helpers.js';

const vectors = readDraftExamples();
const draftKey = createPublicKey(vectors.publicKeyPem);

describe('draft-ietf-suit-manifest Appendix B examples', () => {
  it('has the examples stored', () => {
    assert.ok(vectors.examples.length >= 7);
  });

  for (const example of vectors.examples) {
    describe(example.name, () => {
      const bytes = hex(example.hex);

      it('decodes to the values of its diagnostic notation', () => {
        const envelope = decodeEnvelope(bytes);
        assert.equal(envelope.tagged, true);
        assert.equal(toHex(envelope.authentication.digest.bytes), example.manifestDigest);
        assert.equal(envelope.authentication.digest.alg, -16);
        assert.equal(envelope.authentication.blocks.length, 1);
        const manifest = decodeManifest(envelope.manifestBytes);
        assert.equal(manifest.version, 1);
        assert.equal(manifest.sequenceNumber, example.sequenceNumber);
        assert.deepEqual(manifest.components.map((c) => c.map(toHex)), example.components);
        const present = { validate: manifest.validate, load: manifest.load, invoke: manifest.invoke, install: manifest.install, payloadFetch: manifest.payloadFetch };
        assert.deepEqual(Object.entries(present).filter(([, v]) => v !== undefined).map(([k]) => k).sort(), [...example.members].sort());
        assert.equal(manifest.referenceUri, example.referenceUri);
        const severed = Object.entries({ install: manifest.install, text: manifest.text }).filter(([, m]) => m?.severed === true);
        assert.deepEqual(severed.map(([k]) => k), example.severed ?? []);
        for (const [name, member] of severed) {
          assert.ok(member?.severed === true);
          assert.equal(toHex(member.digest.bytes), example.severedDigests?.[name]);
        }
        if (example.text !== undefined) {
          const text = decodeText(envelope.severed.get(ManifestKey.text)!);
          assert.equal(text[0]?.language, example.text.language);
          assert.equal(text[0]?.components[0]?.text.get(3), example.text.vendorDomain);
        }
        if (example.tryEachBranches !== undefined) {
          const tryEach = manifest.sharedSequence.find((c) => c.kind === 'try-each');
          assert.ok(tryEach !== undefined && tryEach.kind === 'try-each');
          assert.equal(tryEach.sequences.length, example.tryEachBranches);
        }
      });

      it('the authenticated digest is SHA-256 of the bstr-wrapped manifest', () => {
        const envelope = decodeEnvelope(bytes);
        const wrapped = Buffer.concat([Buffer.from(encodeBstrHeader(envelope.manifestBytes.length)), envelope.manifestBytes]);
        assert.equal(createHash('sha256').update(wrapped).digest('hex'), example.manifestDigest);
      });

      it('verifies with the draft public key and yields the typed view', async () => {
        const view = await verifyManifest(bytes, { trustedKeys: [draftKey], vendorId: hex(example.vendorId), classId: hex(example.classId) });
        assert.equal(view.signature.alg, example.alg);
        assert.equal(view.sequenceNumber, example.sequenceNumber);
        assert.equal(toHex(view.manifestDigest), example.manifestDigest);
        assert.equal(toHex(view.vendorId!), example.vendorId);
        assert.equal(toHex(view.classId!), example.classId);
        assert.equal(view.image.digest === undefined ? null : toHex(view.image.digest.bytes), example.imageDigest);
        assert.equal(view.image.size ?? null, example.imageSize);
        assert.equal(view.uri ?? null, example.uri);
        assert.equal(view.delta, undefined);
      });

      if (example.severed !== undefined) {
        it('severed members are checked against their digests; a changed one is refused', async () => {
          const envelope = decodeEnvelope(bytes);
          const at = Buffer.from(bytes).lastIndexOf(Buffer.from(envelope.severed.get(ManifestKey.install)!));
          const tampered = new Uint8Array(bytes);
          tampered[at + 10]! ^= 0x01;
          await assert.rejects(verifyManifest(tampered, { trustedKeys: [draftKey] }), hasCode('ERR_SUIT_BAD_SIGNATURE'));
        });
      }

      it('is refused under another key, for another class, and as a rollback', async () => {
        await assert.rejects(verifyManifest(bytes, { trustedKeys: [p256Key().publicKey] }), hasCode('ERR_SUIT_UNKNOWN_KEY'));
        const otherClass = hex('00'.repeat(16));
        await assert.rejects(verifyManifest(bytes, { trustedKeys: [draftKey], classId: otherClass }), hasCode('ERR_SUIT_WRONG_CLASS'));
        await assert.rejects(verifyManifest(bytes, { trustedKeys: [draftKey], minSequence: example.sequenceNumber }), hasCode('ERR_SUIT_ROLLBACK'));
      });

      it('every single-byte change of the signature or manifest is refused', async () => {
        const envelope = decodeEnvelope(bytes);
        const manifestAt = Buffer.from(bytes).indexOf(Buffer.from(envelope.manifestBytes));
        // One position in the signature (last 64 bytes of the wrapper) and every 7th manifest byte.
        const wrapperEnd = manifestAt - encodeBstrHeader(envelope.manifestBytes.length).length - 1;
        const positions = [wrapperEnd - 1, wrapperEnd - 40];
        for (let i = manifestAt; i < manifestAt + envelope.manifestBytes.length; i += 7) positions.push(i);
        for (const pos of positions) {
          const tampered = new Uint8Array(bytes);
          tampered[pos]! ^= 0x01;
          await assert.rejects(verifyManifest(tampered, { trustedKeys: [draftKey] }), (err: unknown) => {
            const code = (err as { code?: string }).code ?? '';
            assert.match(code, /^ERR_SUIT_/, `position ${pos}: ${String(err)}`);
            return true;
          });
        }
      });
    });
  }

  it('the vendor ID of the examples is UUID5(DNS, "arm.com") as §8.4.8.1 describes', () => {
    assert.equal(formatUuid(vendorIdFor('arm.com')), 'fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe');
    assert.equal(ManifestKey.install, 20);
  });
});

function encodeBstrHeader(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x40 + length);
  if (length < 256) return Uint8Array.of(0x58, length);
  return Uint8Array.of(0x59, length >> 8, length & 0xff);
}
