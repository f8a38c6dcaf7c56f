/**
 * The PKCS#11 backend against a real SoftHSM2 token created for this run: the shared contract,
 * plus what only a token can show (keys really are sensitive and non-extractable).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { openPkcs11KeyStore, openSoftwareKeyStore, type KeyStore } from '../../../src/crypto/keystore/index.js';
import { keyStoreContract, AEAD_ALGS, nonceFor, rejectsWith } from './contract.js';
import { createSoftHsmToken, openTokenKeyStore, softHsmSkip, type TestToken } from './softhsm.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';

const skip = softHsmSkip();
let token: TestToken | undefined;
if (skip === false) token = createSoftHsmToken();
after(() => token?.cleanup());

const open = (): Promise<KeyStore> => openTokenKeyStore(token!);

describe('PKCS#11 backend (SoftHSM2)', { skip }, () => {
  keyStoreContract({ backend: 'pkcs11', open, propertyRuns: 150 });

  describe('token specifics', () => {
    let ks: KeyStore;
    before(async () => {
      ks = await open();
    });
    after(async () => {
      await ks.close();
    });

    it('keeps private and secret keys sensitive and non-extractable inside the token', async () => {
      await ks.generateKey('x-ec', 'ec-p256');
      await ks.importKey('x-ed-imp', 'ed25519', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }));
      await ks.importKey('x-aes', 'aes-256', randomBytes(32));
      await ks.importKey('x-hmac', 'hmac-256', randomBytes(32));
      // Look at the objects through a separate PKCS#11 session, as any other token user could.
      const lib = new pkcs11js.PKCS11();
      lib.load(token!.module);
      try {
        lib.C_Initialize();
      } catch {
        // Already initialised in this process by the store.
      }
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token!.tokenLabel)!;
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      try {
        for (const [label, cls] of [['x-ec', pkcs11js.CKO_PRIVATE_KEY], ['x-ed-imp', pkcs11js.CKO_PRIVATE_KEY], ['x-aes', pkcs11js.CKO_SECRET_KEY], ['x-hmac', pkcs11js.CKO_SECRET_KEY]] as const) {
          lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }, { type: pkcs11js.CKA_CLASS, value: cls }]);
          const found = lib.C_FindObjects(session, 10);
          lib.C_FindObjectsFinal(session);
          assert.equal(found.length, 1, label);
          const [sensitive, extractable] = lib.C_GetAttributeValue(session, found[0]!, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }]);
          assert.equal(sensitive!.value[0], 1, `${label} CKA_SENSITIVE`);
          assert.equal(extractable!.value[0], 0, `${label} CKA_EXTRACTABLE`);
          assert.throws(() => lib.C_GetAttributeValue(session, found[0]!, [{ type: pkcs11js.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
        }
      } finally {
        lib.C_CloseSession(session);
      }
    });

    it('keys persist in the token across store instances', async () => {
      await ks.generateKey('persist', 'ed25519');
      const pub = await ks.getPublicKey('persist');
      const again = await open();
      try {
        assert.deepEqual(await again.getPublicKey('persist'), pub);
        assert.equal((await again.getKeyInfo('persist')).type, 'ed25519');
      } finally {
        await again.close();
      }
    });

    it('a wrong PIN, token label or slot is ERR_KEYSTORE_PKCS11 with the CKR name and no PIN', async () => {
      await assert.rejects(openPkcs11KeyStore({ module: token!.module, tokenLabel: token!.tokenLabel, pin: '999999' }), (e: unknown) => {
        assert.equal((e as { code?: string }).code, 'ERR_KEYSTORE_PKCS11');
        assert.equal((e as { ckr?: string }).ckr, 'CKR_PIN_INCORRECT');
        assert.ok(!(e as Error).message.includes('999999'));
        return true;
      });
      await rejectsWith(openPkcs11KeyStore({ module: token!.module, tokenLabel: 'no-such-token', pin: token!.pin }), 'ERR_KEYSTORE_PKCS11');
      await rejectsWith(openPkcs11KeyStore({ module: token!.module, slot: 424242, pin: token!.pin }), 'ERR_KEYSTORE_PKCS11');
      await rejectsWith(openPkcs11KeyStore({ module: '/nonexistent/libpkcs11.so', tokenLabel: 'x', pin: '1' }), 'ERR_KEYSTORE_PKCS11');
      await rejectsWith(openPkcs11KeyStore({ module: token!.module, pin: token!.pin }), 'ERR_INVALID_ARGUMENT');
      // The failed opens did not disturb the open store.
      assert.equal(await ks.hasKey('persist'), true);
    });

    it('Ed25519 over an empty message is refused with a typed error (single-part EdDSA)', async () => {
      await ks.generateKey('ed-empty', 'ed25519');
      await rejectsWith(ks.sign('ed-empty', new Uint8Array(0)), 'ERR_KEYSTORE_UNSUPPORTED');
      assert.equal((await ks.sign('ed-empty', Buffer.from('x'))).length, 64);
    });

    it('AEAD agrees with the software backend in both directions (random lengths)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rootline-ks-x-'));
      const sw = await openSoftwareKeyStore({ directory: dir, masterKey: randomBytes(32) });
      try {
        const k128 = randomBytes(16);
        const k256 = randomBytes(32);
        for (const s of [ks, sw]) {
          await s.importKey('xb-128', 'aes-128', k128);
          await s.importKey('xb-256', 'aes-256', k256);
        }
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...AEAD_ALGS),
            fc.integer({ min: 7, max: 13 }),
            fc.uint8Array({ maxLength: 100 }),
            fc.uint8Array({ maxLength: 60 }),
            fc.boolean(),
            async (alg, ccmNonceLength, pt, aad, tokenSeals) => {
              const label = alg.startsWith('AES-128') ? 'xb-128' : 'xb-256';
              const nonce = nonceFor(alg, ccmNonceLength);
              const [a, b] = tokenSeals ? [ks, sw] : [sw, ks];
              const sealed = await a.seal(label, alg, nonce, pt, aad);
              assert.deepEqual(Buffer.from(await b.open(label, alg, nonce, sealed, aad)), Buffer.from(pt));
            },
          ),
          { numRuns: 120 },
        );
      } finally {
        await sw.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
