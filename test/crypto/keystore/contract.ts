/**
 * The KeyStore contract: one suite every backend must pass. Each backend's test file calls
 * `keyStoreContract` with a function that opens a store (a fresh one per call is not required:
 * the suite uses its own label prefix per run).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCipheriv,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  verify,
  type KeyObject,
} from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { isRootlineError } from '../../../src/errors.js';
import { keyStoreSigner } from '../../../src/crypto/signer.js';
import { KEY_TYPES, type KeyStore, type KeyStoreAeadAlgorithm, type KeyType } from '../../../src/crypto/keystore/index.js';

export const AEAD_ALGS: readonly KeyStoreAeadAlgorithm[] = ['AES-128-GCM', 'AES-128-CCM', 'AES-128-CCM-8', 'AES-256-GCM', 'AES-256-CCM', 'AES-256-CCM-8'];

/** Asserts that `p` rejects with a RootlineError carrying `code`. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isRootlineError(e, code), `expected ${code}, got ${String(e)} (${(e as { code?: string }).code})`);
    return true;
  });
}

export function spkiKey(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

/** The reference AEAD output from node:crypto (OpenSSL) for a raw key. */
export function referenceSeal(alg: KeyStoreAeadAlgorithm, key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array): Buffer {
  const bits = alg.startsWith('AES-128') ? 128 : 256;
  if (alg.endsWith('GCM')) {
    const c = createCipheriv(`aes-${bits}-gcm` as 'aes-128-gcm', key, nonce);
    c.setAAD(aad);
    return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  }
  const tagLen = alg.endsWith('CCM-8') ? 8 : 16;
  const c = createCipheriv(`aes-${bits}-ccm` as 'aes-128-ccm', key, nonce, { authTagLength: tagLen });
  c.setAAD(aad, { plaintextLength: pt.length });
  // OpenSSL's CCM needs an empty message as a NULL pointer (a fresh zero-length array).
  return Buffer.concat([c.update(pt.length === 0 ? new Uint8Array(0) : pt), c.final(), c.getAuthTag()]);
}

export function nonceFor(alg: KeyStoreAeadAlgorithm, ccmLength = 13): Uint8Array {
  return randomBytes(alg.endsWith('GCM') ? 12 : ccmLength);
}

export interface ContractOptions {
  backend: 'software' | 'pkcs11';
  open(): Promise<KeyStore>;
  /** Runs for the argument-validation property test (keygen in a token is slower). */
  propertyRuns: number;
}

export function keyStoreContract(opts: ContractOptions): void {
  describe(`KeyStore contract (${opts.backend})`, () => {
    let ks: KeyStore;
    const prefix = `c${randomBytes(3).toString('hex')}-`;
    const L = (name: string): string => prefix + name;

    before(async () => {
      ks = await opts.open();
    });
    after(async () => {
      await ks.close();
    });

    it('generates every key type and describes it', async () => {
      assert.equal(ks.backend, opts.backend);
      for (const type of KEY_TYPES) {
        const info = await ks.generateKey(L(`gen-${type}`), type);
        assert.equal(info.label, L(`gen-${type}`));
        assert.equal(info.type, type);
        assert.equal(info.backend, opts.backend);
        assert.ok(!Number.isNaN(Date.parse(info.createdAt)), info.createdAt);
        assert.equal(await ks.hasKey(info.label), true);
        assert.deepEqual(await ks.getKeyInfo(info.label), info);
      }
      const listed = (await ks.listKeys()).filter((k) => k.label.startsWith(L('gen-')));
      assert.deepEqual(listed.map((k) => k.type).sort(), [...KEY_TYPES].sort());
    });

    it('refuses a duplicate label for generate and import', async () => {
      await ks.generateKey(L('dup'), 'aes-128');
      await rejectsWith(ks.generateKey(L('dup'), 'ec-p256'), 'ERR_KEYSTORE_LABEL_EXISTS');
      await rejectsWith(ks.importKey(L('dup'), 'aes-128', randomBytes(16)), 'ERR_KEYSTORE_LABEL_EXISTS');
    });

    it('reports unknown labels as ERR_KEYSTORE_KEY_NOT_FOUND', async () => {
      const nope = L('absent');
      assert.equal(await ks.hasKey(nope), false);
      await rejectsWith(ks.getKeyInfo(nope), 'ERR_KEYSTORE_KEY_NOT_FOUND');
      await rejectsWith(ks.getPublicKey(nope), 'ERR_KEYSTORE_KEY_NOT_FOUND');
      await rejectsWith(ks.sign(nope, Buffer.from('x')), 'ERR_KEYSTORE_KEY_NOT_FOUND');
      await rejectsWith(ks.hmac(nope, Buffer.from('x')), 'ERR_KEYSTORE_KEY_NOT_FOUND');
      await rejectsWith(ks.seal(nope, 'AES-128-GCM', randomBytes(12), Buffer.from('x')), 'ERR_KEYSTORE_KEY_NOT_FOUND');
      await rejectsWith(ks.deleteKey(nope), 'ERR_KEYSTORE_KEY_NOT_FOUND');
    });

    it('ES256 signatures (raw r||s) verify with node:crypto against getPublicKey', async () => {
      const label = L('sig-p256');
      await ks.generateKey(label, 'ec-p256');
      const pub = spkiKey(await ks.getPublicKey(label));
      assert.equal(pub.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      for (const data of [Buffer.alloc(0), Buffer.from('hello'), randomBytes(5000)]) {
        const sig = await ks.sign(label, data);
        assert.equal(sig.length, 64);
        assert.ok(verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig));
        assert.ok(!verify('sha256', Buffer.concat([data, Buffer.from([1])]), { key: pub, dsaEncoding: 'ieee-p1363' }, sig));
      }
    });

    it('Ed25519 signatures verify with node:crypto against getPublicKey', async () => {
      const label = L('sig-ed');
      await ks.generateKey(label, 'ed25519');
      const pub = spkiKey(await ks.getPublicKey(label));
      assert.equal(pub.asymmetricKeyType, 'ed25519');
      const data = Buffer.from('a COSE Sig_structure');
      const sig = await ks.sign(label, data);
      assert.equal(sig.length, 64);
      assert.ok(verify(null, data, pub, sig));
      assert.ok(!verify(null, Buffer.from('something else'), pub, sig));
    });

    it('keyStoreSigner wraps a stored key as a Signer (ES256 and EdDSA)', async () => {
      for (const [type, algorithm] of [['ec-p256', 'ES256'], ['ed25519', 'EdDSA']] as const) {
        const label = L(`signer-${type}`);
        await ks.generateKey(label, type);
        const signer = await keyStoreSigner(ks, label);
        assert.equal(signer.algorithm, algorithm);
        assert.deepEqual(signer.publicKey, await ks.getPublicKey(label));
        const sig = await signer.sign(Buffer.from('tbs'));
        const pub = spkiKey(signer.publicKey);
        assert.ok(type === 'ec-p256' ? verify('sha256', Buffer.from('tbs'), { key: pub, dsaEncoding: 'ieee-p1363' }, sig) : verify(null, Buffer.from('tbs'), pub, sig));
      }
    });

    it('imports PKCS#8 keys: same public key as node, and signatures verify', async () => {
      for (const type of ['ec-p256', 'ed25519'] as const) {
        const { privateKey, publicKey } = type === 'ec-p256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
        const label = L(`imp-${type}`);
        const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
        const info = await ks.importKey(label, type, pkcs8);
        assert.equal(info.type, type);
        assert.deepEqual(Buffer.from(await ks.getPublicKey(label)), publicKey.export({ type: 'spki', format: 'der' }));
        const sig = await ks.sign(label, Buffer.from('imported'));
        assert.ok(
          type === 'ec-p256'
            ? verify('sha256', Buffer.from('imported'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)
            : verify(null, Buffer.from('imported'), publicKey, sig),
        );
      }
    });

    it('ECDH agrees with node:crypto, for generated and imported keys', async () => {
      const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const peerSpki = peer.publicKey.export({ type: 'spki', format: 'der' });
      await ks.generateKey(L('ecdh-gen'), 'ec-p256');
      const mine = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await ks.importKey(L('ecdh-imp'), 'ec-p256', mine.privateKey.export({ type: 'pkcs8', format: 'der' }));
      for (const label of [L('ecdh-gen'), L('ecdh-imp')]) {
        const z = await ks.deriveSharedSecret(label, peerSpki);
        const expected = diffieHellman({ privateKey: peer.privateKey, publicKey: spkiKey(await ks.getPublicKey(label)) });
        assert.equal(z.length, 32);
        assert.deepEqual(Buffer.from(z), expected);
      }
      // A P-256 point that is not on the curve, and a key on another curve, are refused.
      const bad = Buffer.from(peerSpki);
      bad[bad.length - 1]! ^= 1;
      await rejectsWith(ks.deriveSharedSecret(L('ecdh-gen'), bad), 'ERR_INVALID_ARGUMENT');
      const x25519 = generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'der' });
      await rejectsWith(ks.deriveSharedSecret(L('ecdh-gen'), x25519), 'ERR_INVALID_ARGUMENT');
    });

    it('HMAC-SHA-256 matches node:crypto (imported key), including an empty message', async () => {
      const secret = randomBytes(32);
      await ks.importKey(L('hmac'), 'hmac-256', secret);
      for (const data of [Buffer.alloc(0), Buffer.from('abc'), randomBytes(1000)]) {
        assert.deepEqual(Buffer.from(await ks.hmac(L('hmac'), data)), createHmac('sha256', secret).update(data).digest());
      }
      await ks.generateKey(L('hmac-gen'), 'hmac-256');
      const a = await ks.hmac(L('hmac-gen'), Buffer.from('x'));
      assert.equal(a.length, 32);
      assert.deepEqual(await ks.hmac(L('hmac-gen'), Buffer.from('x')), a);
    });

    it('AEAD: seal matches node:crypto, open round-trips, and any tampering is ERR_AEAD_AUTH_FAILED', async () => {
      const k128 = randomBytes(16);
      const k256 = randomBytes(32);
      await ks.importKey(L('aes128'), 'aes-128', k128);
      await ks.importKey(L('aes256'), 'aes-256', k256);
      for (const alg of AEAD_ALGS) {
        const [label, key] = alg.startsWith('AES-128') ? [L('aes128'), k128] : [L('aes256'), k256];
        for (const [ptLen, aadLen, ccmNonce] of [[0, 0, 13], [1, 0, 7], [16, 13, 12], [100, 300, 13], [33, 70000, 8]] as const) {
          const nonce = nonceFor(alg, ccmNonce);
          const pt = randomBytes(ptLen);
          const aad = randomBytes(aadLen);
          const sealed = await ks.seal(label, alg, nonce, pt, aadLen === 0 ? undefined : aad);
          assert.deepEqual(Buffer.from(sealed), referenceSeal(alg, key, nonce, pt, aad), `${alg} ${ptLen}/${aadLen}`);
          assert.deepEqual(Buffer.from(await ks.open(label, alg, nonce, sealed, aadLen === 0 ? undefined : aad)), pt);
          const flipped = Buffer.from(sealed);
          flipped[Math.floor(Math.random() * flipped.length)]! ^= 0x01;
          await rejectsWith(ks.open(label, alg, nonce, flipped, aad), 'ERR_AEAD_AUTH_FAILED');
          await rejectsWith(ks.open(label, alg, nonce, sealed, Buffer.concat([aad, Buffer.from([0])])), 'ERR_AEAD_AUTH_FAILED');
          const otherNonce = Buffer.from(nonce);
          otherNonce[0]! ^= 0x80;
          await rejectsWith(ks.open(label, alg, otherNonce, sealed, aad), 'ERR_AEAD_AUTH_FAILED');
          await rejectsWith(ks.open(label, alg, nonce, sealed.subarray(0, sealed.length - 1), aad), 'ERR_AEAD_AUTH_FAILED');
        }
        // Shorter than a tag: nothing to authenticate.
        await rejectsWith(ks.open(label, alg, nonceFor(alg), new Uint8Array(3)), 'ERR_AEAD_AUTH_FAILED');
      }
      // The store still works after failures (a token session must not be left mid-operation).
      const n = randomBytes(12);
      assert.deepEqual(Buffer.from(await ks.open(L('aes128'), 'AES-128-GCM', n, await ks.seal(L('aes128'), 'AES-128-GCM', n, Buffer.from('ok')))), Buffer.from('ok'));
    });

    it('AEAD with generated keys round-trips for every algorithm', async () => {
      await ks.generateKey(L('aes128-gen'), 'aes-128');
      await ks.generateKey(L('aes256-gen'), 'aes-256');
      for (const alg of AEAD_ALGS) {
        const label = alg.startsWith('AES-128') ? L('aes128-gen') : L('aes256-gen');
        const nonce = nonceFor(alg);
        const pt = randomBytes(77);
        const sealed = await ks.seal(label, alg, nonce, pt, Buffer.from('hdr'));
        assert.equal(sealed.length, 77 + (alg.endsWith('CCM-8') ? 8 : 16));
        assert.deepEqual(Buffer.from(await ks.open(label, alg, nonce, sealed, Buffer.from('hdr'))), pt);
      }
    });

    it('refuses bad AEAD parameters with ERR_INVALID_ARGUMENT naming the argument', async () => {
      await ks.generateKey(L('aead-args'), 'aes-128');
      const bad = async (p: Promise<unknown>, argument: string): Promise<void> => {
        await assert.rejects(p, (e: unknown) => {
          assert.ok(isRootlineError(e, 'ERR_INVALID_ARGUMENT'), String(e));
          assert.equal((e as { argument?: string }).argument, argument);
          return true;
        });
      };
      const label = L('aead-args');
      await bad(ks.seal(label, 'AES-128-GCM', randomBytes(13), Buffer.from('x')), 'nonce');
      await bad(ks.seal(label, 'AES-128-CCM', randomBytes(6), Buffer.from('x')), 'nonce');
      await bad(ks.seal(label, 'AES-128-CCM', randomBytes(14), Buffer.from('x')), 'nonce');
      await bad(ks.seal(label, 'AES-192-GCM' as KeyStoreAeadAlgorithm, randomBytes(12), Buffer.from('x')), 'alg');
      await bad(ks.seal(label, 'AES-128-GCM', randomBytes(12), 'text' as never), 'plaintext');
      await bad(ks.open(label, 'AES-128-GCM', randomBytes(12), randomBytes(20), 'aad' as never), 'aad');
      // RFC 3610 §2: with a 13-byte nonce the length field has L = 2 octets, so < 65536 bytes.
      await bad(ks.seal(label, 'AES-128-CCM-8', randomBytes(13), new Uint8Array(65536)), 'plaintext');
      assert.equal((await ks.seal(label, 'AES-128-CCM-8', randomBytes(13), new Uint8Array(65535))).length, 65535 + 8);
    });

    it('refuses the wrong key type with ERR_KEYSTORE_WRONG_KEY_TYPE', async () => {
      await ks.generateKey(L('wt-aes'), 'aes-128');
      await ks.generateKey(L('wt-ed'), 'ed25519');
      await ks.generateKey(L('wt-ec'), 'ec-p256');
      const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
      await rejectsWith(ks.sign(L('wt-aes'), Buffer.from('x')), 'ERR_KEYSTORE_WRONG_KEY_TYPE');
      await rejectsWith(ks.getPublicKey(L('wt-aes')), 'ERR_KEYSTORE_WRONG_KEY_TYPE');
      await rejectsWith(ks.deriveSharedSecret(L('wt-ed'), peer), 'ERR_KEYSTORE_WRONG_KEY_TYPE');
      await rejectsWith(ks.hmac(L('wt-ec'), Buffer.from('x')), 'ERR_KEYSTORE_WRONG_KEY_TYPE');
      await rejectsWith(ks.seal(L('wt-ec'), 'AES-128-GCM', randomBytes(12), Buffer.from('x')), 'ERR_KEYSTORE_WRONG_KEY_TYPE');
      await rejectsWith(ks.seal(L('wt-aes'), 'AES-256-GCM', randomBytes(12), Buffer.from('x')), 'ERR_KEYSTORE_WRONG_KEY_TYPE');
      await rejectsWith(ks.open(L('wt-aes'), 'AES-256-CCM', randomBytes(13), randomBytes(20)), 'ERR_KEYSTORE_WRONG_KEY_TYPE');
    });

    it('checks that imported material matches the type', async () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' });
      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'der' });
      const secret = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
      const cases: [KeyType, Uint8Array][] = [
        ['ed25519', ec],
        ['ec-p256', p384],
        ['ec-p256', randomBytes(100)],
        ['aes-128', randomBytes(32)],
        ['aes-256', secret],
        ['hmac-256', secret],
      ];
      for (const [type, material] of cases) {
        await assert.rejects(ks.importKey(L('bad-material'), type, material), (e: unknown) => {
          assert.ok(isRootlineError(e, 'ERR_INVALID_ARGUMENT'), String(e));
          assert.equal((e as { argument?: string }).argument, 'material');
          assert.ok(!(e as Error).message.includes(secret.toString('hex')));
          return true;
        });
      }
      assert.equal(await ks.hasKey(L('bad-material')), false);
    });

    it('deletes keys, after which the label is free again', async () => {
      await ks.generateKey(L('del'), 'ec-p256');
      const before = await ks.getPublicKey(L('del'));
      const data = Buffer.from('signed before and after the delete');
      // Used once before the delete (a backend may keep the imported key): the new key must sign afterwards.
      assert.ok(verify('sha256', data, { key: spkiKey(before), dsaEncoding: 'ieee-p1363' }, await ks.sign(L('del'), data)));
      await ks.deleteKey(L('del'));
      assert.equal(await ks.hasKey(L('del')), false);
      assert.ok(!(await ks.listKeys()).some((k) => k.label === L('del')));
      await rejectsWith(ks.sign(L('del'), data), 'ERR_KEYSTORE_KEY_NOT_FOUND');
      await ks.generateKey(L('del'), 'ec-p256');
      const after = await ks.getPublicKey(L('del'));
      assert.notDeepEqual(after, before);
      const sig = await ks.sign(L('del'), data);
      assert.ok(verify('sha256', data, { key: spkiKey(after), dsaEncoding: 'ieee-p1363' }, sig));
      assert.ok(!verify('sha256', data, { key: spkiKey(before), dsaEncoding: 'ieee-p1363' }, sig));
    });

    it('never shows key material in inspect/toString/JSON', async () => {
      const secret = randomBytes(32);
      await ks.importKey(L('show'), 'aes-256', secret);
      for (const text of [inspect(ks, { depth: 10, showHidden: true }), String(ks), JSON.stringify(ks)]) {
        assert.ok(!text.includes(secret.toString('hex')));
        assert.ok(!text.includes(secret.toString('base64')));
      }
    });

    it('argument validation: random arguments only ever give typed errors', async () => {
      const anything = fc.oneof(fc.anything(), fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 140 }));
      const label = fc.oneof(fc.string({ maxLength: 140 }), anything, fc.constant(L('prop')));
      const type = fc.oneof(fc.constantFrom(...KEY_TYPES), anything);
      const alg = fc.oneof(fc.constantFrom(...AEAD_ALGS), anything);
      const bytes = fc.oneof(fc.uint8Array({ maxLength: 80 }), anything);
      const call = fc.oneof(
        fc.tuple(fc.constant('generateKey'), label, type),
        fc.tuple(fc.constant('importKey'), label, type, bytes),
        fc.tuple(fc.constant('getKeyInfo'), label),
        fc.tuple(fc.constant('sign'), label, bytes),
        fc.tuple(fc.constant('deriveSharedSecret'), label, bytes),
        fc.tuple(fc.constant('hmac'), label, bytes),
        fc.tuple(fc.constant('seal'), label, alg, bytes, bytes, fc.option(bytes, { nil: undefined })),
        fc.tuple(fc.constant('open'), label, alg, bytes, bytes, fc.option(bytes, { nil: undefined })),
        fc.tuple(fc.constant('deleteKey'), label),
      );
      await ks.generateKey(L('prop'), 'aes-128');
      await fc.assert(
        fc.asyncProperty(call, async ([method, ...args]) => {
          try {
            await (ks as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args);
          } catch (e) {
            assert.ok(isRootlineError(e), `${method}: ${String(e)}`);
            assert.notEqual((e as { code: string }).code, 'ERR_KEYSTORE_PKCS11', `${method}: ${String(e)}`);
          }
        }),
        { numRuns: opts.propertyRuns },
      );
    });

    it('refuses every call after close with ERR_KEYSTORE_CLOSED', async () => {
      const other = await opts.open();
      await other.close();
      await rejectsWith(other.listKeys(), 'ERR_KEYSTORE_CLOSED');
      await rejectsWith(other.generateKey(L('closed'), 'aes-128'), 'ERR_KEYSTORE_CLOSED');
      // Closing one handle leaves the others working.
      assert.ok((await ks.listKeys()).length > 0);
    });
  });
}
