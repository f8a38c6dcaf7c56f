/**
 * JSON Schema objects of the LwM2M routes (device objects, discover, observations, bootstrap
 * configuration) and of the registration facts merged into device views. Like schemas.ts, each
 * one validates requests in fastify and documents them in the OpenAPI document.
 */
import { READ_FORMATS } from './lwm2m-gateway.js';
import { endpointSchema } from './schemas.js';

/** Path segments arrive as text (Ajv coercion is off); the LwM2M room checks the range 0..65534. */
const idSchema = { type: 'string', pattern: '^(0|[1-9][0-9]{0,4})$', description: 'An LwM2M id 0..65534.' } as const;

export const PATH_LEVELS = ['objectId', 'instanceId', 'resourceId', 'resourceInstanceId'] as const;

/** Params of `/devices/:endpoint/<prefix>/:objectId[/:instanceId[/...]]` with `depth` ids. */
export function lwm2mPathParamsSchema(depth: 1 | 2 | 3 | 4) {
  const levels = PATH_LEVELS.slice(0, depth);
  return {
    type: 'object',
    additionalProperties: false,
    required: ['endpoint', ...levels],
    properties: { endpoint: endpointSchema, ...Object.fromEntries(levels.map((l) => [l, idSchema])) },
  } as const;
}

/** Default of `timeout`: an HTTP client should not wait a queue-mode device's whole sleep (up to 24 h). */
export const DEFAULT_DEVICE_WAIT_SECONDS = 60;

const timeoutProperty = {
  timeout: {
    type: 'integer',
    minimum: 1,
    maximum: 86400,
    description: `Seconds a request may wait for a sleeping (queue-mode) device to wake up (default ${DEFAULT_DEVICE_WAIT_SECONDS}); then ERR_LWM2M_REQUEST_EXPIRED.`,
  },
} as const;

export const deviceRequestQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: timeoutProperty,
} as const;

export const readQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...timeoutProperty,
    format: { type: 'string', enum: [...READ_FORMATS], description: 'Content format to ask the device for (default: what it prefers; text for a single resource only).' },
  },
} as const;

export const writeQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...timeoutProperty,
    mode: { type: 'string', enum: ['replace', 'update'], description: 'replace (PUT, default) or update (partial update, POST) — Core §6.3.3.' },
  },
} as const;

// No `type`: a resource takes a bare string, number or boolean, an instance an object; the
// object model (nodeFromJson) decides, and answers ERR_LWM2M_BAD_VALUE naming the resource.
export const writeBodySchema = {
  description:
    'The value in the shape GET answers with: a resource as a bare value, {value} or {values: {instanceId: value}}; ' +
    'an instance as {resources: {resourceId: value}} or {resources: [{id, value}|{id, values}]}. Opaque values are hex, ' +
    'object links "objectId:instanceId", 64-bit integers may be decimal strings. The object model decides types.',
} as const;

/** Core §5.4.4 (Execute arguments): `0='text',1,2='x'` — digits with optional quoted printable-ASCII values. */
export const executeBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    args: { type: 'string', maxLength: 1024, pattern: "^[0-9](='[\\x20-\\x26\\x28-\\x7e]*')?(,[0-9](='[\\x20-\\x26\\x28-\\x7e]*')?)*$", description: "Execute arguments, e.g. 0='reason',1" },
  },
} as const;

const lwm2mPathText = { type: 'string', minLength: 2, maxLength: 32, pattern: '^(/[0-9]{1,5}){1,4}$', description: 'An LwM2M path, e.g. /3/0/13.' } as const;

export const observeBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: { path: lwm2mPathText },
} as const;

const jsonNodeSchema = { type: 'object', additionalProperties: true, description: 'The node as JSON: {kind, id, type, value|values|resources|instances}.' } as const;

export const readResultSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'path', 'format', 'node'],
  properties: {
    endpoint: { type: 'string' },
    path: { type: 'string' },
    format: { type: 'integer', description: 'The CoAP Content-Format the device answered with.' },
    node: jsonNodeSchema,
  },
} as const;

export const linkListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'links'],
  properties: {
    endpoint: { type: 'string' },
    links: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path', 'attributes'],
        properties: { path: { type: 'string' }, attributes: { type: 'object', additionalProperties: true } },
      },
    },
  },
} as const;

export const observationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'endpoint', 'path', 'initial'],
  properties: {
    id: { type: 'string' },
    endpoint: { type: 'string' },
    path: { type: 'string' },
    initial: {
      type: 'object',
      additionalProperties: false,
      required: ['format', 'node'],
      properties: { format: { type: 'integer' }, node: jsonNodeSchema },
    },
  },
} as const;

const hex = (max: number, what: string) => ({ type: 'string', minLength: 2, maxLength: max, pattern: '^([0-9a-fA-F]{2})+$', description: what }) as const;

const serverAccountSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['shortServerId', 'uri', 'securityMode'],
  properties: {
    shortServerId: { type: 'integer', minimum: 1, maximum: 65534 },
    uri: { type: 'string', minLength: 8, maxLength: 256, pattern: '^coaps?://[^\\s]+$' },
    securityMode: { type: 'string', enum: ['psk', 'rpk', 'x509', 'nosec'] },
    pskIdentity: { type: 'string', minLength: 1, maxLength: 128 },
    pskKey: hex(128, 'psk: the key as hex. Sealed before storage; never returned.'),
    clientPublicKey: hex(16384, 'rpk: the device SubjectPublicKeyInfo; x509: the device certificate (DER), as hex.'),
    clientPrivateKey: hex(16384, 'rpk / x509: the device PKCS#8 private key as hex. Sealed before storage; never returned.'),
    serverPublicKey: hex(16384, "rpk: the server's SubjectPublicKeyInfo; x509: the server certificate (DER), as hex."),
    lifetime: { type: 'integer', minimum: 1, maximum: 2147483647 },
    binding: { type: 'string', pattern: '^[UTSNMHQ]{1,6}$' },
    defaultMinPeriod: { type: 'integer', minimum: 0, maximum: 2147483647 },
    defaultMaxPeriod: { type: 'integer', minimum: 0, maximum: 2147483647 },
    notificationStoring: { type: 'boolean' },
  },
} as const;

export const bootstrapConfigInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['servers'],
  properties: {
    delete: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 16 }, description: "Paths Bootstrap-Delete'd first (default [\"/0\", \"/1\"])." },
    servers: { type: 'array', minItems: 1, maxItems: 8, items: serverAccountSchema },
  },
} as const;

export const bootstrapConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'updatedAt', 'delete', 'servers'],
  properties: {
    endpoint: { type: 'string' },
    updatedAt: { type: 'string' },
    delete: { type: 'array', items: { type: 'string' } },
    servers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        description: 'The account without pskKey / clientPrivateKey; hasPskKey / hasClientPrivateKey say whether one is stored.',
      },
    },
  },
} as const;
