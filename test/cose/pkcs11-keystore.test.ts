/**
 * COSE with keys that never leave a PKCS#11 token (a throw-away SoftHSM2 token): COSE_Sign1 via
 * keyStoreSigner, COSE_Mac0 via keyStoreMacKey, COSE_Encrypt0 via keyStoreContentKey, and a CWT
 * signed in the token. RFC 9052 C.4.1 and cose-wg HMac-enc-05 are reproduced byte for byte with
 * the keys imported into the token.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyStoreSigner } from '../../src/crypto/signer.js';
import { keyStoreContentKey } from '../../src/cose/content-key.js';
import { createCwt, verifyCwt } from '../../src/cose/cwt.js';
import { decrypt0, encrypt0 } from '../../src/cose/encrypt0.js';
import { keyStoreMacKey } from '../../src/cose/mac-key.js';
import { mac0, verifyMac0 } from '../../src/cose/mac0.js';
import { sign1, verifySign1 } from '../../src/cose/sign1.js';
import { softHsmSkip, useTokenKeyStore } from '../crypto/keystore/softhsm.js';
import { b64url, hex, readJson, toHex, utf8, type CoseWgExample } from './helpers.js';

const skip = softHsmSkip();

describe('COSE with a PKCS#11 KeyStore (SoftHSM2)', { skip }, () => {
  const hsm = useTokenKeyStore();

  it('signs COSE_Sign1 (ES256 and EdDSA) in the token; the SPKI it reports verifies them', async () => {
    await hsm.store.generateKey('cose-es256', 'ec-p256');
    await hsm.store.generateKey('cose-eddsa', 'ed25519');
    for (const label of ['cose-es256', 'cose-eddsa']) {
      const signer = await keyStoreSigner(hsm.store, label);
      const msg = await sign1({ payload: utf8('manifest'), signer, externalAad: utf8('slot-b') });
      assert.deepEqual((await verifySign1(msg, { key: signer.publicKey, externalAad: utf8('slot-b') })).payload, utf8('manifest'));
    }
  });

  it('MACs COSE_Mac0 in the token, reproducing cose-wg HMac-enc-05 (HMAC 256/64)', async () => {
    const example = readJson<CoseWgExample>('cose-wg', 'hmac-examples', 'HMac-enc-05.json');
    const secret = b64url(example.input.mac0!.recipients![0]!.key.k!);
    await hsm.store.importKey('cose-hmac', 'hmac-256', secret);
    const msg = await mac0({ payload: utf8(example.input.plaintext), key: await keyStoreMacKey(hsm.store, 'cose-hmac', 4) });
    assert.equal(toHex(msg), example.output.cbor.toLowerCase());
    await verifyMac0(msg, { key: await keyStoreMacKey(hsm.store, 'cose-hmac', 4) });
  });

  it('encrypts COSE_Encrypt0 in the token, reproducing RFC 9052 C.4.1 (AES-CCM-16-64-128)', async () => {
    const c41 = readJson<{ 'C.4.1': { cbor: string }; keys: { 'our-secret2': { k: string } } }>('rfc9052', 'appendix-c.json');
    await hsm.store.importKey('our-secret2', 'aes-128', hex(c41.keys['our-secret2'].k));
    const key = await keyStoreContentKey(hsm.store, 'our-secret2', 10);
    const msg = await encrypt0({ plaintext: utf8('This is the content.'), key, alg: 10, iv: hex('89f52f65a1c580933b5261a78c') });
    assert.equal(toHex(msg), c41['C.4.1'].cbor);
    assert.deepEqual((await decrypt0(hex(c41['C.4.1'].cbor), { key })).plaintext, utf8('This is the content.'));
  });

  it('issues a CWT signed in the token', async () => {
    const signer = await keyStoreSigner(hsm.store, 'cose-es256');
    const cwt = await createCwt({ iss: 'registrar', aud: 'device-1', exp: 2_000_000_000 }, { signer });
    const { claims } = await verifyCwt(cwt, { key: signer.publicKey, issuer: 'registrar', audience: 'device-1', now: 1_900_000_000 });
    assert.equal(claims.iss, 'registrar');
  });
});
