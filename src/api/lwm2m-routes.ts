/**
 * The LwM2M rows of the route table (routes.ts spreads them in): Read / Write / Execute on
 * `devices/{endpoint}/objects/...`, Discover, Observe / Cancel, and the bootstrap configuration.
 * An LwM2M path has one to four ids; OpenAPI path parameters cannot hold a '/', so each depth is
 * its own route (`/objects/3`, `/objects/3/0`, `/objects/3/0/13`, `/objects/3/0/11/0`) and the
 * URL a user types stays the plain LwM2M path.
 */
import type { ApiErrorCode } from './errors.js';
import {
  bootstrapConfigInputSchema,
  bootstrapConfigSchema,
  deviceRequestQuerySchema,
  executeBodySchema,
  linkListSchema,
  lwm2mPathParamsSchema,
  observationSchema,
  observeBodySchema,
  PATH_LEVELS,
  readQuerySchema,
  readResultSchema,
  writeBodySchema,
  writeQuerySchema,
} from './lwm2m-schemas.js';
import type { RouteSpec } from './routes.js';
import { endpointParamsSchema } from './schemas.js';

const BODY: readonly ApiErrorCode[] = ['ERR_API_VALIDATION', 'ERR_API_BAD_JSON', 'ERR_API_UNSUPPORTED_MEDIA_TYPE', 'ERR_API_BODY_TOO_LARGE'];

/** What any request to a registered device can end in. */
const DEVICE: readonly ApiErrorCode[] = [
  'ERR_API_VALIDATION',
  'ERR_API_NOT_READY',
  'ERR_LWM2M_BAD_PATH',
  'ERR_LWM2M_NOT_REGISTERED',
  'ERR_LWM2M_DEVICE_ERROR',
  'ERR_LWM2M_BAD_DEVICE_RESPONSE',
  'ERR_LWM2M_DEVICE_UNREACHABLE',
  'ERR_LWM2M_DEVICE_TIMEOUT',
  'ERR_LWM2M_REQUEST_EXPIRED',
  'ERR_LWM2M_QUEUE_FULL',
];

type Depth = 1 | 2 | 3 | 4;
const LEVEL_NAMES = ['Object', 'Instance', 'Resource', 'ResourceInstance'] as const;

/** `/devices/:endpoint/objects/:objectId/:instanceId` for depth 2. */
export function lwm2mRoutePath(prefix: 'objects' | 'discover' | 'observations', depth: Depth): string {
  return `/devices/:endpoint/${prefix}/${PATH_LEVELS.slice(0, depth)
    .map((l) => `:${l}`)
    .join('/')}`;
}

/** The LwM2M path a depth route's params name, e.g. '/3/0/13'. */
export function lwm2mPathOf(params: Record<string, string>): string {
  let path = '';
  for (const l of PATH_LEVELS) if (params[l] !== undefined) path += `/${params[l]}`;
  return path;
}

function byDepth(depths: readonly Depth[], make: (depth: Depth, level: string) => RouteSpec): RouteSpec[] {
  return depths.map((d) => make(d, LEVEL_NAMES[d - 1]!));
}

export const LWM2M_ROUTES: readonly RouteSpec[] = [
  ...byDepth([1, 2, 3, 4], (d, level) => ({
    operationId: `read${level}`,
    method: 'GET',
    path: lwm2mRoutePath('objects', d),
    summary: `LwM2M Read of an ${level === 'Object' ? 'object' : level.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} on a registered device; the value as JSON.`,
    tag: 'devices',
    params: lwm2mPathParamsSchema(d),
    querystring: readQuerySchema,
    success: { status: 200, description: 'The value the device answered with.', schema: readResultSchema },
    errors: DEVICE,
  })),
  ...byDepth([2, 3, 4], (d, level) => ({
    operationId: `write${level}`,
    method: 'PUT',
    path: lwm2mRoutePath('objects', d),
    summary: `LwM2M Write (replace, or partial update with mode=update) of a${level === 'Instance' ? 'n instance' : level === 'Resource' ? ' resource' : ' resource instance'}.`,
    tag: 'devices',
    params: lwm2mPathParamsSchema(d),
    querystring: writeQuerySchema,
    body: writeBodySchema,
    success: { status: 204, description: 'The device accepted the write.' },
    errors: [...BODY, ...DEVICE, 'ERR_LWM2M_BAD_VALUE'],
  })),
  {
    operationId: 'executeResource',
    method: 'POST',
    path: lwm2mRoutePath('objects', 3),
    summary: 'LwM2M Execute of a resource (e.g. /3/0/4 Reboot), with optional arguments.',
    tag: 'devices',
    params: lwm2mPathParamsSchema(3),
    querystring: deviceRequestQuerySchema,
    body: executeBodySchema,
    optionalBody: true,
    success: { status: 204, description: 'The device executed it.' },
    errors: [...BODY, ...DEVICE],
  },
  ...byDepth([1, 2, 3], (d, level) => ({
    operationId: `discover${level}`,
    method: 'GET',
    path: lwm2mRoutePath('discover', d),
    summary: `LwM2M Discover: the ${level === 'Object' ? "object's instances and resources" : level === 'Instance' ? "instance's resources" : "resource's instances"} with their attributes.`,
    tag: 'devices',
    params: lwm2mPathParamsSchema(d),
    querystring: deviceRequestQuerySchema,
    success: { status: 200, description: 'The links the device answered with.', schema: linkListSchema },
    errors: DEVICE,
  })),
  {
    operationId: 'observe',
    method: 'POST',
    path: '/devices/:endpoint/observations',
    summary: 'LwM2M Observe of a path; notifications arrive on GET /api/v1/events (topic lwm2m, type lwm2m.notification).',
    tag: 'devices',
    params: endpointParamsSchema,
    querystring: deviceRequestQuerySchema,
    body: observeBodySchema,
    success: { status: 201, description: 'The observation with the current value.', schema: observationSchema },
    errors: [...BODY, ...DEVICE, 'ERR_LWM2M_TOO_MANY_OBSERVATIONS'],
  },
  ...byDepth([1, 2, 3, 4], (d, level) => ({
    operationId: `cancelObservation${level}`,
    method: 'DELETE',
    path: lwm2mRoutePath('observations', d),
    summary: 'Cancels the observations of this path (Cancel Observation, Core §6.4.2); for a sleeping queue-mode device the Cancel waits at most `timeout` seconds.',
    tag: 'devices',
    params: lwm2mPathParamsSchema(d),
    querystring: deviceRequestQuerySchema,
    success: { status: 204, description: 'Cancelled.' },
    errors: [...DEVICE, 'ERR_LWM2M_NO_OBSERVATION'],
  })),
  {
    operationId: 'putBootstrapConfig',
    method: 'PUT',
    path: '/devices/:endpoint/bootstrap',
    summary: "Sets the device's bootstrap configuration (the management servers the bootstrap server writes); secrets are sealed.",
    tag: 'devices',
    params: endpointParamsSchema,
    body: bootstrapConfigInputSchema,
    success: { status: 200, description: 'The stored configuration without secrets.', schema: bootstrapConfigSchema },
    errors: [...BODY, 'ERR_API_NOT_READY', 'ERR_API_DEVICE_NOT_FOUND', 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG'],
  },
  {
    operationId: 'getBootstrapConfig',
    method: 'GET',
    path: '/devices/:endpoint/bootstrap',
    summary: "The device's bootstrap configuration without secrets (hasPskKey / hasClientPrivateKey instead).",
    tag: 'devices',
    params: endpointParamsSchema,
    success: { status: 200, description: 'The configuration.', schema: bootstrapConfigSchema },
    errors: ['ERR_API_VALIDATION', 'ERR_API_NOT_READY', 'ERR_API_DEVICE_NOT_FOUND', 'ERR_API_BOOTSTRAP_CONFIG_NOT_FOUND'],
  },
];
