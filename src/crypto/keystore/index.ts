/**
 * `rootline/crypto/keystore`: the KeyStore interface and its two backends.
 */
export type { KeyInfo, KeyStore, KeyStoreAeadAlgorithm, KeyType, Signer } from './types.js';
export { KEY_TYPES } from './types.js';
export {
  AeadAuthFailedError,
  KeyNotFoundError,
  KeyStoreClosedError,
  KeyStoreCorruptError,
  KeyStoreUnsupportedError,
  LabelExistsError,
  MasterKeyInvalidError,
  MasterKeyMissingError,
  MasterKeyWrongError,
  Pkcs11Error,
  WrongKeyTypeError,
} from './errors.js';
export { loadMasterKey, parseMasterKey, type LoadMasterKeyOptions } from './master-key.js';
export { KEYSTORE_FILE_NAME, openSoftwareKeyStore, type SoftwareKeyStoreOptions } from './software.js';
export { openPkcs11KeyStore, type Pkcs11KeyStoreOptions } from './pkcs11.js';
