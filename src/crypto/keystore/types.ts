/**
 * The KeyStore: rootline's "security chip". Keys are generated or imported under a label and
 * then only *used* (sign, ECDH, AEAD); no method returns private or secret key material.
 * Backends: software (encrypted at rest under a master key) and PKCS#11 (keys inside a token).
 */

/** What a stored key is. */
export type KeyType =
  | 'ec-p256' // ECDSA / ECDH on NIST P-256
  | 'ed25519' // EdDSA signatures
  | 'aes-128'
  | 'aes-256'
  | 'hmac-256'; // HMAC-SHA-256 secret (COSE_Mac0, HKDF input)

export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ed25519', 'aes-128', 'aes-256', 'hmac-256'];

export interface KeyInfo {
  label: string;
  type: KeyType;
  /** ISO 8601 time the key was created or imported. */
  createdAt: string;
  /** Which backend holds it. */
  backend: 'software' | 'pkcs11';
}

/**
 * AEAD algorithms a stored symmetric key can be used with (names as in `createAead`).
 * An aes-128 key serves the *-128-* names, an aes-256 key the *-256-* names.
 */
export type KeyStoreAeadAlgorithm =
  | 'AES-128-GCM'
  | 'AES-128-CCM'
  | 'AES-128-CCM-8'
  | 'AES-256-GCM'
  | 'AES-256-CCM'
  | 'AES-256-CCM-8';

export interface KeyStore {
  readonly backend: 'software' | 'pkcs11';

  /** Creates a new key under `label`; refuses (ERR_KEYSTORE_LABEL_EXISTS) if the label is taken. */
  generateKey(label: string, type: KeyType): Promise<KeyInfo>;
  /**
   * Imports key material: for asymmetric types a PKCS#8 DER private key, for symmetric types
   * the raw secret. The caller's copy is its own business; the store never hands it back.
   */
  importKey(label: string, type: KeyType, material: Uint8Array): Promise<KeyInfo>;
  hasKey(label: string): Promise<boolean>;
  /** Throws ERR_KEYSTORE_KEY_NOT_FOUND when absent. */
  getKeyInfo(label: string): Promise<KeyInfo>;
  listKeys(): Promise<KeyInfo[]>;
  deleteKey(label: string): Promise<void>;

  /** SubjectPublicKeyInfo DER of an asymmetric key. */
  getPublicKey(label: string): Promise<Uint8Array>;
  /**
   * Signs `data`. ec-p256: ECDSA with SHA-256, signature as raw r||s (64 bytes, the COSE/JOSE
   * form; see `ecdsaRawToDer` for X.509/CMS). ed25519: pure Ed25519 (64 bytes).
   */
  sign(label: string, data: Uint8Array): Promise<Uint8Array>;
  /** ECDH on P-256 with the peer's SPKI DER public key; returns the 32-byte shared secret x. */
  deriveSharedSecret(label: string, peerPublicKey: Uint8Array): Promise<Uint8Array>;
  /** HMAC-SHA-256 with a hmac-256 key. */
  hmac(label: string, data: Uint8Array): Promise<Uint8Array>;
  /** AEAD seal with a stored aes key; returns ciphertext || tag. */
  seal(label: string, alg: KeyStoreAeadAlgorithm, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /** AEAD open; throws ERR_AEAD_AUTH_FAILED (never returns plaintext) on any tampering. */
  open(label: string, alg: KeyStoreAeadAlgorithm, nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;

  close(): Promise<void>;
}

/** A signing key as COSE, PKI and DTLS see it: a KeyStore key or an in-memory one. */
export interface Signer {
  /** 'ES256' (ECDSA P-256 / SHA-256, raw r||s) or 'EdDSA' (Ed25519). */
  readonly algorithm: 'ES256' | 'EdDSA';
  /** SubjectPublicKeyInfo DER. */
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Promise<Uint8Array>;
}
