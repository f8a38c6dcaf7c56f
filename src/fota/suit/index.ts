/** SUIT manifests (draft-ietf-suit-manifest, RFC 9124 information model): encode, sign, verify. */
export { decodeEnvelope, decodeManifest, decodeText, type DecodeLimits, type SuitCommand, type SuitEnvelope, type SuitManifest, type SuitParameters, type SuitText, type SuitTextBlock } from './decode.js';
export { encodeManifest, encodeEnvelope, type ManifestInput } from './encode.js';
export { signManifest, keyIdOf, type TrustedKey, type TrustedKeyInput, type BlockVerification } from './authenticate.js';
export { verifyManifest, type VerifiedManifest, type VerifyManifestOptions } from './verify.js';
export { checkImage, checkBaseImage, createImageVerifier, type ImageVerifier } from './image.js';
export { encryptPayload, decryptPayload, PAYLOAD_ENCRYPTION_ALGORITHMS, type PayloadEncryptionAlgorithm, type EncryptPayloadOptions, type EncryptedPayload } from './encryption.js';
export { digestOf, encodeDigest, decodeDigest, type SuitDigest } from './digest.js';
export { uuidV5, vendorIdFor, classIdFor, parseUuid, formatUuid, UUID_NAMESPACE_DNS } from './uuid.js';
export { SUIT_ENVELOPE_TAG, RootlineParameter, RootlineCondition, PayloadFormat } from './labels.js';
export * from './errors.js';
