/**
 * COSE_Encrypt0 against the COSE working group's examples (github.com/cose-wg/Examples, stored
 * under test/vectors/cose-wg/): encrypted-tests (pass and fail cases), aes-ccm-examples
 * aes-ccm-enc-01..08 (all eight RFC 9053 AES-CCM variants) and aes-gcm-examples aes-gcm-enc-01..04.
 *
 * These example files predate RFC 8152: their Enc_structure context is "Encrypt1" where the
 * published RFCs say "Encrypt0" (RFC 9052 §5.3), as their own AAD_hex intermediates show. So they
 * are used at the two levels where they are still exact:
 *   - the AEAD: given their key, nonce and AAD, our AES-CCM/AES-GCM produce their ciphertext and
 *     tag byte for byte — this pins nonce length (15 - L), tag length and key size per algorithm;
 *   - the envelope: our Enc_structure is theirs with only the context string changed, and every
 *     injected failure is refused for the right reason.
 * The same examples as regenerated with the RFC context (encrypt0-rfc-context.json: all eight
 * AES-CCM variants, AES-GCM, external AAD) are decrypted and reproduced byte for byte as whole
 * messages; so are RFC 9052 Appendix C.4 and RFC 8392 A.5/A.6 in their own test files.
 *
 * Some files tag the message 993 instead of 16 (the generator did so); tag 993 is not
 * COSE_Encrypt0 and decrypt0 refuses it, as enc-fail-01 demands for tag 995.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AEAD_ALGORITHMS } from '../../src/cose/algorithms.js';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { openContent, sealContent } from '../../src/cose/content-cipher.js';
import { decrypt0, encrypt0 } from '../../src/cose/encrypt0.js';
import { COSE_WG_ALGS, coseWgDir, coseWgHeader, coseWgSecret, hex, readJson, rejectsWithCode, rngStream, throwsWithCode, toHex, utf8, type CoseWgExample } from './helpers.js';

const examples: [string, CoseWgExample][] = [
  ...coseWgDir('encrypted-tests'),
  ...coseWgDir('aes-ccm-examples'),
  ...coseWgDir('aes-gcm-examples'),
];

/** The message's parts, whatever its tag. */
function parts(cborHex: string): { tag: number | undefined; protectedBytes: Uint8Array; unprotected: Map<number, unknown>; ciphertext: Uint8Array } {
  const v = decodeCbor(hex(cborHex));
  const body = (v instanceof CborTag ? v.contents : v) as [Uint8Array, Map<number, unknown>, Uint8Array];
  return { tag: v instanceof CborTag ? Number(v.tag) : undefined, protectedBytes: body[0], unprotected: body[1], ciphertext: body[2] };
}

function algOf(p: ReturnType<typeof parts>): number {
  const prot = p.protectedBytes.length === 0 ? new Map() : (decodeCbor(p.protectedBytes) as Map<number, unknown>);
  return (prot.get(1) ?? p.unprotected.get(1)) as number;
}

describe('cose-wg/Examples COSE_Encrypt0 (pre-RFC "Encrypt1" context)', () => {
  it('has the vector files, and they really use the "Encrypt1" context', () => {
    assert.equal(examples.filter(([, e]) => e.fail !== true).length, 15);
    assert.equal(examples.filter(([, e]) => e.fail === true).length, 7);
    for (const [, e] of examples) {
      const aad = decodeCbor(hex(e.intermediates.AAD_hex!)) as unknown[];
      assert.equal(aad[0], 'Encrypt1');
    }
  });

  for (const [file, example] of examples) {
    const layer = example.input.encrypted!;
    const key = coseWgSecret(layer);
    const externalAad = layer.external === undefined ? new Uint8Array(0) : hex(layer.external);
    const msg = parts(example.output.cbor);
    const failures = example.input.failures ?? {};

    if (example.fail === true) {
      if ('ChangeCBORTag' in failures || 'ChangeAttr' in failures) {
        const code = 'ChangeCBORTag' in failures ? 'ERR_COSE_UNEXPECTED_TAG' : 'ERR_COSE_UNSUPPORTED_ALGORITHM';
        it(`${file}: ${example.title} is refused by decrypt0 with ${code}`, async () => {
          await rejectsWithCode(decrypt0(hex(example.output.cbor), { key, externalAad }), code);
        });
      } else {
        // Tag or protected bucket altered: the AEAD over what the message now says must fail.
        it(`${file}: ${example.title} does not authenticate`, () => {
          const info = AEAD_ALGORITHMS.get(algOf(msg))!;
          const aad = encodeCbor(['Encrypt1', msg.protectedBytes, externalAad]);
          throwsWithCode(() => openContent(info, key, msg.unprotected.get(5) as Uint8Array, msg.ciphertext, aad), 'ERR_COSE_DECRYPTION_FAILED');
        });
      }
      continue;
    }

    const alg = algOf(msg);
    const info = AEAD_ALGORITHMS.get(alg)!;
    const iv = hex(rngStream(example));

    it(`${file}: ${example.title}: our ${info.name} reproduces their ciphertext from key, nonce and AAD`, () => {
      assert.equal(toHex(key), example.intermediates.CEK_hex!.toLowerCase());
      assert.equal(iv.length, info.nonceLength);
      assert.deepEqual(msg.unprotected.get(5), iv);
      const aad = hex(example.intermediates.AAD_hex!);
      assert.deepEqual(sealContent(info, key, iv, utf8(example.input.plaintext), aad), msg.ciphertext);
      assert.deepEqual(openContent(info, key, iv, msg.ciphertext, aad), utf8(example.input.plaintext));
    });

    if ('ChangeProtected' in failures) continue;
    it(`${file}: our Enc_structure is theirs with context "Encrypt0", and encrypt0 builds the same envelope`, async () => {
      const protectedHeader = coseWgHeader(layer.protected);
      const unprotectedHeader = coseWgHeader(layer.unprotected);
      assert.equal((protectedHeader.get(1) ?? unprotectedHeader.get(1)) as number, COSE_WG_ALGS[(layer.protected ?? layer.unprotected)!.alg as string]);
      const ours = await encrypt0({ plaintext: utf8(example.input.plaintext), key, alg, iv, protectedHeader, unprotectedHeader, externalAad, tagged: false });
      const [oursProtected, oursUnprotected, oursCiphertext] = decodeCbor(ours) as [Uint8Array, Map<number, unknown>, Uint8Array];
      const theirAad = decodeCbor(hex(example.intermediates.AAD_hex!)) as unknown[];
      assert.deepEqual(['Encrypt1', oursProtected, externalAad], theirAad);
      assert.deepEqual(oursProtected, msg.protectedBytes);
      assert.deepEqual(oursUnprotected, msg.unprotected);
      assert.equal(oursCiphertext.length, msg.ciphertext.length);
      assert.deepEqual((await decrypt0(ours, { key, externalAad })).plaintext, utf8(example.input.plaintext));
      if (msg.tag !== undefined && msg.tag !== 16) await rejectsWithCode(decrypt0(hex(example.output.cbor), { key, externalAad }), 'ERR_COSE_UNEXPECTED_TAG');
    });
  }
});

describe('cose-wg/Examples COSE_Encrypt0 as regenerated with the RFC context "Encrypt0"', () => {
  interface Vector {
    file: string;
    alg: number;
    key: string;
    iv: string;
    external: string;
    structure?: string;
    cbor: string;
  }
  const { plaintext, vectors } = readJson<{ plaintext: string; vectors: Vector[] }>('cose-wg', 'encrypt0-rfc-context.json');

  it('covers all eight AES-CCM variants and AES-GCM', () => {
    assert.deepEqual([...new Set(vectors.map((v) => v.alg))].sort((a, b) => a - b), [1, 10, 11, 12, 13, 30, 31, 32, 33]);
  });

  for (const v of vectors) {
    it(`${v.file} (${AEAD_ALGORITHMS.get(v.alg)!.name}): decrypts, and encrypt0 reproduces the message byte for byte`, async () => {
      const key = hex(v.key);
      const externalAad = hex(v.external);
      const message = hex(v.cbor);
      assert.deepEqual((await decrypt0(message, { key, externalAad })).plaintext, utf8(plaintext));
      const ours = await encrypt0({ plaintext: utf8(plaintext), key, alg: v.alg, iv: hex(v.iv), externalAad });
      assert.equal(toHex(ours), v.cbor.toLowerCase());
      if (v.structure !== undefined) {
        assert.deepEqual(encodeCbor(['Encrypt0', parts(v.cbor).protectedBytes, externalAad]), hex(v.structure));
      }
    });
  }
});
