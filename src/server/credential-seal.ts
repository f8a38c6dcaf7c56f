/**
 * Seals PSK keys before they go into the store, and opens them again for the DTLS server. The
 * sealing key is an AES-256 key inside the KeyStore (label 'credentials-seal', created on first
 * start), so a stolen database file alone reveals no device secret, and with the PKCS#11 backend
 * the sealing key never leaves the token.
 *
 * Format of DeviceCredential.material for kind 'psk':
 *   version (1 byte, 0x01) || nonce (12 random bytes) || AES-256-GCM ciphertext || tag (16 bytes)
 * The associated data binds the blob to its endpoint and identity, so copying a sealed key onto
 * another device's row or identity fails authentication instead of handing that device the key.
 * Random 96-bit nonces are safe here: far fewer than 2^32 PSKs are ever sealed under one key
 * (NIST SP 800-38D §8.3).
 */
import { randomBytes } from 'node:crypto';
import type { KeyStore } from '../crypto/keystore/types.js';
import { assertBytes, assertString } from '../util/assert.js';
import { SealedCredentialError } from './errors.js';

export const CREDENTIAL_SEAL_LABEL = 'credentials-seal';
const VERSION = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function associatedData(endpoint: string, identity: string): Uint8Array {
  // JSON of the pair is unambiguous for any strings (no separator a name could contain).
  return new TextEncoder().encode(JSON.stringify(['rootline-psk-v1', endpoint, identity]));
}

export class CredentialSealer {
  readonly #keystore: KeyStore;
  readonly #label: string;

  private constructor(keystore: KeyStore, label: string) {
    this.#keystore = keystore;
    this.#label = label;
  }

  /**
   * Opens the sealer, creating the AES-256 sealing key when the KeyStore has none yet.
   * `created` tells the caller to audit the key's creation.
   */
  static async open(keystore: KeyStore, label = CREDENTIAL_SEAL_LABEL): Promise<{ sealer: CredentialSealer; created: boolean }> {
    let created = false;
    if (!(await keystore.hasKey(label))) {
      await keystore.generateKey(label, 'aes-256');
      created = true;
    }
    const info = await keystore.getKeyInfo(label);
    if (info.type !== 'aes-256') {
      throw new SealedCredentialError(`key store key ${JSON.stringify(label)} is ${info.type}; the credential sealing key must be aes-256`);
    }
    return { sealer: new CredentialSealer(keystore, label), created };
  }

  async seal(endpoint: string, identity: string, key: Uint8Array): Promise<Uint8Array> {
    assertString(endpoint, 'endpoint');
    assertString(identity, 'identity');
    assertBytes(key, 'key', { min: 1, max: 64 });
    const nonce = randomBytes(NONCE_BYTES);
    const sealed = await this.#keystore.seal(this.#label, 'AES-256-GCM', nonce, key, associatedData(endpoint, identity));
    const out = new Uint8Array(1 + NONCE_BYTES + sealed.length);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(sealed, 1 + NONCE_BYTES);
    return out;
  }

  /** Returns the PSK; throws ERR_AEAD_AUTH_FAILED if the blob was altered or moved. */
  async unseal(endpoint: string, identity: string, material: Uint8Array): Promise<Uint8Array> {
    assertString(endpoint, 'endpoint');
    assertString(identity, 'identity');
    assertBytes(material, 'material');
    if (material.length < 1 + NONCE_BYTES + TAG_BYTES + 1) throw new SealedCredentialError(`sealed PSK of ${endpoint} is truncated (${material.length} bytes)`);
    if (material[0] !== VERSION) throw new SealedCredentialError(`sealed PSK of ${endpoint} has unknown format version ${material[0]}`);
    const nonce = material.subarray(1, 1 + NONCE_BYTES);
    return this.#keystore.open(this.#label, 'AES-256-GCM', nonce, material.subarray(1 + NONCE_BYTES), associatedData(endpoint, identity));
  }
}
