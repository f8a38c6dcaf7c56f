/**
 * The route table: method, path, schemas, success status and the error codes each route can
 * answer with. app.ts registers these with fastify; openapi.ts renders them as OpenAPI 3.1. Both
 * read this one table, so a route cannot exist undocumented or be documented with other rules.
 */
import type { ApiErrorCode } from './errors.js';
import {
  auditListSchema,
  auditQuerySchema,
  auditVerificationSchema,
  deviceListQuerySchema,
  deviceListSchema,
  deviceSchema,
  endpointParamsSchema,
  healthSchema,
  newDeviceSchema,
} from './schemas.js';

export const API_PREFIX = '/api/v1';

/** A JSON Schema object as written in schemas.ts. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface RouteSpec {
  operationId: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under API_PREFIX, fastify style (`/devices/:endpoint`). */
  path: string;
  summary: string;
  tag: 'system' | 'devices' | 'audit';
  params?: JsonSchema;
  querystring?: JsonSchema;
  body?: JsonSchema;
  success: { status: 200 | 201 | 204; description: string; schema?: JsonSchema };
  /** Route-specific error codes; GLOBAL_ERRORS apply to every route as well. */
  errors: readonly ApiErrorCode[];
}

/** Errors any route can answer with, whatever its schema. */
export const GLOBAL_ERRORS: readonly ApiErrorCode[] = ['ERR_API_ROUTE_NOT_FOUND', 'ERR_API_INTERNAL'];

/** Errors of every route that takes a JSON body. */
const BODY_ERRORS: readonly ApiErrorCode[] = ['ERR_API_VALIDATION', 'ERR_API_BAD_JSON', 'ERR_API_UNSUPPORTED_MEDIA_TYPE', 'ERR_API_BODY_TOO_LARGE'];

export const ROUTES: readonly RouteSpec[] = [
  {
    operationId: 'getHealth',
    method: 'GET',
    path: '/health',
    summary: 'Liveness and readiness: 200 once every listener (HTTP, CoAP, CoAPs, EST) is up.',
    tag: 'system',
    success: { status: 200, description: 'Every listener is up.', schema: healthSchema },
    errors: ['ERR_API_NOT_READY'],
  },
  {
    operationId: 'getOpenApi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This OpenAPI 3.1 document.',
    tag: 'system',
    success: { status: 200, description: 'The OpenAPI document.' },
    errors: [],
  },
  {
    operationId: 'listDevices',
    method: 'GET',
    path: '/devices',
    summary: 'Lists devices ordered by endpoint name, a page at a time.',
    tag: 'devices',
    querystring: deviceListQuerySchema,
    success: { status: 200, description: 'A page of devices.', schema: deviceListSchema },
    errors: ['ERR_API_VALIDATION'],
  },
  {
    operationId: 'createDevice',
    method: 'POST',
    path: '/devices',
    summary: 'Registers a device, optionally with one credential (PSK, raw public key or X.509).',
    tag: 'devices',
    body: newDeviceSchema,
    success: { status: 201, description: 'The device as stored, credentials without secrets.', schema: deviceSchema },
    errors: [...BODY_ERRORS, 'ERR_API_BAD_CREDENTIAL', 'ERR_API_DEVICE_EXISTS', 'ERR_API_CREDENTIAL_IN_USE'],
  },
  {
    operationId: 'getDevice',
    method: 'GET',
    path: '/devices/:endpoint',
    summary: 'One device with its credentials (kind and lookup only; never secrets).',
    tag: 'devices',
    params: endpointParamsSchema,
    success: { status: 200, description: 'The device.', schema: deviceSchema },
    errors: ['ERR_API_VALIDATION', 'ERR_API_DEVICE_NOT_FOUND'],
  },
  {
    operationId: 'deleteDevice',
    method: 'DELETE',
    path: '/devices/:endpoint',
    summary: 'Removes a device and its credentials.',
    tag: 'devices',
    params: endpointParamsSchema,
    success: { status: 204, description: 'Removed.' },
    errors: ['ERR_API_VALIDATION', 'ERR_API_DEVICE_NOT_FOUND'],
  },
  {
    operationId: 'listAudit',
    method: 'GET',
    path: '/audit',
    summary: 'Audit records oldest first, a page at a time.',
    tag: 'audit',
    querystring: auditQuerySchema,
    success: { status: 200, description: 'A page of audit records.', schema: auditListSchema },
    errors: ['ERR_API_VALIDATION'],
  },
  {
    operationId: 'verifyAudit',
    method: 'GET',
    path: '/audit/verify',
    summary: 'Walks the audit hash chain and reports the first broken link, if any.',
    tag: 'audit',
    success: { status: 200, description: 'The verification result (ok true or false).', schema: auditVerificationSchema },
    errors: [],
  },
];
