/**
 * JSON Schema objects for every request and response of the API. Each one is used twice: as the
 * fastify route schema (so requests are validated and responses serialised by it) and inside the
 * OpenAPI 3.1 document (openapi.ts). One source means the docs cannot promise what the code does
 * not check. Only keywords shared by JSON Schema 2020-12 (OpenAPI 3.1) and Ajv's draft-07 are used.
 */
import { OWNERSHIP_STATES } from '../store/types.js';
import { API_ERROR_CODES } from './errors.js';

/**
 * LwM2M endpoint client names in practice: URNs (urn:imei:..., urn:dev:ops:...), serial numbers,
 * host-like names. Slashes, spaces, '%', '?' and '#' are excluded so the name is safe as one URL
 * path segment without escaping.
 */
export const ENDPOINT_PATTERN = '^[A-Za-z0-9._:@+=~-]+$';

export const endpointSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: ENDPOINT_PATTERN,
  description: 'LwM2M endpoint client name: 1..128 of A-Z a-z 0-9 . _ : @ + = ~ -',
} as const;

/** No C0/C1 control characters: names are shown in terminals and logs. */
const NO_CONTROLS = '^[^\\u0000-\\u001f\\u007f-\\u009f]+$';

const tagSchema = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:=-]+$' } as const;
const shortText = { type: 'string', minLength: 1, maxLength: 64, pattern: NO_CONTROLS } as const;
const timestamp = { type: 'string', description: 'ISO 8601 time' } as const;

export const pskInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['identity', 'key'],
  properties: {
    identity: { type: 'string', minLength: 1, maxLength: 128, pattern: NO_CONTROLS, description: 'PSK identity the device sends in its DTLS handshake (UTF-8).' },
    key: {
      type: 'string',
      minLength: 2,
      maxLength: 128,
      pattern: '^([0-9a-fA-F]{2})+$',
      description: 'The pre-shared key, 1..64 bytes as hex. Sealed before storage; never returned.',
    },
  },
} as const;

export const rpkInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['publicKey'],
  properties: {
    publicKey: {
      type: 'string',
      minLength: 1,
      maxLength: 8192,
      description: 'The device public key (EC P-256 or Ed25519): a PEM "PUBLIC KEY" block or the SubjectPublicKeyInfo DER as hex.',
    },
  },
} as const;

export const x509InputSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    certificate: { type: 'string', minLength: 1, maxLength: 16384, description: 'The device certificate as PEM; bound by its subject common name.' },
    subject: { type: 'string', minLength: 1, maxLength: 256, pattern: NO_CONTROLS, description: 'The subject common name the device certificate will carry, when the certificate is not at hand.' },
  },
  description: 'Exactly one of certificate or subject.',
} as const;

export const credentialInputSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: { psk: pskInputSchema, rpk: rpkInputSchema, x509: x509InputSchema },
  description: 'Exactly one of psk, rpk or x509.',
} as const;

export const newDeviceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint'],
  properties: {
    endpoint: endpointSchema,
    model: shortText,
    firmwareVersion: shortText,
    tags: { type: 'array', items: tagSchema, maxItems: 32, uniqueItems: true },
    attributes: { type: 'object', maxProperties: 64, description: 'Free-form JSON attributes (serial number, manufacturer, ...). Never secrets.' },
    credentials: credentialInputSchema,
  },
} as const;

export const credentialViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'lookup', 'createdAt'],
  properties: {
    kind: { type: 'string', enum: ['psk', 'rpk', 'x509'] },
    lookup: { type: 'string', description: 'psk: the identity; rpk: hex SHA-256 of the SubjectPublicKeyInfo; x509: the subject common name.' },
    createdAt: timestamp,
  },
  description: 'A credential without its secret: what it is and how the device is looked up.',
} as const;

/** LwM2M registration facts merged into device views (src/api/lwm2m-gateway.ts). */
const registrationProperties = {
  registered: { type: 'boolean', description: 'Whether the device holds a current LwM2M registration.' },
  lastRegistration: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      id: { type: 'string' },
      at: { type: 'string', description: 'When it registered.' },
      updatedAt: { type: 'string' },
      expiresAt: { type: 'string' },
      lifetime: { type: 'integer' },
      binding: { type: 'string' },
      lwm2mVersion: { type: 'string' },
      queueMode: { type: 'boolean' },
      security: { type: 'string' },
    },
  },
  objects: {
    type: 'array',
    description: 'Objects and instances from the registration links.',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'instances'],
      properties: { id: { type: 'integer' }, version: { type: 'string' }, instances: { type: 'array', items: { type: 'integer' } } },
    },
  },
} as const;

const deviceProperties = {
  endpoint: { type: 'string' },
  model: { type: ['string', 'null'] },
  firmwareVersion: { type: ['string', 'null'] },
  tags: { type: 'array', items: { type: 'string' } },
  ownershipState: { type: 'string', enum: [...OWNERSHIP_STATES] },
  attributes: { type: 'object', additionalProperties: true },
  createdAt: timestamp,
  updatedAt: timestamp,
  ...registrationProperties,
} as const;

const deviceRequired = ['endpoint', 'model', 'firmwareVersion', 'tags', 'ownershipState', 'attributes', 'createdAt', 'updatedAt'] as const;

export const deviceSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: [...deviceRequired],
  properties: deviceProperties,
} as const;

export const deviceSchema = {
  type: 'object',
  additionalProperties: false,
  required: [...deviceRequired, 'credentials'],
  properties: { ...deviceProperties, credentials: { type: 'array', items: credentialViewSchema } },
} as const;

export const deviceListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    search: { type: 'string', minLength: 1, maxLength: 128, pattern: NO_CONTROLS, description: 'Substring of the endpoint name.' },
    model: shortText,
    tag: tagSchema,
    state: { type: 'string', enum: [...OWNERSHIP_STATES], description: 'Ownership state.' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Page size (default 100).' },
    after: { ...endpointSchema, description: 'Continue after this endpoint (the previous page\'s `next`).' },
  },
} as const;

export const deviceListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['devices', 'next'],
  properties: {
    devices: { type: 'array', items: deviceSummarySchema },
    next: { type: ['string', 'null'], description: 'Pass as `after` for the next page; null on the last page.' },
  },
} as const;

export const endpointParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint'],
  properties: { endpoint: endpointSchema },
} as const;

export const auditQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'integer', minimum: 0, maximum: 9007199254740991, description: 'Return records with seq greater than this.' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Page size (default 100).' },
    subject: { type: 'string', minLength: 1, maxLength: 256 },
    action: { type: 'string', minLength: 1, maxLength: 128 },
  },
} as const;

export const auditRecordSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'at', 'actor', 'action', 'subject', 'outcome', 'details', 'prevHash', 'hash'],
  properties: {
    seq: { type: 'integer' },
    at: timestamp,
    actor: { type: 'string' },
    action: { type: 'string' },
    subject: { type: 'string' },
    outcome: { type: 'string', enum: ['allow', 'deny', 'success', 'failure'] },
    details: { type: 'object', additionalProperties: true },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
} as const;

export const auditListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['records', 'next'],
  properties: {
    records: { type: 'array', items: auditRecordSchema },
    next: { type: ['integer', 'null'], description: 'Pass as `after` for the next page; null on the last page.' },
  },
} as const;

export const auditVerificationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ok', 'count'],
  properties: {
    ok: { type: 'boolean' },
    count: { type: 'integer', description: 'Records checked.' },
    lastHash: { type: 'string', description: 'When ok: hash of the newest record.' },
    brokenAt: { type: 'integer', description: 'When not ok: seq of the first broken record.' },
    reason: { type: 'string', description: 'When not ok: what is wrong with it.' },
  },
} as const;

export const listenerStatusSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['state'],
  properties: {
    state: { type: 'string', enum: ['pending', 'up', 'stopping', 'stopped', 'failed'] },
    port: { type: 'integer' },
    url: { type: 'string' },
  },
} as const;

export const healthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['status', 'version', 'listeners'],
  properties: {
    status: { type: 'string', enum: ['ok'] },
    version: { type: 'string' },
    listeners: { type: 'object', additionalProperties: listenerStatusSchema },
  },
} as const;

export const errorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: [...API_ERROR_CODES] },
        message: { type: 'string' },
      },
    },
  },
} as const;
