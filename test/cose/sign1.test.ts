import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSoftwareKeyStore } from '../../src/crypto/keystore/software.js';
import type { KeyStore, Signer } from '../../src/crypto/keystore/types.js';
import { keyObjectSigner, keyStoreSigner } from '../../src/crypto/signer.js';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { sign1, verifySign1 } from '../../src/cose/sign1.js';
import { rejectsWithCode, utf8 } from './helpers.js';

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed25519 = generateKeyPairSync('ed25519');
const p256Signer = keyObjectSigner(p256.privateKey);
const edSigner = keyObjectSigner(ed25519.privateKey);
const payload = utf8('firmware manifest v1.2.3');

function decodeSign1(bytes: Uint8Array): unknown[] {
  const v = decodeCbor(bytes);
  return (v instanceof CborTag ? v.contents : v) as unknown[];
}

describe('sign1 / verifySign1', () => {
  for (const [name, signer, publicKey] of [
    ['ES256', p256Signer, p256.publicKey],
    ['EdDSA', edSigner, ed25519.publicKey],
  ] as const) {
    it(`${name}: signs, tags with 18, puts alg in the protected bucket, and verifies`, async () => {
      const msg = await sign1({ payload, signer, unprotectedHeader: { kid: utf8('k1') } });
      const decoded = decodeCbor(msg);
      assert.ok(decoded instanceof CborTag && decoded.tag === 18);
      const [prot] = decodeSign1(msg) as [Uint8Array];
      assert.deepEqual(decodeCbor(prot), new Map([[1, name === 'ES256' ? -7 : -8]]));
      const result = await verifySign1(msg, { key: publicKey });
      assert.deepEqual(result.payload, payload);
      assert.equal(result.alg, name === 'ES256' ? -7 : -8);
      assert.deepEqual(result.kid, utf8('k1'));
      // SPKI DER works as well as a KeyObject.
      await verifySign1(msg, { key: new Uint8Array(signer.publicKey) });
    });
  }

  it('verifies untagged messages and produces them on request', async () => {
    const msg = await sign1({ payload, signer: edSigner, tagged: false });
    assert.ok(Array.isArray(decodeCbor(msg)));
    assert.deepEqual((await verifySign1(msg, { key: ed25519.publicKey })).payload, payload);
  });

  it('binds external AAD: a different one fails', async () => {
    const externalAad = utf8('device-42');
    const msg = await sign1({ payload, signer: p256Signer, externalAad });
    await verifySign1(msg, { key: p256.publicKey, externalAad });
    await rejectsWithCode(verifySign1(msg, { key: p256.publicKey }), 'ERR_COSE_SIGNATURE_INVALID');
    await rejectsWithCode(verifySign1(msg, { key: p256.publicKey, externalAad: utf8('device-43') }), 'ERR_COSE_SIGNATURE_INVALID');
  });

  it('detaches the payload: nil in the message, supplied at verification', async () => {
    const msg = await sign1({ payload, signer: edSigner, detachPayload: true });
    assert.equal(decodeSign1(msg)[2], null);
    await rejectsWithCode(verifySign1(msg, { key: ed25519.publicKey }), 'ERR_COSE_DETACHED_CONTENT');
    assert.deepEqual((await verifySign1(msg, { key: ed25519.publicKey, detachedPayload: payload })).payload, payload);
    await rejectsWithCode(verifySign1(msg, { key: ed25519.publicKey, detachedPayload: utf8('other') }), 'ERR_COSE_SIGNATURE_INVALID');
  });

  it('resolves the key by kid, and fails typed when the kid is unknown', async () => {
    const msg = await sign1({ payload, signer: p256Signer, protectedHeader: { kid: utf8('device-key') } });
    const keys = new Map([['device-key', p256.publicKey]]);
    const seen: number[] = [];
    const resolveKey = ({ kid, alg }: { kid: Uint8Array | undefined; alg: number }) => {
      seen.push(alg);
      return kid === undefined ? undefined : keys.get(Buffer.from(kid).toString());
    };
    assert.deepEqual((await verifySign1(msg, { resolveKey })).payload, payload);
    assert.deepEqual(seen, [-7]);
    keys.clear();
    await rejectsWithCode(verifySign1(msg, { resolveKey }), 'ERR_COSE_KEY_NOT_FOUND');
  });

  it('enforces the algorithm allowlist and the key type', async () => {
    const msg = await sign1({ payload, signer: p256Signer });
    await rejectsWithCode(verifySign1(msg, { key: p256.publicKey, algorithms: [-8] }), 'ERR_COSE_ALGORITHM_NOT_ALLOWED');
    await rejectsWithCode(verifySign1(msg, { key: ed25519.publicKey }), 'ERR_COSE_KEY_MISMATCH');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await rejectsWithCode(verifySign1(msg, { key: other.publicKey }), 'ERR_COSE_SIGNATURE_INVALID');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    await rejectsWithCode(verifySign1(msg, { key: p384.publicKey }), 'ERR_COSE_KEY_MISMATCH');
  });

  it('rejects unknown critical headers unless the application understands them', async () => {
    const protectedHeader = new Map<number | string, unknown>([[2, [-70000]], [-70000, 1]]);
    const msg = await sign1({ payload, signer: edSigner, protectedHeader });
    await rejectsWithCode(verifySign1(msg, { key: ed25519.publicKey }), 'ERR_COSE_UNKNOWN_CRITICAL_HEADER');
    await verifySign1(msg, { key: ed25519.publicKey, criticalHeaders: [-70000] });
  });

  it('accepts an empty protected bucket written as h\'a0\' and signs it as h\'\' (RFC 9052 §3, §4.4)', async () => {
    const unprotected = new Map<number, unknown>([[1, -8]]);
    const bare = await sign1({ payload, signer: edSigner, unprotectedHeader: unprotected, tagged: false });
    const [prot, u, p, sig] = decodeSign1(bare);
    assert.equal((prot as Uint8Array).length, 0);
    const withA0 = encodeCbor([new Uint8Array([0xa0]), u, p, sig]);
    await verifySign1(withA0, { key: ed25519.publicKey });
  });

  it('rejects malformed envelopes with typed errors', async () => {
    const msg = await sign1({ payload, signer: edSigner, unprotectedHeader: { kid: utf8('a') } });
    const [prot, u, p, sig] = decodeSign1(msg) as [Uint8Array, Map<number, unknown>, Uint8Array, Uint8Array];
    const key = ed25519.publicKey;
    const cases: [string, unknown, string][] = [
      ['wrong tag', new CborTag(17, [prot, u, p, sig]), 'ERR_COSE_UNEXPECTED_TAG'],
      ['three fields', [prot, u, p], 'ERR_COSE_MALFORMED'],
      ['protected as map', [new Map(), u, p, sig], 'ERR_COSE_MALFORMED'],
      ['protected not a map inside', [encodeCbor([1]), u, p, sig], 'ERR_COSE_MALFORMED'],
      ['protected with trailing bytes', [new Uint8Array([...prot, 0x00]), u, p, sig], 'ERR_COSE_MALFORMED'],
      ['unprotected as array', [prot, [], p, sig], 'ERR_COSE_MALFORMED'],
      ['payload as text', [prot, u, 'text', sig], 'ERR_COSE_MALFORMED'],
      ['signature as text', [prot, u, p, 'sig'], 'ERR_COSE_MALFORMED'],
      ['label in both buckets', [prot, new Map([[1, -8]]), p, sig], 'ERR_COSE_MALFORMED'],
      ['kid not a bstr', [prot, new Map([[4, 'a']]), p, sig], 'ERR_COSE_MALFORMED'],
      ['crit in the unprotected bucket', [prot, new Map([[2, [4]]]), p, sig], 'ERR_COSE_MALFORMED'],
      ['IV and Partial IV together', [prot, new Map([[5, new Uint8Array(12)], [6, new Uint8Array(1)]]), p, sig], 'ERR_COSE_MALFORMED'],
      ['no alg', [new Uint8Array(0), u, p, sig], 'ERR_COSE_MALFORMED'],
      ['alg as text', [encodeCbor(new Map([[1, 'ES256']])), u, p, sig], 'ERR_COSE_UNSUPPORTED_ALGORITHM'],
      ['short signature', [prot, u, p, sig.subarray(0, 63)], 'ERR_COSE_SIGNATURE_INVALID'],
    ];
    for (const [name, value, code] of cases) {
      await rejectsWithCode(verifySign1(encodeCbor(value), { key }), code).catch((err: unknown) => {
        throw new Error(`${name}: ${String(err)}`);
      });
    }
  });

  it('checks its arguments', async () => {
    await rejectsWithCode(sign1({ payload: 'x' as unknown as Uint8Array, signer: edSigner }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(sign1({ payload, signer: {} as Signer }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(sign1({ payload, signer: edSigner, protectedHeader: { alg: -7 } }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(sign1({ payload, signer: edSigner, protectedHeader: { nonsense: 1 } as never }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(sign1({ payload, signer: edSigner, protectedHeader: { kid: 'abc' as unknown as Uint8Array } }), 'ERR_INVALID_ARGUMENT');
    const badSigner: Signer = { algorithm: 'EdDSA', publicKey: edSigner.publicKey, sign: async () => new Uint8Array(10) };
    await rejectsWithCode(sign1({ payload, signer: badSigner }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(sign1({ payload, signer: edSigner, tagged: 'no' as never }), 'ERR_INVALID_ARGUMENT');
    const msg = await sign1({ payload, signer: edSigner });
    await rejectsWithCode(verifySign1(msg, {}), 'ERR_INVALID_ARGUMENT');
    // publicKey is an alias of key; giving both is ambiguous.
    assert.deepEqual((await verifySign1(msg, { publicKey: ed25519.publicKey })).payload, payload);
    await rejectsWithCode(verifySign1(msg, { key: ed25519.publicKey, publicKey: ed25519.publicKey }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifySign1(msg, { key: ed25519.publicKey, resolveKey: () => undefined }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifySign1(msg, { key: new Uint8Array(5) }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifySign1(msg, { key: ed25519.publicKey, algorithms: ['EdDSA'] as unknown as number[] }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifySign1(msg, { key: ed25519.publicKey, detachedPayload: payload }), 'ERR_INVALID_ARGUMENT');
  });
});

describe('sign1 with KeyStore keys', () => {
  let dir: string;
  let store: KeyStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rootline-cose-'));
    store = await openSoftwareKeyStore({ directory: dir, masterKey: new Uint8Array(randomBytes(32)) });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('signs through the store (the private key never reaches COSE) for P-256 and Ed25519', async () => {
    await store.generateKey('fw-es256', 'ec-p256');
    await store.generateKey('fw-eddsa', 'ed25519');
    for (const label of ['fw-es256', 'fw-eddsa']) {
      const signer = await keyStoreSigner(store, label);
      const msg = await sign1({ payload, signer, unprotectedHeader: { kid: utf8(label) } });
      const result = await verifySign1(msg, { key: signer.publicKey });
      assert.deepEqual(result.payload, payload);
    }
  });
});
