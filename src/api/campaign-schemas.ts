/**
 * JSON Schema of the campaign routes. The request schema mirrors the campaign room's
 * CampaignInput (src/fota/campaign/spec.ts), which validates again and names the field it
 * refuses (ERR_API_CAMPAIGN_INVALID), e.g. a version range that does not parse.
 */
import { firmwareIdSchema } from './firmware-schemas.js';

const CAMPAIGN_STATES = ['draft', 'approved', 'running', 'paused', 'completed', 'cancelled'] as const;
const DEVICE_STATUSES = ['pending', 'in-flight', 'retry-wait', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
const NO_CONTROLS = '^[^\\u0000-\\u001f\\u007f-\\u009f]+$';
const ENDPOINT = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@+=~-]+$' } as const;
const percent = { type: 'number', minimum: 0, maximum: 100 } as const;
const isoTime = { type: 'string', minLength: 10, maxLength: 64, description: 'ISO 8601 date-time, e.g. 2026-03-01T02:00:00Z' } as const;

/** Caller-chosen campaign ids are one safe URL path segment. */
export const campaignIdSchema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@+=~-]+$', description: 'Campaign id (a UUID unless chosen at creation).' } as const;

export const campaignIdParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: campaignIdSchema },
} as const;

const waveSchema = {
  oneOf: [
    { type: 'integer', minimum: 1, description: 'Cumulative device count.' },
    { type: 'string', pattern: '^(\\d{1,3}(\\.\\d{1,3})?%|all)$', description: "Cumulative percentage ('10%') or 'all'." },
  ],
} as const;

export const newCampaignSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'firmwareId', 'target'],
  properties: {
    id: campaignIdSchema,
    name: { type: 'string', minLength: 1, maxLength: 255, pattern: NO_CONTROLS },
    firmwareId: firmwareIdSchema,
    target: {
      type: 'object',
      additionalProperties: false,
      properties: {
        model: { type: 'string', minLength: 1, maxLength: 128, pattern: NO_CONTROLS, description: 'Device model; defaults to the firmware\'s model.' },
        versionRange: { type: 'string', minLength: 1, maxLength: 256, description: "SemVer range of the devices' current version: '>=1.2.0 <2', '^1.4', '1.x'." },
        tags: { type: 'array', maxItems: 32, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:=-]+$' }, description: 'The device must carry every tag.' },
        endpoints: { type: 'array', minItems: 1, maxItems: 100_000, uniqueItems: true, items: ENDPOINT, description: 'Only these devices (the other criteria still apply).' },
      },
    },
    waves: { type: 'array', minItems: 1, maxItems: 100, items: waveSchema, description: "Cumulative wave sizes, the last covering everyone: ['1%', '10%', 'all']. Default ['all']." },
    successThreshold: { ...percent, description: 'Percent of a wave that must succeed before the next starts (default 90).' },
    errorThreshold: { ...percent, description: 'Percent failed above which the campaign pauses itself (default 20).' },
    maxInFlight: { type: 'integer', minimum: 1, maximum: 100_000, description: 'Devices updating at once (default 50).' },
    schedule: {
      type: 'object',
      additionalProperties: false,
      properties: {
        startAt: isoTime,
        endAt: isoTime,
        dailyWindow: {
          type: 'object',
          additionalProperties: false,
          required: ['from', 'to'],
          properties: { from: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' }, to: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' } },
          description: 'UTC times of day; from > to wraps midnight.',
        },
      },
    },
    retry: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxAttempts: { type: 'integer', minimum: 1, maximum: 100 },
        backoffMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
        backoffFactor: { type: 'number', minimum: 1, maximum: 100 },
        maxBackoffMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
        retryOn: { type: 'array', maxItems: 10, uniqueItems: true, items: { type: 'integer', minimum: 0, maximum: 9 }, description: 'LwM2M Update Result codes worth retrying (default 3, 4, 5, 8).' },
      },
    },
    attemptTimeoutMs: { type: 'integer', minimum: 1000, maximum: 604_800_000 },
    requiresApproval: { type: 'boolean' },
    packagePolicy: { type: 'string', enum: ['auto', 'full'], description: "'auto': a delta when one exists for the device's version; 'full': always the image." },
    delivery: {
      type: ['string', 'null'],
      enum: ['lwm2m-pull', 'lwm2m-push', 'https-pull', null],
      description:
        "How the package reaches the devices: 'lwm2m-pull' (Package URI /5/0/1, CoAPs Block2), 'lwm2m-push' (Block1 write of /5/0/0), 'https-pull' (Package URI to the server's TLS-PSK HTTPS package listener). Absent or null: the server's default (serve setting fotaDelivery). A method the server does not offer is refused (400, field delivery).",
    },
  },
} as const;

const waveSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['wave', 'total', 'pending', 'inFlight', 'retryWait', 'succeeded', 'failed', 'skipped', 'cancelled'],
  properties: {
    wave: { type: 'integer' },
    total: { type: 'integer' },
    pending: { type: 'integer' },
    inFlight: { type: 'integer' },
    retryWait: { type: 'integer' },
    succeeded: { type: 'integer' },
    failed: { type: 'integer' },
    skipped: { type: 'integer' },
    cancelled: { type: 'integer' },
  },
} as const;

const deviceTotalsSchema = {
  ...waveSummarySchema,
  required: waveSummarySchema.required.filter((k) => k !== 'wave'),
  properties: Object.fromEntries(Object.entries(waveSummarySchema.properties).filter(([k]) => k !== 'wave')),
  description: 'Device counts by status over every wave.',
} as const;

export const campaignSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'firmwareId', 'state', 'stateReason', 'revision', 'createdBy', 'createdAt', 'updatedAt', 'spec', 'progress', 'waves', 'devices'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    firmwareId: { type: 'string' },
    state: { type: 'string', enum: [...CAMPAIGN_STATES] },
    stateReason: { type: ['string', 'null'] },
    revision: { type: 'integer' },
    createdBy: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    spec: { type: 'object', additionalProperties: true, description: 'The normalised campaign specification (defaults filled in).' },
    progress: { type: 'object', additionalProperties: true, description: 'Current wave, planned wave ends, target count, why paused.' },
    waves: { type: 'array', items: waveSummarySchema, description: 'Device counts by status, per wave.' },
    devices: deviceTotalsSchema,
  },
} as const;

export const campaignListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { type: 'string', enum: [...CAMPAIGN_STATES] },
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Page size (default 100).' },
    after: { ...campaignIdSchema, description: "Continue after this id (the previous page's `next`)." },
  },
} as const;

export const campaignListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['campaigns', 'next'],
  properties: { campaigns: { type: 'array', items: campaignSchema }, next: { type: ['string', 'null'] } },
} as const;

export const campaignDeviceQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: [...DEVICE_STATUSES] },
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Page size (default 100).' },
    after: { type: 'integer', minimum: 0, maximum: 9007199254740991, description: "Continue after this position (the previous page's `next`)." },
  },
} as const;

export const campaignDeviceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['campaignId', 'endpoint', 'wave', 'position', 'status', 'attempt', 'fwState', 'updateResult', 'progress', 'fromVersion', 'reportedVersion', 'packageKind', 'failure', 'dueAt', 'joinedAt', 'updatedAt'],
  properties: {
    campaignId: { type: 'string' },
    endpoint: { type: 'string' },
    wave: { type: 'integer' },
    position: { type: 'integer' },
    status: { type: 'string', enum: [...DEVICE_STATUSES] },
    attempt: { type: 'integer' },
    fwState: { type: ['integer', 'null'], description: 'LwM2M /5/0/3: 0 Idle, 1 Downloading, 2 Downloaded, 3 Updating.' },
    updateResult: { type: ['integer', 'null'], description: 'LwM2M /5/0/5 Update Result 0..9.' },
    progress: { type: ['number', 'null'], description: 'Download progress in percent.' },
    fromVersion: { type: ['string', 'null'] },
    reportedVersion: { type: ['string', 'null'] },
    packageKind: { type: ['string', 'null'], enum: ['delta', 'full', null] },
    failure: { type: ['string', 'null'] },
    dueAt: { type: ['string', 'null'] },
    joinedAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const campaignDeviceListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['devices', 'next'],
  properties: { devices: { type: 'array', items: campaignDeviceSchema }, next: { type: ['integer', 'null'] } },
} as const;

export const campaignReasonQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', minLength: 1, maxLength: 1024, pattern: NO_CONTROLS, description: 'Why, for the timeline and the audit log.' } },
} as const;
