import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { encodeCwtClaims, type CwtClaims } from '../../src/cose/claims.js';
import { createCwt, verifyCwt } from '../../src/cose/cwt.js';
import { encrypt0 } from '../../src/cose/encrypt0.js';
import { rawMacKey } from '../../src/cose/mac-key.js';
import { mac0 } from '../../src/cose/mac0.js';
import { sign1 } from '../../src/cose/sign1.js';
import { rejectsWithCode, throwsWithCode, utf8 } from './helpers.js';

const ed = generateKeyPairSync('ed25519');
const signer = keyObjectSigner(ed.privateKey);
const secret = new Uint8Array(randomBytes(32));
const now = 1_800_000_000;
const claims: CwtClaims = {
  iss: 'rootline-registrar',
  sub: 'urn:dev:ops:32473-Sensor-42',
  aud: 'coaps://rootline.example',
  exp: now + 3600,
  nbf: now - 60,
  iat: now - 60,
  cti: new Uint8Array([1, 2, 3]),
  other: new Map<number | string, unknown>([[-70001, 'fw-1.2.3'], ['model', 'S42']]),
};

describe('createCwt / verifyCwt', () => {
  it('signs a claims set as tag 61 + COSE_Sign1 and verifies it, keeping private claims', async () => {
    const cwt = await createCwt(claims, { signer, unprotectedHeader: { kid: utf8('registrar') } });
    const outer = decodeCbor(cwt);
    assert.ok(outer instanceof CborTag && outer.tag === 61);
    assert.ok(outer.contents instanceof CborTag && outer.contents.tag === 18);
    const result = await verifyCwt(cwt, { key: ed.publicKey, now, issuer: 'rootline-registrar', audience: 'coaps://rootline.example', requiredClaims: ['exp', 'cti'] });
    assert.deepEqual(result.claims, claims);
    assert.deepEqual(result.layers[0]!.kid, utf8('registrar'));
  });

  it('MACs a claims set, and can leave out the CWT tag', async () => {
    const cwt = await createCwt(claims, { macKey: rawMacKey(secret, 5), cwtTag: false });
    const outer = decodeCbor(cwt);
    assert.ok(outer instanceof CborTag && outer.tag === 17);
    assert.deepEqual((await verifyCwt(cwt, { key: secret, now })).claims, claims);
    await rejectsWithCode(verifyCwt(cwt, { key: new Uint8Array(32), now }), 'ERR_COSE_MAC_INVALID');
  });

  it('verifies an untagged COSE message only when the application names its type', async () => {
    const bare = await mac0({ payload: encodeCwtClaims(claims), key: rawMacKey(secret, 4), tagged: false });
    await rejectsWithCode(verifyCwt(bare, { key: secret, now }), 'ERR_CWT_MALFORMED');
    assert.equal((await verifyCwt(bare, { key: secret, now, untaggedType: 'COSE_Mac0' })).claims.iss, claims.iss);
  });

  it('follows nesting announced by content type 61 (RFC 8392 §7.2 step 7)', async () => {
    const inner = await createCwt(claims, { signer });
    const outer = await mac0({ payload: inner, key: rawMacKey(secret, 5), protectedHeader: { contentType: 61 } });
    const result = await verifyCwt(outer, { now, resolveKey: ({ type }) => (type === 'COSE_Mac0' ? secret : ed.publicKey) });
    assert.deepEqual(result.layers.map((l) => l.type), ['COSE_Mac0', 'COSE_Sign1']);
    await rejectsWithCode(verifyCwt(outer, { now, resolveKey: ({ type }) => (type === 'COSE_Mac0' ? secret : undefined) }), 'ERR_COSE_KEY_NOT_FOUND');
  });

  it('rejects what is not a CWT claims set', async () => {
    const notMap = await mac0({ payload: encodeCbor([1, 2]), key: rawMacKey(secret) });
    await rejectsWithCode(verifyCwt(notMap, { key: secret, now }), 'ERR_CWT_MALFORMED');
    const badIss = await mac0({ payload: encodeCbor(new Map([[1, 42]])), key: rawMacKey(secret) });
    await rejectsWithCode(verifyCwt(badIss, { key: secret, now }), 'ERR_CWT_MALFORMED');
    const taggedExp = await mac0({ payload: encodeCbor(new Map([[4, new CborTag(1, now)]])), key: rawMacKey(secret) });
    await rejectsWithCode(verifyCwt(taggedExp, { key: secret, now }), 'ERR_CWT_MALFORMED');
    const notCbor = await mac0({ payload: new Uint8Array([0xff]), key: rawMacKey(secret) });
    await rejectsWithCode(verifyCwt(notCbor, { key: secret, now }), 'ERR_CWT_MALFORMED');
    const wrongInnerTag = encodeCbor(new CborTag(61, new CborTag(98, [])));
    await rejectsWithCode(verifyCwt(wrongInnerTag, { key: secret, now }), 'ERR_COSE_UNEXPECTED_TAG');
    const untaggedAfter61 = encodeCbor(new CborTag(61, [new Uint8Array(0), new Map(), null, new Uint8Array(8)]));
    await rejectsWithCode(verifyCwt(untaggedAfter61, { key: secret, now }), 'ERR_CWT_MALFORMED');
  });

  it('reports missing required claims', async () => {
    const cwt = await createCwt({ iss: 'x' }, { macKey: rawMacKey(secret) });
    await rejectsWithCode(verifyCwt(cwt, { key: secret, now, requiredClaims: ['exp'] }), 'ERR_CWT_MISSING_CLAIM');
    await rejectsWithCode(verifyCwt(cwt, { key: secret, now, audience: 'a' }), 'ERR_CWT_AUDIENCE_MISMATCH');
    await rejectsWithCode(verifyCwt(cwt, { key: secret, now, issuer: ['y'] }), 'ERR_CWT_ISSUER_MISMATCH');
  });

  it('decrypts an Encrypt0 CWT carrying a signed one', async () => {
    const key = new Uint8Array(randomBytes(16));
    const signed = await sign1({ payload: encodeCwtClaims(claims), signer });
    const sealed = await encrypt0({ plaintext: signed, key, alg: 1 });
    const result = await verifyCwt(sealed, { now, resolveKey: ({ type }) => (type === 'COSE_Encrypt0' ? key : ed.publicKey) });
    assert.deepEqual(result.layers.map((l) => l.type), ['COSE_Encrypt0', 'COSE_Sign1']);
  });

  it('checks its arguments', async () => {
    await rejectsWithCode(createCwt(claims, {}), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(createCwt(claims, { signer, macKey: rawMacKey(secret) }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(createCwt({ exp: '2030' as unknown as number }, { signer }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(createCwt({ iss: 1 as unknown as string }, { signer }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(createCwt({ foo: 1 } as unknown as CwtClaims, { signer }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(createCwt({ other: new Map([[1, 'x']]) }, { signer }), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => encodeCwtClaims({ exp: Number.NaN }), 'ERR_INVALID_ARGUMENT');
    const cwt = await createCwt(claims, { signer });
    await rejectsWithCode(verifyCwt(cwt, { now }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifyCwt(cwt, { key: ed.publicKey, now: 'now' as unknown as number }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifyCwt(cwt, { key: ed.publicKey, clockTolerance: -1 }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifyCwt(cwt, { key: ed.publicKey, issuer: [] }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifyCwt(cwt, { key: ed.publicKey, requiredClaims: ['nope' as 'iss'] }), 'ERR_INVALID_ARGUMENT');
  });
});
