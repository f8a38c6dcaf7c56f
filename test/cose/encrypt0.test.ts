import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSoftwareKeyStore } from '../../src/crypto/keystore/software.js';
import type { KeyStore } from '../../src/crypto/keystore/types.js';
import { keyStoreContentKey } from '../../src/cose/content-key.js';
import { AEAD_ALGORITHMS } from '../../src/cose/algorithms.js';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { decrypt0, encrypt0 } from '../../src/cose/encrypt0.js';
import { hex, rejectsWithCode, toHex, utf8 } from './helpers.js';

const plaintext = utf8('wifi-psk=correct horse battery staple');

function fields(bytes: Uint8Array): [Uint8Array, Map<number, unknown>, Uint8Array | null] {
  const v = decodeCbor(bytes);
  return (v instanceof CborTag ? v.contents : v) as [Uint8Array, Map<number, unknown>, Uint8Array | null];
}

describe('encrypt0 / decrypt0', () => {
  for (const alg of AEAD_ALGORITHMS.values()) {
    it(`${alg.name} (${alg.id}): random ${alg.nonceLength}-byte IV, ${alg.tagLength}-byte tag, round trip`, async () => {
      const key = new Uint8Array(randomBytes(alg.keyLength));
      const msg = await encrypt0({ plaintext, key, alg: alg.id });
      const decoded = decodeCbor(msg);
      assert.ok(decoded instanceof CborTag && decoded.tag === 16);
      const [prot, unprot, ct] = fields(msg);
      assert.deepEqual(decodeCbor(prot), new Map([[1, alg.id]]));
      assert.equal((unprot.get(5) as Uint8Array).length, alg.nonceLength);
      assert.equal(ct!.length, plaintext.length + alg.tagLength);
      const result = await decrypt0(msg, { key });
      assert.deepEqual(result.plaintext, plaintext);
      assert.equal(result.alg, alg.id);
      // Two encryptions never share a nonce by accident.
      const again = await encrypt0({ plaintext, key, alg: alg.id });
      assert.notDeepEqual(fields(again)[1].get(5), unprot.get(5));
    });
  }

  it('encrypts and decrypts an empty plaintext, also one without a backing store (randomBytes(0))', async () => {
    for (const alg of AEAD_ALGORITHMS.values()) {
      const key = new Uint8Array(randomBytes(alg.keyLength));
      for (const empty of [new Uint8Array(0), randomBytes(0)]) {
        const msg = await encrypt0({ plaintext: empty, key, alg: alg.id });
        assert.equal(fields(msg)[2]!.length, alg.tagLength, alg.name);
        assert.equal((await decrypt0(msg, { key })).plaintext.length, 0, alg.name);
      }
    }
  });

  it('LEA and ARIA use private-use identifiers below -65536 and the AES shapes', () => {
    const private_ = [...AEAD_ALGORITHMS.values()].filter((a) => a.id < -65536);
    assert.equal(private_.length, 20);
    for (const a of private_) {
      assert.match(a.name, /^(LEA|ARIA)-/);
      const aesName = a.name.replace(/^(LEA|ARIA)-(128|256)-GCM$/, 'A$2GCM').replace(/^(LEA|ARIA)-CCM/, 'AES-CCM');
      const aes = [...AEAD_ALGORITHMS.values()].find((x) => x.name === aesName);
      assert.ok(aes !== undefined, `no AES counterpart for ${a.name}`);
      assert.deepEqual([a.keyLength, a.nonceLength, a.tagLength, a.maxPlaintextLength], [aes.keyLength, aes.nonceLength, aes.tagLength, aes.maxPlaintextLength]);
    }
  });

  it('ARIA-GCM and ARIA-CCM messages match OpenSSL\'s ARIA run directly over the Enc_structure', async () => {
    for (const [id, node, tagLength] of [[-65547, 'aria-128-gcm', 16], [-65549, 'aria-128-ccm', 8], [-65554, 'aria-256-ccm', 16]] as const) {
      const alg = AEAD_ALGORITHMS.get(id)!;
      const key = new Uint8Array(randomBytes(alg.keyLength));
      const msg = await encrypt0({ plaintext, key, alg: id, externalAad: utf8('ext') });
      const [p, u, ct] = fields(msg);
      const nonce = u.get(5) as Uint8Array;
      assert.equal(nonce.length, alg.nonceLength);
      const aad = encodeCbor(['Encrypt0', p, utf8('ext')]);
      // The cast only picks node's typing overload that accepts plaintextLength; GCM ignores it.
      const cipher = createCipheriv(node as 'aes-128-ccm', key, nonce, { authTagLength: tagLength });
      cipher.setAAD(aad, { plaintextLength: plaintext.length });
      const expected = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      assert.deepEqual(Buffer.from(ct!), expected, alg.name);
    }
  });

  it('fails to decrypt under a wrong key, wrong external AAD, or a flipped ciphertext bit', async () => {
    const key = new Uint8Array(randomBytes(16));
    const msg = await encrypt0({ plaintext, key, alg: 10, externalAad: utf8('slot-A') });
    assert.deepEqual((await decrypt0(msg, { key, externalAad: utf8('slot-A') })).plaintext, plaintext);
    await rejectsWithCode(decrypt0(msg, { key: new Uint8Array(randomBytes(16)), externalAad: utf8('slot-A') }), 'ERR_COSE_DECRYPTION_FAILED');
    await rejectsWithCode(decrypt0(msg, { key }), 'ERR_COSE_DECRYPTION_FAILED');
    const [p, u, ct] = fields(msg);
    const flipped = new Uint8Array(ct!);
    flipped[0]! ^= 1;
    await rejectsWithCode(decrypt0(encodeCbor([p, u, flipped]), { key, externalAad: utf8('slot-A') }), 'ERR_COSE_DECRYPTION_FAILED');
    await rejectsWithCode(decrypt0(encodeCbor([p, u, ct!.subarray(0, 7)]), { key, externalAad: utf8('slot-A') }), 'ERR_COSE_DECRYPTION_FAILED');
  });

  it('checks the key length against the algorithm', async () => {
    const key = new Uint8Array(randomBytes(16));
    const msg = await encrypt0({ plaintext, key, alg: 1 });
    await rejectsWithCode(decrypt0(msg, { key: new Uint8Array(32) }), 'ERR_COSE_KEY_MISMATCH');
    await rejectsWithCode(encrypt0({ plaintext, key, alg: 3 }), 'ERR_INVALID_ARGUMENT');
  });

  it('supports detached ciphertext and kid-based key resolution', async () => {
    const key = new Uint8Array(randomBytes(32));
    const msg = await encrypt0({ plaintext, key, alg: 3, unprotectedHeader: { kid: utf8('fleet-key-1') }, detachCiphertext: true });
    const [, , ct] = fields(msg);
    assert.equal(ct, null);
    const msgWithCt = await encrypt0({ plaintext, key, alg: 3, iv: fields(msg)[1].get(5) as Uint8Array, unprotectedHeader: { kid: utf8('fleet-key-1') } });
    const detached = fields(msgWithCt)[2]!;
    const resolveKey = ({ kid }: { kid: Uint8Array | undefined }) => (kid && Buffer.from(kid).toString() === 'fleet-key-1' ? key : undefined);
    await rejectsWithCode(decrypt0(msg, { resolveKey }), 'ERR_COSE_DETACHED_CONTENT');
    assert.deepEqual((await decrypt0(msg, { resolveKey, detachedCiphertext: detached })).plaintext, plaintext);
    const other = await encrypt0({ plaintext, key, alg: 3, unprotectedHeader: { kid: utf8('fleet-key-2') } });
    await rejectsWithCode(decrypt0(other, { resolveKey }), 'ERR_COSE_KEY_NOT_FOUND');
  });

  it('enforces the AES-CCM length limit of L=2 (RFC 9053 §4.2: at most 2^16 - 1 bytes)', async () => {
    const key = new Uint8Array(randomBytes(16));
    const max = new Uint8Array(65535);
    assert.equal((await decrypt0(await encrypt0({ plaintext: max, key, alg: 10 }), { key })).plaintext.length, 65535);
    await rejectsWithCode(encrypt0({ plaintext: new Uint8Array(65536), key, alg: 10 }), 'ERR_INVALID_ARGUMENT');
    // L=8 (7-byte nonce) has no practical limit.
    assert.equal((await decrypt0(await encrypt0({ plaintext: new Uint8Array(65536), key, alg: 12 }), { key })).plaintext.length, 65536);
  });

  it('rejects messages with a missing or wrong-sized nonce, and algorithms outside the allowlist', async () => {
    const key = new Uint8Array(randomBytes(16));
    const msg = await encrypt0({ plaintext, key, alg: 10 });
    const [p, , ct] = fields(msg);
    await rejectsWithCode(decrypt0(encodeCbor([p, new Map(), ct]), { key }), 'ERR_COSE_MALFORMED');
    await rejectsWithCode(decrypt0(encodeCbor([p, new Map([[5, new Uint8Array(12)]]), ct]), { key }), 'ERR_COSE_MALFORMED');
    await rejectsWithCode(decrypt0(encodeCbor([p, new Map([[6, new Uint8Array(14)]]), ct]), { key, baseIv: new Uint8Array(13) }), 'ERR_COSE_MALFORMED');
    await rejectsWithCode(decrypt0(msg, { key, algorithms: [1, 3] }), 'ERR_COSE_ALGORITHM_NOT_ALLOWED');
    await rejectsWithCode(decrypt0(encodeCbor(new CborTag(16, [p, new Map([[5, new Uint8Array(13)]])])), { key }), 'ERR_COSE_MALFORMED');
  });

  it('derives the nonce from Partial IV and Base IV, and only a matching Base IV decrypts', async () => {
    const key = new Uint8Array(randomBytes(16));
    const baseIv = new Uint8Array(randomBytes(12));
    const msg = await encrypt0({ plaintext, key, alg: 1, partialIv: new Uint8Array([0, 5]), baseIv });
    const [, u] = fields(msg);
    assert.deepEqual(u.get(6), new Uint8Array([0, 5]));
    assert.equal(u.has(5), false);
    assert.deepEqual((await decrypt0(msg, { key, baseIv })).plaintext, plaintext);
    const wrong = new Uint8Array(baseIv);
    wrong[11]! ^= 1;
    await rejectsWithCode(decrypt0(msg, { key, baseIv: wrong }), 'ERR_COSE_DECRYPTION_FAILED');
  });

  it('checks its arguments', async () => {
    const key = new Uint8Array(16);
    await rejectsWithCode(encrypt0({ plaintext, key, alg: 99 }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(encrypt0({ plaintext, key, alg: 1, iv: new Uint8Array(13) }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(encrypt0({ plaintext, key, alg: 1, unprotectedHeader: { iv: new Uint8Array(12) } }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(encrypt0({ plaintext, key, alg: 1, partialIv: new Uint8Array(1) }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(encrypt0({ plaintext, key, alg: 1, protectedHeader: { alg: 3 } }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(encrypt0({ plaintext: 'x' as unknown as Uint8Array, key, alg: 1 }), 'ERR_INVALID_ARGUMENT');
    const msg = await encrypt0({ plaintext, key, alg: 1 });
    await rejectsWithCode(decrypt0(msg, {}), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(decrypt0(msg, { key: new Uint8Array(5) }), 'ERR_INVALID_ARGUMENT');
  });
});

describe('encrypt0 / decrypt0 with KeyStore content keys', () => {
  let dir: string;
  let store: KeyStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rootline-cose-enc-'));
    store = await openSoftwareKeyStore({ directory: dir, masterKey: new Uint8Array(randomBytes(32)) });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reproduces RFC 9052 C.4.1 with the key inside the store, and interoperates with raw keys', async () => {
    const ourSecret2 = hex('849b5786457c1491be3a76dcea6c4271');
    await store.importKey('our-secret2', 'aes-128', ourSecret2);
    const key = await keyStoreContentKey(store, 'our-secret2', 10);
    const msg = await encrypt0({ plaintext: utf8('This is the content.'), key, alg: 10, iv: hex('89f52f65a1c580933b5261a78c') });
    assert.equal(toHex(msg), 'd08343a1010aa1054d89f52f65a1c580933b5261a78c581c5974e1b99a3a4cc09a659aa2e9e7fff161d38ce71cb45ce460ffb569');
    assert.deepEqual((await decrypt0(msg, { key })).plaintext, utf8('This is the content.'));
    for (const alg of [1, 10, 12, 30, 32]) {
      const fromStore = await encrypt0({ plaintext, key: await keyStoreContentKey(store, 'our-secret2', alg), alg });
      assert.deepEqual((await decrypt0(fromStore, { key: ourSecret2 })).plaintext, plaintext);
      const fromRaw = await encrypt0({ plaintext, key: ourSecret2, alg });
      assert.deepEqual((await decrypt0(fromRaw, { key: await keyStoreContentKey(store, 'our-secret2', alg) })).plaintext, plaintext);
    }
  });

  it('fails typed on tampering, algorithm mismatch and unusable keys', async () => {
    await store.generateKey('k256', 'aes-256');
    const key = await keyStoreContentKey(store, 'k256', 3);
    const msg = await encrypt0({ plaintext, key, alg: 3 });
    const [p, u, ct] = fields(msg);
    const flipped = new Uint8Array(ct!);
    flipped[flipped.length - 1]! ^= 0x80;
    await rejectsWithCode(decrypt0(encodeCbor([p, u, flipped]), { key }), 'ERR_COSE_DECRYPTION_FAILED');
    await rejectsWithCode(decrypt0(msg, { key: await keyStoreContentKey(store, 'k256', 11) }), 'ERR_COSE_KEY_MISMATCH');
    await rejectsWithCode(encrypt0({ plaintext, key, alg: 11 }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(keyStoreContentKey(store, 'k256', 1), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(keyStoreContentKey(store, 'k256', 2), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(keyStoreContentKey(store, 'k256', -65537), 'ERR_INVALID_ARGUMENT');
  });
});
