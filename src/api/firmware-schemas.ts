/**
 * JSON Schema of the firmware routes (see schemas.ts for why each schema is used twice: as the
 * fastify route schema and in the OpenAPI document). The firmware room re-checks every value
 * (semver, vendor domain, model), so these schemas are the first of two gates, not the only one.
 */

/** SemVer 2.0.0 (semver.org's regex, anchors kept): what the firmware room accepts. */
export const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

/** A DNS name: the SUIT vendor ID is UUID5(DNS, vendor). */
const VENDOR_PATTERN = '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$';

/** Printable ASCII without spaces: the model names a device class in the SUIT class ID. */
const MODEL_PATTERN = '^[\\x21-\\x7e]+$';

export const firmwareIdSchema = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$', description: 'Firmware image id (a UUID).' } as const;

export const firmwareIdParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: firmwareIdSchema },
} as const;

export const firmwareUploadQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'version'],
  properties: {
    vendor: { type: 'string', minLength: 1, maxLength: 253, pattern: VENDOR_PATTERN, description: 'Vendor domain name (default rootline.invalid: set your own).' },
    model: { type: 'string', minLength: 1, maxLength: 128, pattern: MODEL_PATTERN, description: 'Device model / class the image is built for.' },
    version: { type: 'string', minLength: 5, maxLength: 128, pattern: SEMVER_PATTERN, description: 'Semantic version; must be above every stored version of the model.' },
    description: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$', description: 'Free text kept in attributes.description.' },
  },
} as const;

export const firmwareListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    vendor: { type: 'string', minLength: 1, maxLength: 253, pattern: VENDOR_PATTERN },
    model: { type: 'string', minLength: 1, maxLength: 128, pattern: MODEL_PATTERN },
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Page size (default 100).' },
    offset: { type: 'integer', minimum: 0, maximum: 1_000_000_000, description: 'Images to skip (the previous page\'s `next`).' },
  },
} as const;

export const firmwareSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'vendor', 'model', 'version', 'sequence', 'size', 'sha256', 'attributes', 'createdAt'],
  properties: {
    id: { type: 'string' },
    vendor: { type: 'string' },
    model: { type: 'string' },
    version: { type: 'string' },
    sequence: { type: 'integer', description: 'SUIT sequence number (anti-rollback), increasing per vendor and model, never reused.' },
    size: { type: 'integer', description: 'Image size in bytes.' },
    sha256: { type: 'string', description: 'Lower-case hex SHA-256 of the image.' },
    attributes: { type: 'object', additionalProperties: true },
    createdAt: { type: 'string', description: 'ISO 8601 time' },
  },
  description: 'A stored firmware image; its signed SUIT manifest is at /firmware/{id}/manifest.',
} as const;

export const firmwareSigningKeySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['algorithm', 'keyId', 'publicKey'],
  properties: {
    algorithm: { type: 'string', enum: ['ES256', 'EdDSA'], description: 'COSE algorithm of the manifest signatures.' },
    keyId: { type: 'string', description: 'Hex kid in every manifest signature (SHA-256 of the SubjectPublicKeyInfo).' },
    publicKey: { type: 'string', description: 'The public key as a PEM "PUBLIC KEY" block: what devices must trust.' },
  },
  description: 'The firmware-signing public key (never the private key).',
} as const;

export const firmwareListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['firmware', 'next'],
  properties: {
    firmware: { type: 'array', items: firmwareSchema },
    next: { type: ['integer', 'null'], description: 'Pass as `offset` for the next page; null on the last page.' },
  },
} as const;
