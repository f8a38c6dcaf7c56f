/**
 * RFC 8392 (CBOR Web Token) Appendix A, stored in test/vectors/rfc8392/appendix-a.json:
 * A.1 claims set, A.2 keys, A.3 signed, A.4 MACed (with CWT tag), A.5 encrypted, A.6 nested
 * (signed then encrypted), A.7 MACed with a floating-point claim. Mac0 and Encrypt0 are
 * deterministic given key and nonce, so A.4, A.5, A.6 and A.7 are reproduced byte for byte.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCwtClaims, encodeCwtClaims } from '../../src/cose/claims.js';
import { decodeCoseKey, type Ec2Key, type SymmetricKey } from '../../src/cose/cose-key.js';
import { createCwt, verifyCwt } from '../../src/cose/cwt.js';
import { decrypt0, encrypt0 } from '../../src/cose/encrypt0.js';
import { coseKeyToKeyObject } from '../../src/cose/key-convert.js';
import { rawMacKey } from '../../src/cose/mac-key.js';
import { mac0, verifyMac0 } from '../../src/cose/mac0.js';
import { verifySign1 } from '../../src/cose/sign1.js';
import { hex, readJson, rejectsWithCode, toHex, utf8 } from './helpers.js';

const a = readJson<Record<string, string> & { 'A.1_claims': Record<string, string | number> }>('rfc8392', 'appendix-a.json');
const claimsBytes = hex(a['A.1_claims_set']!);
const key128 = decodeCoseKey(hex(a['A.2.1_symmetric_128_cose_key']!)) as SymmetricKey;
const key256 = decodeCoseKey(hex(a['A.2.2_symmetric_256_cose_key']!)) as SymmetricKey;
const ecKey = decodeCoseKey(hex(a['A.2.3_ecdsa_p256_cose_key']!)) as Ec2Key;
// Between nbf (1443944944) and exp (1444064944).
const now = 1444000000;

describe('RFC 8392 Appendix A', () => {
  it('A.1: decodes the claims set, and re-encodes it byte for byte', () => {
    const claims = decodeCwtClaims(claimsBytes);
    const want = a['A.1_claims'];
    assert.deepEqual(claims, {
      iss: want.iss,
      sub: want.sub,
      aud: want.aud,
      exp: want.exp,
      nbf: want.nbf,
      iat: want.iat,
      cti: hex(want.cti_hex as string),
    });
    assert.equal(toHex(encodeCwtClaims(claims)), a['A.1_claims_set']);
  });

  it('A.2: decodes the three COSE keys', () => {
    assert.equal(key128.kty, 'Symmetric');
    assert.deepEqual(key128.kid, utf8('Symmetric128'));
    assert.equal(key128.alg, 10);
    assert.equal(toHex(key128.k), '231f4c4d4d3051fdc2ec0a3851d5b383');
    assert.equal(key256.k.length, 32);
    assert.deepEqual(key256.kid, utf8('Symmetric256'));
    assert.equal(ecKey.kty, 'EC2');
    assert.equal(ecKey.alg, -7);
    assert.deepEqual(ecKey.kid, utf8('AsymmetricECDSA256'));
    assert.equal(coseKeyToKeyObject(ecKey).type, 'private');
  });

  it('A.3: the signed CWT verifies with the A.2.3 public key, claims checked', async () => {
    const result = await verifyCwt(hex(a['A.3_signed_cwt']!), { key: ecKey, now, issuer: 'coap://as.example.com', audience: 'coap://light.example.com' });
    assert.deepEqual(result.claims, decodeCwtClaims(claimsBytes));
    assert.deepEqual(result.layers.map((l) => [l.type, l.alg]), [['COSE_Sign1', -7]]);
    assert.deepEqual(result.layers[0]!.kid, utf8('AsymmetricECDSA256'));
    assert.deepEqual((await verifySign1(hex(a['A.3_signed_cwt']!), { key: ecKey })).payload, claimsBytes);
  });

  it('A.3: time, issuer and audience failures have distinct codes', async () => {
    const cwt = hex(a['A.3_signed_cwt']!);
    await rejectsWithCode(verifyCwt(cwt, { key: ecKey, now: 1444064944 }), 'ERR_CWT_EXPIRED');
    await verifyCwt(cwt, { key: ecKey, now: 1444064944, clockTolerance: 1 });
    await rejectsWithCode(verifyCwt(cwt, { key: ecKey, now: 1443944943 }), 'ERR_CWT_NOT_YET_VALID');
    await verifyCwt(cwt, { key: ecKey, now: 1443944944 });
    await rejectsWithCode(verifyCwt(cwt, { key: ecKey, now, issuer: 'coap://other.example.com' }), 'ERR_CWT_ISSUER_MISMATCH');
    await rejectsWithCode(verifyCwt(cwt, { key: ecKey, now, audience: ['coap://heater.example.com'] }), 'ERR_CWT_AUDIENCE_MISMATCH');
    await verifyCwt(cwt, { key: ecKey, now: new Date(now * 1000), audience: ['coap://heater.example.com', 'coap://light.example.com'] });
  });

  it('A.4: the MACed CWT (tag 61) verifies with the A.2.2 key, and createCwt reproduces it', async () => {
    const cwt = hex(a['A.4_maced_cwt_with_cwt_tag']!);
    // A.2.2 declares alg 10 (AES-CCM-16-64-128) although A.4 uses it for HMAC 256/64, so as a
    // COSE_Key it is refused for this message (RFC 9052 §7.1); its raw k works.
    await rejectsWithCode(verifyCwt(cwt, { key: key256, now }), 'ERR_COSE_KEY_MISMATCH');
    const result = await verifyCwt(cwt, { key: key256.k, now });
    assert.deepEqual(result.layers.map((l) => [l.type, l.alg]), [['COSE_Mac0', 4]]);
    const ours = await createCwt(decodeCwtClaims(claimsBytes), { macKey: rawMacKey(key256.k, 4), unprotectedHeader: { kid: key256.kid! } });
    assert.equal(toHex(ours), a['A.4_maced_cwt_with_cwt_tag']);
  });

  it('A.5: the encrypted CWT decrypts with the A.2.1 key, and encrypt0 reproduces it', async () => {
    const cwt = hex(a['A.5_encrypted_cwt']!);
    const result = await verifyCwt(cwt, { key: key128, now });
    assert.deepEqual(result.claims, decodeCwtClaims(claimsBytes));
    const decrypted = await decrypt0(cwt, { key: key128 });
    assert.deepEqual(decrypted.plaintext, claimsBytes);
    const ours = await encrypt0({
      plaintext: claimsBytes,
      key: key128.k,
      alg: 10,
      iv: decrypted.unprotectedHeader.get(5) as Uint8Array,
      unprotectedHeader: { kid: key128.kid! },
    });
    assert.equal(toHex(ours), a['A.5_encrypted_cwt']);
  });

  it('A.6: the nested CWT (A.3 signed, then encrypted) verifies through both layers, and is reproduced', async () => {
    const cwt = hex(a['A.6_nested_cwt']!);
    const seen: string[] = [];
    const result = await verifyCwt(cwt, {
      now,
      resolveKey: ({ type, kid }) => {
        seen.push(`${type}:${Buffer.from(kid!).toString()}`);
        return type === 'COSE_Encrypt0' ? key128 : ecKey;
      },
    });
    assert.deepEqual(seen, ['COSE_Encrypt0:Symmetric128', 'COSE_Sign1:AsymmetricECDSA256']);
    assert.deepEqual(result.layers.map((l) => l.type), ['COSE_Encrypt0', 'COSE_Sign1']);
    assert.deepEqual(result.claims, decodeCwtClaims(claimsBytes));
    const inner = await decrypt0(cwt, { key: key128 });
    assert.equal(toHex(inner.plaintext), a['A.3_signed_cwt']);
    const ours = await encrypt0({ plaintext: hex(a['A.3_signed_cwt']!), key: key128.k, alg: 10, iv: inner.unprotectedHeader.get(5) as Uint8Array, unprotectedHeader: { kid: key128.kid! } });
    assert.equal(toHex(ours), a['A.6_nested_cwt']);
    await rejectsWithCode(verifyCwt(cwt, { now, maxLayers: 1, resolveKey: ({ type }) => (type === 'COSE_Encrypt0' ? key128 : ecKey) }), 'ERR_CWT_NESTING_TOO_DEEP');
  });

  it('A.7: the MACed CWT with a floating-point iat verifies, and is reproduced', async () => {
    const cwt = hex(a['A.7_maced_cwt_with_floating_point_value']!);
    const result = await verifyCwt(cwt, { key: key256.k, now });
    assert.deepEqual(result.claims, { iat: 1443944944.5 });
    const verified = await verifyMac0(cwt, { key: key256.k });
    const ours = await mac0({ payload: encodeCwtClaims({ iat: 1443944944.5 }), key: rawMacKey(key256.k, 4), unprotectedHeader: { kid: key256.kid! } });
    assert.deepEqual(verified.payload, encodeCwtClaims({ iat: 1443944944.5 }));
    assert.equal(toHex(ours), a['A.7_maced_cwt_with_floating_point_value']);
  });
});
