/**
 * Fuzzing the SUIT decoders and verifier: random bytes, random CBOR, and mutations of valid
 * envelopes (ours and the draft's) produce only ERR_SUIT_* errors, never anything else, and a
 * mutated signed envelope never verifies as something other than the original.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CborTag, encodeCbor } from '../../../src/cose/cbor.js';
import { decodeEnvelope, decodeManifest, decodeText, encodeManifest, signManifest, vendorIdFor, classIdFor, verifyManifest } from '../../../src/fota/suit/index.js';
import { hex, p256Key, readDraftExamples } from './helpers.js';

function onlySuitErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    assert.ok(typeof code === 'string' && code.startsWith('ERR_SUIT_'), `unexpected ${String(err)}`);
  }
}

async function onlySuitErrorsAsync(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    assert.ok(typeof code === 'string' && code.startsWith('ERR_SUIT_'), `unexpected ${String(err)}`);
    return undefined;
  }
}

const vectors = readDraftExamples();
const draftKey = createPublicKey(vectors.publicKeyPem);
const draftEnvelopes = vectors.examples.map((e) => hex(e.hex));

/** CBOR values shaped like SUIT pieces: small ints (labels), bstrs, maps and arrays. */
const cborValue = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.integer({ min: -40, max: 40 }), fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 8 }), fc.constant(null), fc.boolean()),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 6 }), fc.array(fc.tuple(fc.integer({ min: -30, max: 30 }), tie('node')), { maxLength: 6 }).map((e) => new Map(e))),
})).node;

/** Envelope-shaped CBOR: tag 107 around a map with bstr-wrapped random members. */
const envelopeShaped = fc
  .tuple(cborValue, cborValue, fc.array(cborValue, { maxLength: 3 }), fc.boolean())
  .map(([manifest, digest, blocks, tagged]) => {
    const wrapper = encodeCbor([encodeCbor(digest), ...blocks.map((b) => encodeCbor(b))]);
    const map = new Map<number, unknown>([[2, wrapper], [3, encodeCbor(manifest)]]);
    return encodeCbor(tagged ? new CborTag(107, map) : map);
  });

describe('SUIT fuzzing: only typed errors escape', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      onlySuitErrors(() => decodeEnvelope(bytes));
      onlySuitErrors(() => decodeManifest(bytes));
    }), { numRuns: 400 });
  });

  it('random CBOR shaped like envelopes and manifests', async () => {
    await fc.assert(fc.asyncProperty(envelopeShaped, cborValue, async (envelope, manifest) => {
      onlySuitErrors(() => decodeEnvelope(envelope));
      onlySuitErrors(() => decodeManifest(encodeCbor(manifest)));
      await onlySuitErrorsAsync(() => verifyManifest(envelope, { trustedKeys: [draftKey] }));
    }), { numRuns: 300 });
  });

  it('random manifests with SUIT labels decode or fail typed', () => {
    const command = fc.tuple(fc.constantFrom(1, 2, 3, 12, 15, 19, 20, 21, 23, 32, -24), cborValue);
    const sequence = fc.array(command, { minLength: 1, maxLength: 6 }).map((cmds) => encodeCbor(cmds.flat()));
    const manifest = fc
      .record({ seq: fc.oneof(fc.nat(), fc.constant(-1)), components: cborValue, shared: sequence, validate: sequence, install: fc.oneof(sequence, cborValue) })
      .map((m) => encodeCbor(new Map<number, unknown>([[1, 1], [2, m.seq], [3, encodeCbor(new Map<number, unknown>([[2, m.components], [4, m.shared]]))], [7, m.validate], [20, m.install]])));
    fc.assert(fc.property(manifest, (bytes) => onlySuitErrors(() => decodeManifest(bytes))), { numRuns: 400 });
  });

  it('random text maps (language-tagged or not) decode or fail typed', () => {
    const lmap = fc.array(fc.tuple(fc.oneof(fc.integer({ min: -3, max: 9 }), fc.constant([Uint8Array.of(0)])), fc.oneof(fc.string({ maxLength: 6 }), cborValue)), { maxLength: 4 }).map((e) => new Map<unknown, unknown>(e));
    const text = fc.oneof(lmap, fc.array(fc.tuple(fc.constantFrom('en', 'en-US', 'de'), fc.oneof(lmap, cborValue)), { maxLength: 3 }).map((e) => new Map<unknown, unknown>(e)), cborValue);
    fc.assert(fc.property(text, (t) => onlySuitErrors(() => decodeText(encodeCbor(t)))), { numRuns: 400 });
  });

  it('mutated draft examples and rootline envelopes never verify as changed content', async () => {
    const key = p256Key();
    const vendorId = vendorIdFor('example.com');
    const ours = await signManifest(
      encodeManifest({ sequenceNumber: 9, vendorId, classId: classIdFor(vendorId, 'M'), imageDigest: new Uint8Array(createHash('sha256').update('x').digest()), imageSize: 1, uri: 'coaps://h/fw' }),
      key.signer,
    );
    const originals = [...draftEnvelopes.map((bytes) => ({ bytes, key: draftKey })), { bytes: ours, key: key.publicKey }];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...originals),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (original, edits) => {
          const mutated = new Uint8Array(original.bytes);
          for (const [pos, xor] of edits) mutated[pos % mutated.length]! ^= xor;
          const result = await onlySuitErrorsAsync(() => verifyManifest(mutated, { trustedKeys: [original.key] }));
          if (result !== undefined) {
            // Only changes outside the signed parts (e.g. an unprotected header byte turning into
            // an equivalent encoding) may still verify, and then the manifest must be the original.
            const before = decodeEnvelope(original.bytes).manifestBytes;
            assert.deepEqual((result as { manifestBytes: Uint8Array }).manifestBytes, before);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('truncations of every length fail typed', async () => {
    for (const bytes of draftEnvelopes.slice(0, 2)) {
      for (let n = 0; n < bytes.length; n++) onlySuitErrors(() => decodeEnvelope(bytes.subarray(0, n)));
    }
  });

  it('limits: envelope size, command count and nesting', () => {
    const big = draftEnvelopes[0]!;
    assert.throws(() => decodeEnvelope(big, { maxEnvelopeSize: big.length - 1 }), (e: unknown) => (e as { code: string }).code === 'ERR_SUIT_MALFORMED');
    const many = encodeCbor(new Map<number, unknown>([[1, 1], [2, 0], [3, encodeCbor(new Map<number, unknown>([[2, [[Uint8Array.of(0)]]], [4, encodeCbor(Array(40).fill([1, 15]).flat())]]))]]));
    assert.throws(() => decodeManifest(many, { maxCommands: 10 }), (e: unknown) => (e as { code: string }).code === 'ERR_SUIT_MALFORMED');
    let nested = encodeCbor([1, 15]);
    for (let i = 0; i < 6; i++) nested = encodeCbor([32, nested]);
    const deep = encodeCbor(new Map<number, unknown>([[1, 1], [2, 0], [3, encodeCbor(new Map<number, unknown>([[2, [[Uint8Array.of(0)]]], [4, nested]]))]]));
    assert.throws(() => decodeManifest(deep), (e: unknown) => (e as { code: string }).code === 'ERR_SUIT_MALFORMED');
    assert.equal(decodeManifest(deep, { maxNesting: 8 }).sharedSequence.length, 1);
  });
});
