/**
 * rootline/cose: CBOR helpers, COSE_Sign1, COSE_Mac0, COSE_Encrypt0 (RFC 9052/9053), COSE_Key
 * and CBOR Web Tokens (RFC 8392).
 */
export { CborTag, decodeCbor, encodeCbor, DEFAULT_CBOR_MAX_DEPTH, type DecodeCborOptions } from './cbor.js';
export { CoseAlgorithm } from './algorithms.js';
export { HeaderLabels, type HeaderInput, type HeaderLabel, type HeaderMap, type HeaderParameters } from './headers.js';
export { CoseTag, type EnvelopeOptions, type KeyLookup, type MessageHeaders } from './message.js';
export type { PublicKeyInput } from './signature-keys.js';
export { sign1, verifySign1, type Sign1Options, type VerifiedSign1, type VerifySign1Options } from './sign1.js';
export { keyStoreMacKey, rawMacKey, type MacKey } from './mac-key.js';
export { mac0, verifyMac0, type Mac0Options, type MacKeyInput, type VerifiedMac0, type VerifyMac0Options } from './mac0.js';
export { isContentKey, keyStoreContentKey, type ContentKey } from './content-key.js';
export { decrypt0, encrypt0, type ContentKeyInput, type DecryptedEncrypt0, type Decrypt0Options, type Encrypt0Options } from './encrypt0.js';
export {
  CoseCurve,
  CoseKeyLabels,
  CoseKeyOperation,
  CoseKeyType,
  assertCoseKeyPermits,
  coseKeyFromMap,
  coseKeyToMap,
  decodeCoseKey,
  decodeCoseKeySet,
  encodeCoseKey,
  type CoseKey,
  type CoseKeyLabel,
  type Ec2Key,
  type OkpKey,
  type SymmetricKey,
} from './cose-key.js';
export { coseKeyFromKeyObject, coseKeyFromSpki, coseKeyToKeyObject, coseKeyToSpki, type CoseKeyParameters } from './key-convert.js';
export { CwtClaimLabels, cwtClaimsFromMap, cwtClaimsToMap, decodeCwtClaims, encodeCwtClaims, type CwtClaims } from './claims.js';
export {
  createCwt,
  verifyCwt,
  type CreateCwtOptions,
  type CwtKey,
  type CwtLayer,
  type CwtLayerType,
  type RegisteredClaimName,
  type VerifiedCwt,
  type VerifyCwtOptions,
} from './cwt.js';
export * from './errors.js';
