/**
 * RFC 9052 Appendix C, the single-recipient messages: C.2.1 (COSE_Sign1, ES256), C.4.1 and C.4.2
 * (COSE_Encrypt0, AES-CCM-16-64-128, with IV and with Partial IV), C.6.1 (COSE_Mac0,
 * AES-CBC-MAC-256//64). Stored in test/vectors/rfc9052/appendix-c.json.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { decrypt0, encrypt0 } from '../../src/cose/encrypt0.js';
import { rawMacKey } from '../../src/cose/mac-key.js';
import { mac0, verifyMac0 } from '../../src/cose/mac0.js';
import { sign1, verifySign1 } from '../../src/cose/sign1.js';
import { hex, readJson, rejectsWithCode, toHex, utf8 } from './helpers.js';

interface Example {
  title: string;
  size: number;
  cbor: string;
  base_iv?: string;
}
interface AppendixC {
  plaintext: string;
  'C.2.1': Example;
  'C.4.1': Example;
  'C.4.2': Example;
  'C.6.1': Example;
  keys: { '11': { x: string; y: string; d: string }; 'our-secret': { k: string }; 'our-secret2': { k: string } };
}

const c = readJson<AppendixC>('rfc9052', 'appendix-c.json');
const plaintext = utf8(c.plaintext);
const b64 = (h: string): string => Buffer.from(h, 'hex').toString('base64url');
const key11 = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x: b64(c.keys['11'].x), y: b64(c.keys['11'].y), d: b64(c.keys['11'].d) }, format: 'jwk' });
const ourSecret = hex(c.keys['our-secret'].k);
const ourSecret2 = hex(c.keys['our-secret2'].k);

describe('RFC 9052 Appendix C', () => {
  it('stores each message at its published size', () => {
    for (const name of ['C.2.1', 'C.4.1', 'C.4.2', 'C.6.1'] as const) assert.equal(hex(c[name].cbor).length, c[name].size, name);
  });

  it(`C.2.1 ${c['C.2.1'].title}: verifies with the C.7.1 public key; our own signature verifies too`, async () => {
    const result = await verifySign1(hex(c['C.2.1'].cbor), { key: createPublicKey(key11) });
    assert.deepEqual(result.payload, plaintext);
    assert.deepEqual(result.kid, utf8('11'));
    await rejectsWithCode(verifySign1(hex(c['C.2.1'].cbor), { key: createPublicKey(key11), externalAad: utf8('x') }), 'ERR_COSE_SIGNATURE_INVALID');
    const ours = await sign1({ payload: plaintext, signer: keyObjectSigner(key11), unprotectedHeader: { kid: utf8('11') } });
    assert.equal(toHex(ours).slice(0, -128), c['C.2.1'].cbor.slice(0, -128));
    await verifySign1(ours, { key: createPublicKey(key11) });
  });

  it(`C.4.1 ${c['C.4.1'].title}: decrypts, and is reproduced byte for byte`, async () => {
    assert.deepEqual((await decrypt0(hex(c['C.4.1'].cbor), { key: ourSecret2 })).plaintext, plaintext);
    const ours = await encrypt0({ plaintext, key: ourSecret2, alg: 10, iv: hex('89f52f65a1c580933b5261a78c') });
    assert.equal(toHex(ours), c['C.4.1'].cbor);
  });

  it(`C.4.2 ${c['C.4.2'].title}: decrypts with the Base IV, and is reproduced byte for byte`, async () => {
    const baseIv = hex(c['C.4.2'].base_iv!);
    assert.deepEqual((await decrypt0(hex(c['C.4.2'].cbor), { key: ourSecret2, baseIv })).plaintext, plaintext);
    await rejectsWithCode(decrypt0(hex(c['C.4.2'].cbor), { key: ourSecret2 }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(decrypt0(hex(c['C.4.2'].cbor), { key: ourSecret2, baseIv: hex('89f52f65a1c580933b52') }), 'ERR_COSE_DECRYPTION_FAILED');
    const ours = await encrypt0({ plaintext, key: ourSecret2, alg: 10, partialIv: hex('61a7'), baseIv });
    assert.equal(toHex(ours), c['C.4.2'].cbor);
  });

  it(`C.6.1 ${c['C.6.1'].title}: verifies, and is reproduced byte for byte`, async () => {
    assert.deepEqual((await verifyMac0(hex(c['C.6.1'].cbor), { key: ourSecret })).payload, plaintext);
    assert.equal(toHex(await mac0({ payload: plaintext, key: rawMacKey(ourSecret, 15) })), c['C.6.1'].cbor);
    await rejectsWithCode(verifyMac0(hex(c['C.6.1'].cbor), { key: ourSecret, algorithms: [5] }), 'ERR_COSE_ALGORITHM_NOT_ALLOWED');
  });
});
