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
import {
  campaignDeviceListSchema,
  campaignDeviceQuerySchema,
  campaignIdParamsSchema,
  campaignListQuerySchema,
  campaignListSchema,
  campaignReasonQuerySchema,
  campaignSchema,
  newCampaignSchema,
} from './campaign-schemas.js';
import { eventsQuerySchema } from './events-routes.js';
import { LWM2M_ROUTES } from './lwm2m-routes.js';
import { JUST_WORKS_ROUTES, ONBOARDING_ROUTES } from './onboarding-routes.js';
import { firmwareIdParamsSchema, firmwareListQuerySchema, firmwareListSchema, firmwareSchema, firmwareSigningKeySchema, firmwareUploadQuerySchema } from './firmware-schemas.js';

export const API_PREFIX = '/api/v1';

/** A JSON Schema object as written in schemas.ts. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface RouteSpec {
  operationId: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under API_PREFIX, fastify style (`/devices/:endpoint`). */
  path: string;
  summary: string;
  tag: 'system' | 'devices' | 'audit' | 'firmware' | 'campaigns' | 'events' | 'onboarding';
  params?: JsonSchema;
  querystring?: JsonSchema;
  body?: JsonSchema;
  /** The JSON body may be left out (it is then `{}`); only for bodies whose every property is optional. */
  optionalBody?: true;
  /** A raw request body of this media type (streamed to the handler) instead of JSON. */
  rawBody?: { mediaType: 'application/octet-stream'; description: string };
  /** The success body's media type when it is not JSON (a download, a manifest, an event stream). */
  produces?: 'application/octet-stream' | 'application/cbor' | 'application/pkix-crl' | 'text/event-stream';
  success: { status: 200 | 201 | 204; description: string; schema?: JsonSchema };
  /** Route-specific error codes; GLOBAL_ERRORS apply to every route as well. */
  errors: readonly ApiErrorCode[];
}

/** Errors any route can answer with, whatever its schema. */
export const GLOBAL_ERRORS: readonly ApiErrorCode[] = ['ERR_API_ROUTE_NOT_FOUND', 'ERR_API_INTERNAL'];

/** Errors of every route that takes a JSON body. */
const BODY_ERRORS: readonly ApiErrorCode[] = ['ERR_API_VALIDATION', 'ERR_API_BAD_JSON', 'ERR_API_UNSUPPORTED_MEDIA_TYPE', 'ERR_API_BODY_TOO_LARGE'];

export const CAMPAIGN_ACTIONS: readonly { action: 'approve' | 'start' | 'pause' | 'resume' | 'cancel'; summary: string; reason: boolean; errors: readonly ApiErrorCode[] }[] = [
  { action: 'approve', summary: 'Approves a draft campaign that requires approval.', reason: false, errors: [] },
  {
    action: 'start',
    summary: 'Starts a draft (or approved) campaign: selects the matching devices and plans the waves.',
    reason: false,
    errors: ['ERR_API_CAMPAIGN_APPROVAL_REQUIRED', 'ERR_API_CAMPAIGN_UNKNOWN_FIRMWARE', 'ERR_API_CAMPAIGN_NO_DRIVER'],
  },
  { action: 'pause', summary: 'Pauses a running campaign (devices in flight finish; no new attempts).', reason: true, errors: [] },
  { action: 'resume', summary: 'Resumes a paused campaign, accepting the failures and thresholds that paused it.', reason: false, errors: ['ERR_API_CAMPAIGN_NO_DRIVER'] },
  { action: 'cancel', summary: 'Cancels a campaign; devices not yet updated are cancelled.', reason: true, errors: [] },
];

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
  {
    operationId: 'uploadFirmware',
    method: 'POST',
    path: '/firmware',
    summary: 'Stores a firmware image (the raw bytes as the body) and signs its SUIT manifest.',
    tag: 'firmware',
    querystring: firmwareUploadQuerySchema,
    rawBody: { mediaType: 'application/octet-stream', description: 'The firmware image, at most the configured upload limit (default 64 MiB).' },
    success: { status: 201, description: 'The stored image.', schema: firmwareSchema },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION', 'ERR_API_UNSUPPORTED_MEDIA_TYPE', 'ERR_API_BODY_TOO_LARGE', 'ERR_API_FIRMWARE_EXISTS', 'ERR_API_FIRMWARE_NOT_NEWER'],
  },
  {
    operationId: 'listFirmware',
    method: 'GET',
    path: '/firmware',
    summary: 'Lists firmware images ordered by vendor, model and sequence, a page at a time.',
    tag: 'firmware',
    querystring: firmwareListQuerySchema,
    success: { status: 200, description: 'A page of images.', schema: firmwareListSchema },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION'],
  },
  {
    operationId: 'getFirmwareSigningKey',
    method: 'GET',
    path: '/firmware/signing-key',
    summary: 'The public key that signs every firmware manifest: what devices must trust.',
    tag: 'firmware',
    success: { status: 200, description: 'The public key (PEM), its kid and algorithm.', schema: firmwareSigningKeySchema },
    errors: ['ERR_API_NOT_READY'],
  },
  {
    operationId: 'getFirmware',
    method: 'GET',
    path: '/firmware/:id',
    summary: 'One firmware image.',
    tag: 'firmware',
    params: firmwareIdParamsSchema,
    success: { status: 200, description: 'The image.', schema: firmwareSchema },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION', 'ERR_API_FIRMWARE_NOT_FOUND'],
  },
  {
    operationId: 'downloadFirmware',
    method: 'GET',
    path: '/firmware/:id/image',
    summary: 'The image bytes (streamed; re-checked against their SHA-256, which the Digest header carries).',
    tag: 'firmware',
    params: firmwareIdParamsSchema,
    produces: 'application/octet-stream',
    success: { status: 200, description: 'The image.' },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION', 'ERR_API_FIRMWARE_NOT_FOUND'],
  },
  {
    operationId: 'getFirmwareManifest',
    method: 'GET',
    path: '/firmware/:id/manifest',
    summary: "The image's signed SUIT envelope (CBOR, COSE_Sign1 by the firmware-signing key).",
    tag: 'firmware',
    params: firmwareIdParamsSchema,
    produces: 'application/cbor',
    success: { status: 200, description: 'The SUIT envelope.' },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION', 'ERR_API_FIRMWARE_NOT_FOUND'],
  },
  {
    operationId: 'deleteFirmware',
    method: 'DELETE',
    path: '/firmware/:id',
    summary: 'Deletes an image no unfinished campaign targets.',
    tag: 'firmware',
    params: firmwareIdParamsSchema,
    success: { status: 204, description: 'Deleted.' },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION', 'ERR_API_FIRMWARE_NOT_FOUND', 'ERR_API_FIRMWARE_IN_USE'],
  },
  {
    operationId: 'createCampaign',
    method: 'POST',
    path: '/campaigns',
    summary: 'Creates a draft campaign: firmware, target filter, waves, thresholds, schedule, retry policy.',
    tag: 'campaigns',
    body: newCampaignSchema,
    success: { status: 201, description: 'The campaign (state draft).', schema: campaignSchema },
    errors: ['ERR_API_NOT_READY', ...BODY_ERRORS, 'ERR_API_CAMPAIGN_INVALID', 'ERR_API_CAMPAIGN_UNKNOWN_FIRMWARE', 'ERR_API_CAMPAIGN_EXISTS'],
  },
  {
    operationId: 'listCampaigns',
    method: 'GET',
    path: '/campaigns',
    summary: 'Lists campaigns ordered by id, a page at a time.',
    tag: 'campaigns',
    querystring: campaignListQuerySchema,
    success: { status: 200, description: 'A page of campaigns.', schema: campaignListSchema },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION'],
  },
  {
    operationId: 'getCampaign',
    method: 'GET',
    path: '/campaigns/:id',
    summary: 'One campaign with device counts per wave and in total.',
    tag: 'campaigns',
    params: campaignIdParamsSchema,
    success: { status: 200, description: 'The campaign.', schema: campaignSchema },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION', 'ERR_API_CAMPAIGN_NOT_FOUND'],
  },
  {
    operationId: 'listCampaignDevices',
    method: 'GET',
    path: '/campaigns/:id/devices',
    summary: "The campaign's devices in rollout order: Object 5 state, Update Result, progress, attempts, failure.",
    tag: 'campaigns',
    params: campaignIdParamsSchema,
    querystring: campaignDeviceQuerySchema,
    success: { status: 200, description: 'A page of campaign devices.', schema: campaignDeviceListSchema },
    errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION', 'ERR_API_CAMPAIGN_NOT_FOUND'],
  },
  ...CAMPAIGN_ACTIONS.map(
    (a): RouteSpec => ({
      operationId: `${a.action}Campaign`,
      method: 'POST',
      path: `/campaigns/:id/${a.action}`,
      summary: a.summary,
      tag: 'campaigns',
      params: campaignIdParamsSchema,
      ...(a.reason ? { querystring: campaignReasonQuerySchema } : {}),
      success: { status: 200, description: 'The campaign after the change.', schema: campaignSchema },
      errors: ['ERR_API_NOT_READY', 'ERR_API_VALIDATION', 'ERR_API_CAMPAIGN_NOT_FOUND', 'ERR_API_CAMPAIGN_ILLEGAL_TRANSITION', 'ERR_API_CAMPAIGN_CONFLICT', ...a.errors],
    }),
  ),
  {
    operationId: 'streamEvents',
    method: 'GET',
    path: '/events',
    summary: 'Server-sent events: campaign progress and state changes, device registry and LwM2M events. Resumes after Last-Event-ID.',
    tag: 'events',
    querystring: eventsQuerySchema,
    produces: 'text/event-stream',
    success: { status: 200, description: 'An endless text/event-stream; each event has id, event (the topic) and data (JSON {id, topic, type, at, data}).' },
    errors: ['ERR_API_VALIDATION', 'ERR_API_TOO_MANY_STREAMS'],
  },
  ...LWM2M_ROUTES,
  ...ONBOARDING_ROUTES,
  ...JUST_WORKS_ROUTES,
];
