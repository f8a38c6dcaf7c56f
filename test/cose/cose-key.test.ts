import assert from 'node:assert/strict';
import { createPublicKey, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { decodeCoseKey, decodeCoseKeySet, encodeCoseKey, type CoseKey } from '../../src/cose/cose-key.js';
import { decrypt0, encrypt0 } from '../../src/cose/encrypt0.js';
import { coseKeyFromKeyObject, coseKeyFromSpki, coseKeyToKeyObject, coseKeyToSpki } from '../../src/cose/key-convert.js';
import { rawMacKey } from '../../src/cose/mac-key.js';
import { mac0, verifyMac0 } from '../../src/cose/mac0.js';
import { sign1, verifySign1 } from '../../src/cose/sign1.js';
import { hex, rejectsWithCode, throwsWithCode, utf8 } from './helpers.js';

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');

function keyMap(entries: [number | string, unknown][]): Uint8Array {
  return encodeCbor(new Map(entries));
}

describe('COSE_Key encode/decode', () => {
  it('round-trips EC2 P-256 (public and private) with kid, alg, key_ops, Base IV and extra parameters', () => {
    const priv = coseKeyFromKeyObject(p256.privateKey, { kid: utf8('dev-1'), alg: -7, keyOps: [1, 2] });
    assert.equal(priv.kty, 'EC2');
    const withExtras: CoseKey = { ...priv, baseIv: new Uint8Array(8), extra: new Map<number | string, unknown>([[-70000, 'vendor']]) };
    const decoded = decodeCoseKey(encodeCoseKey(withExtras));
    assert.deepEqual(decoded, withExtras);
    const map = decodeCbor(encodeCoseKey(priv)) as Map<number, unknown>;
    assert.equal(map.get(1), 2);
    assert.equal(map.get(-1), 1);
    assert.equal((map.get(-2) as Uint8Array).length, 32);
    assert.equal((map.get(-4) as Uint8Array).length, 32);
    const pub = coseKeyFromKeyObject(p256.publicKey);
    assert.equal((pub as { d?: Uint8Array }).d, undefined);
    assert.deepEqual(decodeCoseKey(encodeCoseKey(pub)), pub);
  });

  it('round-trips OKP Ed25519 and Symmetric keys', () => {
    const okp = coseKeyFromKeyObject(ed.privateKey, { kid: utf8('ed') });
    assert.deepEqual(decodeCoseKey(encodeCoseKey(okp)), okp);
    const sym = coseKeyFromKeyObject(createSecretKey(randomBytes(32)), { alg: 5 });
    assert.equal(sym.kty, 'Symmetric');
    assert.deepEqual(decodeCoseKey(encodeCoseKey(sym)), sym);
  });

  it('converts to and from KeyObject and SPKI DER without losing the key', () => {
    const pubCose = coseKeyFromKeyObject(p256.publicKey);
    assert.ok(coseKeyToKeyObject(pubCose).equals(p256.publicKey));
    assert.ok(coseKeyToKeyObject(coseKeyFromKeyObject(p256.privateKey)).equals(p256.privateKey));
    assert.ok(coseKeyToKeyObject(coseKeyFromKeyObject(ed.privateKey)).equals(ed.privateKey));
    const spki = new Uint8Array(p256.publicKey.export({ type: 'spki', format: 'der' }));
    assert.deepEqual(coseKeyToSpki(coseKeyFromSpki(spki)), spki);
    assert.deepEqual(coseKeyToSpki(coseKeyFromKeyObject(p256.privateKey)), spki);
    const edSpki = new Uint8Array(ed.publicKey.export({ type: 'spki', format: 'der' }));
    assert.deepEqual(coseKeyToSpki(coseKeyFromSpki(edSpki)), edSpki);
    throwsWithCode(() => coseKeyToSpki({ kty: 'Symmetric', k: new Uint8Array(16) }), 'ERR_INVALID_ARGUMENT');
  });

  it('derives the public key of a private-only key (RFC 9053 §7.1.1: x, y only RECOMMENDED)', () => {
    const full = coseKeyFromKeyObject(p256.privateKey) as { d: Uint8Array };
    const dOnly = decodeCoseKey(keyMap([[1, 2], [-1, 1], [-4, full.d]]));
    assert.ok(createPublicKey(coseKeyToKeyObject(dOnly)).equals(p256.publicKey));
    const edFull = coseKeyFromKeyObject(ed.privateKey) as { d: Uint8Array };
    const edOnly = decodeCoseKey(keyMap([[1, 1], [-1, 6], [-4, edFull.d]]));
    assert.ok(createPublicKey(coseKeyToKeyObject(edOnly)).equals(ed.publicKey));
  });

  it('decompresses a point given with y as a bool (RFC 9053 §7.1.1)', () => {
    const full = coseKeyFromKeyObject(p256.publicKey) as { x: Uint8Array; y: Uint8Array };
    const sign = (full.y[31]! & 1) === 1;
    const compressed = decodeCoseKey(keyMap([[1, 2], [-1, 1], [-2, full.x], [-3, sign]])) as { y: Uint8Array };
    assert.deepEqual(compressed.y, full.y);
  });

  it('works as a verification key, and honours its alg restriction (RFC 9052 §7.1)', async () => {
    const msg = await sign1({ payload: utf8('x'), signer: keyObjectSigner(p256.privateKey) });
    await verifySign1(msg, { key: coseKeyFromKeyObject(p256.publicKey) });
    await verifySign1(msg, { key: coseKeyFromKeyObject(p256.publicKey, { alg: -7 }) });
    await rejectsWithCode(verifySign1(msg, { key: coseKeyFromKeyObject(p256.publicKey, { alg: -8 }) }), 'ERR_COSE_KEY_MISMATCH');
    await rejectsWithCode(verifySign1(msg, { key: { kty: 'Symmetric', k: new Uint8Array(32) } }), 'ERR_INVALID_ARGUMENT');
    const secret = new Uint8Array(randomBytes(32));
    const m = await mac0({ payload: utf8('x'), key: rawMacKey(secret, 5) });
    await verifyMac0(m, { key: { kty: 'Symmetric', k: secret, alg: 5 } });
    await rejectsWithCode(verifyMac0(m, { key: { kty: 'Symmetric', k: secret, alg: 4 } }), 'ERR_COSE_KEY_MISMATCH');
    const e = await encrypt0({ plaintext: utf8('x'), key: secret, alg: 3 });
    await decrypt0(e, { key: { kty: 'Symmetric', k: secret } });
    await rejectsWithCode(decrypt0(e, { key: { kty: 'Symmetric', k: secret, alg: 1 } }), 'ERR_COSE_KEY_MISMATCH');
  });

  it('honours key_ops (RFC 9052 §7.1): verify, MAC verify and decrypt must be allowed', async () => {
    const msg = await sign1({ payload: utf8('x'), signer: keyObjectSigner(ed.privateKey) });
    await verifySign1(msg, { key: coseKeyFromKeyObject(ed.publicKey, { keyOps: [2] }) });
    await rejectsWithCode(verifySign1(msg, { key: coseKeyFromKeyObject(ed.publicKey, { keyOps: [1] }) }), 'ERR_COSE_KEY_MISMATCH');
    await rejectsWithCode(verifySign1(msg, { resolveKey: () => coseKeyFromKeyObject(ed.publicKey, { keyOps: [1] }) }), 'ERR_COSE_KEY_MISMATCH');
    const secret = new Uint8Array(randomBytes(32));
    const m = await mac0({ payload: utf8('x'), key: rawMacKey(secret, 5) });
    await verifyMac0(m, { key: { kty: 'Symmetric', k: secret, keyOps: [9, 10] } });
    await rejectsWithCode(verifyMac0(m, { key: { kty: 'Symmetric', k: secret, keyOps: [9] } }), 'ERR_COSE_KEY_MISMATCH');
    const e = await encrypt0({ plaintext: utf8('x'), key: secret, alg: 3 });
    await decrypt0(e, { key: { kty: 'Symmetric', k: secret, keyOps: [4] } });
    await rejectsWithCode(decrypt0(e, { key: { kty: 'Symmetric', k: secret, keyOps: [3] } }), 'ERR_COSE_KEY_MISMATCH');
  });

  it('decodes a COSE_KeySet', () => {
    const set = encodeCbor([
      new Map<number, unknown>([[1, 4], [-1, new Uint8Array(16)]]),
      decodeCbor(encodeCoseKey(coseKeyFromKeyObject(ed.publicKey))),
    ]);
    const keys = decodeCoseKeySet(set);
    assert.deepEqual(keys.map((k) => k.kty), ['Symmetric', 'OKP']);
    throwsWithCode(() => decodeCoseKeySet(encodeCbor([])), 'ERR_COSE_INVALID_KEY');
  });

  const full = coseKeyFromKeyObject(p256.privateKey) as { x: Uint8Array; y: Uint8Array; d: Uint8Array };
  const notOnCurve = new Uint8Array(full.y);
  notOnCurve[31]! ^= 1;
  const otherD = (coseKeyFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey) as { d: Uint8Array }).d;
  const invalid: [string, Uint8Array, string][] = [
    ['not a map', encodeCbor([1, 2]), 'ERR_COSE_INVALID_KEY'],
    ['no kty', keyMap([[-1, new Uint8Array(16)]]), 'ERR_COSE_INVALID_KEY'],
    ['kty RSA', keyMap([[1, 3], [-1, new Uint8Array(16)]]), 'ERR_COSE_UNSUPPORTED_KEY'],
    ['kty as a bstr', keyMap([[1, new Uint8Array(1)]]), 'ERR_COSE_INVALID_KEY'],
    ['P-384 curve', keyMap([[1, 2], [-1, 2], [-2, full.x], [-3, full.y]]), 'ERR_COSE_UNSUPPORTED_KEY'],
    ['X25519 curve', keyMap([[1, 1], [-1, 4], [-2, new Uint8Array(32)]]), 'ERR_COSE_UNSUPPORTED_KEY'],
    ['EC2 without crv', keyMap([[1, 2], [-2, full.x], [-3, full.y]]), 'ERR_COSE_INVALID_KEY'],
    ['short x (leading zeros dropped)', keyMap([[1, 2], [-1, 1], [-2, full.x.subarray(1)], [-3, full.y]]), 'ERR_COSE_INVALID_KEY'],
    ['x without y', keyMap([[1, 2], [-1, 1], [-2, full.x]]), 'ERR_COSE_INVALID_KEY'],
    ['y as text', keyMap([[1, 2], [-1, 1], [-2, full.x], [-3, 'y']]), 'ERR_COSE_INVALID_KEY'],
    ['point not on the curve', keyMap([[1, 2], [-1, 1], [-2, full.x], [-3, notOnCurve]]), 'ERR_COSE_INVALID_KEY'],
    ['d not matching x, y', keyMap([[1, 2], [-1, 1], [-2, full.x], [-3, full.y], [-4, otherD]]), 'ERR_COSE_INVALID_KEY'],
    ['d of zero', keyMap([[1, 2], [-1, 1], [-4, new Uint8Array(32)]]), 'ERR_COSE_INVALID_KEY'],
    ['Ed25519 d not matching x', keyMap([[1, 1], [-1, 6], [-2, (coseKeyFromKeyObject(ed.publicKey) as { x: Uint8Array }).x], [-4, new Uint8Array(32)]]), 'ERR_COSE_INVALID_KEY'],
    ['empty symmetric k', keyMap([[1, 4], [-1, new Uint8Array(0)]]), 'ERR_COSE_INVALID_KEY'],
    ['kid as text', keyMap([[1, 4], [-1, new Uint8Array(16)], [2, 'kid']]), 'ERR_COSE_INVALID_KEY'],
    ['empty key_ops', keyMap([[1, 4], [-1, new Uint8Array(16)], [4, []]]), 'ERR_COSE_INVALID_KEY'],
    ['bstr label', encodeCbor(new Map<unknown, unknown>([[1, 4], [-1, new Uint8Array(16)], [new Uint8Array(1), 1]])), 'ERR_COSE_INVALID_KEY'],
    ['truncated CBOR', hex('a20104'), 'ERR_COSE_MALFORMED_CBOR'],
  ];
  for (const [name, bytes, code] of invalid) {
    it(`rejects ${name} with ${code}`, () => throwsWithCode(() => decodeCoseKey(bytes), code));
  }

  it('checks arguments when encoding and converting', () => {
    throwsWithCode(() => encodeCoseKey({ kty: 'EC2', crv: 'P-256', x: new Uint8Array(31), y: new Uint8Array(32) }), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => encodeCoseKey({ kty: 'RSA' } as unknown as CoseKey), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => coseKeyFromKeyObject({} as never), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => coseKeyFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey), 'ERR_COSE_UNSUPPORTED_KEY');
    throwsWithCode(() => coseKeyFromSpki(new Uint8Array(10)), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => coseKeyToKeyObject({ kty: 'EC2', crv: 'P-256', x: full.x, y: notOnCurve }), 'ERR_COSE_INVALID_KEY');
  });
});
