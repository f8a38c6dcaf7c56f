/**
 * CBOR labels of draft-ietf-suit-manifest (the IANA "SUIT" registries it creates), and the
 * rootline extension labels. Only the labels this room reads or writes are listed.
 */

/** SUIT_Envelope_Tagged (draft-ietf-suit-manifest §8.2). */
export const SUIT_ENVELOPE_TAG = 107;

export const EnvelopeKey = {
  authenticationWrapper: 2,
  manifest: 3,
} as const;

export const ManifestKey = {
  version: 1,
  sequenceNumber: 2,
  common: 3,
  referenceUri: 4,
  manifestComponentId: 5,
  validate: 7,
  load: 8,
  invoke: 9,
  payloadFetch: 16,
  install: 20,
  text: 23,
} as const;

/** Members that may be severed: the manifest then holds their SUIT_Digest, the envelope the bytes. */
export const SEVERABLE_KEYS: readonly number[] = [ManifestKey.payloadFetch, ManifestKey.install, ManifestKey.text];

export const CommonKey = {
  components: 2,
  sharedSequence: 4,
} as const;

export const Condition = {
  vendorIdentifier: 1,
  classIdentifier: 2,
  imageMatch: 3,
  componentSlot: 5,
  checkContent: 6,
  abort: 14,
  deviceIdentifier: 24,
} as const;

export const Directive = {
  setComponentIndex: 12,
  tryEach: 15,
  write: 18,
  overrideParameters: 20,
  fetch: 21,
  copy: 22,
  invoke: 23,
  swap: 31,
  runSequence: 32,
} as const;

export const Parameter = {
  vendorId: 1,
  classId: 2,
  imageDigest: 3,
  componentSlot: 5,
  strictOrder: 12,
  softFailure: 13,
  imageSize: 14,
  content: 18,
  /** draft-ietf-suit-firmware-encryption: SUIT_Encryption_Info (bstr .cbor COSE_Encrypt0/COSE_Encrypt). */
  encryptionInfo: 19,
  uri: 21,
  sourceComponent: 22,
  invokeArgs: 23,
  deviceId: 24,
} as const;

/**
 * rootline's extension for delta payloads. SUIT has no standard delta parameter yet; the
 * manifest draft reserves negative integers for custom parameters and custom conditions
 * (`nint` in SUIT_Parameters and SUIT_Condition), and the registries mark -24 and below as
 * Private Use. These labels only mean something to peers that share this table.
 */
export const RootlineParameter = {
  /** bstr .cbor SUIT_Digest of the image the delta applies to. */
  baseImageDigest: -24,
  /** uint: size in bytes of that base image. */
  baseImageSize: -25,
  /** uint: payload format, 1 = rootline delta format version 1 ("RLDT"). Absent = full image. */
  payloadFormat: -26,
} as const;

export const RootlineCondition = {
  /** The installed image matches parameter -24/-25 (the delta's base). */
  baseImageMatch: -24,
} as const;

/** Payload formats for RootlineParameter.payloadFormat. */
export const PayloadFormat = {
  image: 0,
  deltaV1: 1,
} as const;

/** SUIT_Text_Map / SUIT_Text_Component_Keys. */
export const TextKey = {
  manifestDescription: 1,
  updateDescription: 2,
} as const;

export const ComponentTextKey = {
  vendorName: 1,
  modelName: 2,
  vendorDomain: 3,
  modelInfo: 4,
  componentDescription: 5,
  componentVersion: 6,
} as const;

/** Report policy used with conditions and directives: send record and sysinfo on success and failure. */
export const REPORT_ALL = 15;

/** COSE algorithm id of SHA-256 (RFC 9054), the only digest this room computes. */
export const SHA256_ALG = -16;

/** COSE signature algorithms accepted in SUIT authentication blocks. */
export const SignatureAlg = {
  ES256: -7,
  EdDSA: -8,
  /** Fully specified ECDSA P-256/SHA-256 (RFC 9864), used by the newest manifest drafts. */
  ESP256: -9,
} as const;
