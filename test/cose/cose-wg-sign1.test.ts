/**
 * COSE_Sign1 against the COSE working group's examples (github.com/cose-wg/Examples, stored under
 * test/vectors/cose-wg/): sign1-tests (pass and fail cases), ecdsa-examples/ecdsa-sig-01 and
 * eddsa-examples/eddsa-sig-01.
 *
 * ECDSA signatures are randomized, so for ES256 we verify theirs, check that the Sig_structure we
 * build is their ToBeSign byte for byte, and check our own signature verifies. Ed25519 is
 * deterministic, so eddsa-sig-01 is reproduced exactly.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Signer } from '../../src/crypto/keystore/types.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { sign1, verifySign1 } from '../../src/cose/sign1.js';
import {
  coseWgDir,
  coseWgHeader,
  coseWgPrivateKey,
  coseWgPublicKey,
  hex,
  readJson,
  rejectsWithCode,
  toHex,
  utf8,
  type CoseWgExample,
} from './helpers.js';

/** A signer that records what it was asked to sign. */
function recording(inner: Signer): Signer & { signed: Uint8Array[] } {
  const signed: Uint8Array[] = [];
  return { algorithm: inner.algorithm, publicKey: inner.publicKey, signed, sign: (data) => (signed.push(data), inner.sign(data)) };
}

/** Which typed error each cose-wg failure injection must produce. */
function expectedFailure(example: CoseWgExample): string {
  const failures = example.input.failures ?? {};
  if ('ChangeCBORTag' in failures) return 'ERR_COSE_UNEXPECTED_TAG';
  if ('ChangeAttr' in failures) return 'ERR_COSE_UNSUPPORTED_ALGORITHM';
  // ChangeTag alters the payload; Add/RemoveProtected alter the signed protected bucket.
  return 'ERR_COSE_SIGNATURE_INVALID';
}

const examples: [string, CoseWgExample][] = [...coseWgDir('sign1-tests'), ...coseWgDir('ecdsa-examples')];

describe('cose-wg/Examples COSE_Sign1 (ES256)', () => {
  it('has the vector files', () => {
    assert.equal(examples.filter(([, e]) => e.fail !== true).length, 4);
    assert.equal(examples.filter(([, e]) => e.fail === true).length, 6);
  });

  for (const [file, example] of examples) {
    const layer = example.input.sign0!;
    const externalAad = layer.external === undefined ? undefined : hex(layer.external);
    const publicKey = coseWgPublicKey(layer.key!);

    if (example.fail === true) {
      it(`${file}: ${example.title} is rejected with ${expectedFailure(example)}`, async () => {
        await rejectsWithCode(verifySign1(hex(example.output.cbor), { key: publicKey, externalAad }), expectedFailure(example));
      });
      continue;
    }

    it(`${file}: ${example.title} verifies`, async () => {
      const result = await verifySign1(hex(example.output.cbor), { key: publicKey, externalAad });
      assert.deepEqual(result.payload, utf8(example.input.plaintext));
      assert.deepEqual(result.kid, utf8('11'));
    });

    it(`${file}: our Sig_structure equals ToBeSign_hex and our signature verifies`, async () => {
      const signer = recording(keyObjectSigner(coseWgPrivateKey(layer.key!)));
      const tagged = !('RemoveCBORTag' in (example.input.failures ?? {}));
      const ours = await sign1({
        payload: utf8(example.input.plaintext),
        signer,
        protectedHeader: coseWgHeader(layer.protected),
        unprotectedHeader: coseWgHeader(layer.unprotected),
        externalAad,
        tagged,
      });
      assert.equal(toHex(signer.signed[0]!), example.intermediates.ToBeSign_hex!.toLowerCase());
      const result = await verifySign1(ours, { key: publicKey, externalAad });
      assert.deepEqual(result.payload, utf8(example.input.plaintext));
      // Everything but the randomized 64-byte signature matches their encoding, except where
      // the example rewrote its protected bucket after signing ("ChangeProtected").
      if (!('ChangeProtected' in (example.input.failures ?? {}))) {
        assert.equal(toHex(ours.subarray(0, ours.length - 64)), example.output.cbor.toLowerCase().slice(0, -128));
      }
    });
  }
});

describe('cose-wg/Examples COSE_Sign1 (EdDSA, Ed25519)', () => {
  interface EdVector {
    title: string;
    plaintext: string;
    key: { kid: string; x_hex: string; d_hex: string };
    cbor: string;
  }
  const v = readJson<EdVector>('cose-wg', 'eddsa-examples', 'eddsa-sig-01.json');
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(v.key.x_hex, 'hex').toString('base64url'), d: Buffer.from(v.key.d_hex, 'hex').toString('base64url') },
    format: 'jwk',
  });

  it(`${v.title}: verifies`, async () => {
    const result = await verifySign1(hex(v.cbor), { key: createPublicKey(privateKey) });
    assert.deepEqual(result.payload, utf8(v.plaintext));
  });

  it(`${v.title}: is reproduced byte for byte (Ed25519 is deterministic)`, async () => {
    const ours = await sign1({
      payload: utf8(v.plaintext),
      signer: keyObjectSigner(privateKey),
      protectedHeader: new Map([[1, -8], [3, 0]]),
      unprotectedHeader: { kid: utf8(v.key.kid) },
    });
    assert.equal(toHex(ours), v.cbor.toLowerCase());
  });
});
