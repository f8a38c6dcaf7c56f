/**
 * Signers: one shape for "something that can sign", whether the private key sits in a KeyStore
 * (software or PKCS#11 token) or in memory (tests, the device SDK).
 */
import { createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { KeyStore, Signer } from './keystore/types.js';

/** A Signer backed by a KeyStore key; the private key never leaves the store. */
export async function keyStoreSigner(store: KeyStore, label: string): Promise<Signer> {
  const info = await store.getKeyInfo(label);
  if (info.type !== 'ec-p256' && info.type !== 'ed25519') {
    throw new InvalidArgumentError('label', `key ${JSON.stringify(label)} is ${info.type}, not a signing key`);
  }
  const publicKey = await store.getPublicKey(label);
  return {
    algorithm: info.type === 'ec-p256' ? 'ES256' : 'EdDSA',
    publicKey,
    sign: (data) => store.sign(label, data),
  };
}

/** A Signer over an in-memory node:crypto private key (P-256 or Ed25519). */
export function keyObjectSigner(privateKey: KeyObject): Signer {
  if (privateKey.type !== 'private') throw new InvalidArgumentError('privateKey', 'expected a private KeyObject');
  let algorithm: Signer['algorithm'];
  if (privateKey.asymmetricKeyType === 'ed25519') algorithm = 'EdDSA';
  else if (privateKey.asymmetricKeyType === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') algorithm = 'ES256';
  else throw new InvalidArgumentError('privateKey', 'expected a P-256 or Ed25519 key');
  const publicKey = new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  return {
    algorithm,
    publicKey,
    sign: async (data) =>
      new Uint8Array(
        algorithm === 'ES256'
          ? nodeSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
          : nodeSign(null, data, privateKey),
      ),
  };
}
