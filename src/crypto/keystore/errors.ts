/**
 * KeyStore errors: one class per failure, each with a stable code. Messages name labels and
 * files, never key material.
 */
import { RootlineError } from '../../errors.js';

/** No key under that label. */
export class KeyNotFoundError extends RootlineError {
  readonly label: string;
  constructor(label: string) {
    super('ERR_KEYSTORE_KEY_NOT_FOUND', `no key labelled ${JSON.stringify(label)}`);
    this.label = label;
  }
}

/** generateKey/importKey under a label that is already taken. */
export class LabelExistsError extends RootlineError {
  readonly label: string;
  constructor(label: string) {
    super('ERR_KEYSTORE_LABEL_EXISTS', `a key labelled ${JSON.stringify(label)} already exists`);
    this.label = label;
  }
}

/** The key exists but is the wrong type for the operation (e.g. sign with an AES key). */
export class WrongKeyTypeError extends RootlineError {
  readonly label: string;
  constructor(label: string, actual: string, wanted: string) {
    super('ERR_KEYSTORE_WRONG_KEY_TYPE', `key ${JSON.stringify(label)} is ${actual}; this operation needs ${wanted}`);
    this.label = label;
  }
}

/** The software store holds keys (or is asked to create one) but no master key was given. */
export class MasterKeyMissingError extends RootlineError {
  constructor(message: string) {
    super('ERR_KEYSTORE_MASTER_KEY_MISSING', message);
  }
}

/** The master key does not decrypt this store's check value: it is not the store's key. */
export class MasterKeyWrongError extends RootlineError {
  constructor(message: string) {
    super('ERR_KEYSTORE_MASTER_KEY_WRONG', message);
  }
}

/** A master key source (file or environment variable) does not hold a valid 32-byte key. */
export class MasterKeyInvalidError extends RootlineError {
  constructor(message: string) {
    super('ERR_KEYSTORE_MASTER_KEY_INVALID', message);
  }
}

/** The store's file (or a token's metadata object) is malformed or fails authentication. */
export class KeyStoreCorruptError extends RootlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_KEYSTORE_CORRUPT', message, options);
  }
}

/** The store was closed; it cannot be used any more. */
export class KeyStoreClosedError extends RootlineError {
  constructor() {
    super('ERR_KEYSTORE_CLOSED', 'the key store is closed');
  }
}

/** The backend cannot do this (e.g. a token without the mechanism). */
export class KeyStoreUnsupportedError extends RootlineError {
  constructor(message: string) {
    super('ERR_KEYSTORE_UNSUPPORTED', message);
  }
}

/** A PKCS#11 call failed; `ckr` is the Cryptoki return value name (e.g. CKR_PIN_INCORRECT). */
export class Pkcs11Error extends RootlineError {
  readonly ckr: string;
  readonly operation: string;
  constructor(operation: string, ckr: string, options?: { cause?: unknown }) {
    super('ERR_KEYSTORE_PKCS11', `PKCS#11 ${operation} failed: ${ckr}`, options);
    this.ckr = ckr;
    this.operation = operation;
  }
}

/**
 * AEAD open() failed (ERR_AEAD_AUTH_FAILED). The crypto room's class is reused, so that
 * `instanceof` works the same whether a key sits in a KeyStore or in memory.
 */
export { AeadAuthenticationError as AeadAuthFailedError } from '../errors.js';
