/**
 * The onboarding rows of the route table (routes.ts spreads them in) and their handlers: the
 * registrar's operator-approval list (RFC 8995 §5.3 leaves the accept decision to the domain;
 * with `onboarding.approval: "manual"` unknown pledges wait here). The registrar itself audits
 * each decision (`registrar.approval`) with the actor; this layer only validates and maps errors.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isRootlineError } from '../errors.js';
import { ApiError, type ApiErrorCode } from './errors.js';
import type { RouteSpec } from './routes.js';
import { endpointParamsSchema } from './schemas.js';

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** What the API needs of the registrar (src/onboarding/registrar) and the decommissioner (src/onboarding/decommission.ts). */
export interface OnboardingApi {
  pending(): Promise<readonly PendingPledgeView[]>;
  approve(serial: string, actor: string): Promise<PendingPledgeView>;
  reject(serial: string, actor: string): Promise<PendingPledgeView>;
  decommissionDevice?(request: { endpoint: string; actor: string }): Promise<DecommissionView>;
  /** The domain CA's current CRL, DER. */
  currentCrl?(): Promise<Uint8Array>;
  /** Random-PIN owner transfers (src/onboarding/pin-transfer.ts). */
  pinTransfers?: PinTransfersApi | undefined;
  /** Just-works owner transfer (src/onboarding/just-works.ts); absent unless `onboarding.justWorks` is true. */
  justWorks?: JustWorksApi | undefined;
}

export interface JustWorksApi {
  pending(): Promise<Array<{ fingerprint: string; firstSeen: string; lastSeen: string }>>;
  approve(request: { fingerprint: string; endpoint: string; actor: string }): Promise<{ endpoint: string; fingerprint: string; ownershipState: string }>;
}

export interface PinTransferView {
  id: string;
  endpoint: string;
  salt: string;
  status: string;
  failedAttempts: number;
  maxAttempts: number;
  createdAt: string;
  expiresAt: string;
}

export interface PinTransfersApi {
  start(request: { endpoint?: string; serial?: string; actor: string }): Promise<PinTransferView>;
  enterPin(id: string, pin: string, actor: string): Promise<PinTransferView>;
  get(id: string): Promise<PinTransferView>;
}

export interface DecommissionView {
  endpoint: string;
  revoked: string[];
  registrationDeleted: boolean;
  bootstrapConfigDeleted: boolean;
  credentialsRemoved: number;
  masaClaim: 'released' | 'pending' | 'not-owned' | 'owner-must-release' | 'not-brski';
  ownershipState: string;
}

export interface PendingPledgeView {
  serial: string;
  model: string;
  manufacturer: string;
  idevidFingerprint: string;
  status: 'pending' | 'approved' | 'rejected';
  firstSeen: string;
  lastSeen: string;
  decidedBy?: string;
  decidedAt?: string;
}

// The factory's serial pattern (src/onboarding/masa-registry.ts SERIAL_NUMBER_PATTERN).
const serialSchema = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9.:-]{0,63}$', description: "The pledge's IDevID serial number." } as const;

export const serialParamsSchema = { type: 'object', additionalProperties: false, required: ['serial'], properties: { serial: serialSchema } } as const;

export const pendingPledgeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['serial', 'model', 'manufacturer', 'idevidFingerprint', 'status', 'firstSeen', 'lastSeen'],
  properties: {
    serial: { type: 'string' },
    model: { type: 'string' },
    manufacturer: { type: 'string' },
    idevidFingerprint: { type: 'string', description: "SHA-256 of the pledge's IDevID (DER), hex: an approval holds for this certificate only." },
    status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
    firstSeen: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time' },
    decidedBy: { type: 'string' },
    decidedAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const pendingListSchema = { type: 'object', additionalProperties: false, required: ['pending'], properties: { pending: { type: 'array', items: pendingPledgeSchema } } } as const;

export const decommissionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'revoked', 'registrationDeleted', 'bootstrapConfigDeleted', 'credentialsRemoved', 'masaClaim', 'ownershipState'],
  properties: {
    endpoint: { type: 'string' },
    revoked: { type: 'array', items: { type: 'string' }, description: 'LDevID serial numbers (hex) revoked by this call; they are on the CRL at GET /onboarding/crl.' },
    registrationDeleted: { type: 'boolean' },
    bootstrapConfigDeleted: { type: 'boolean' },
    credentialsRemoved: { type: 'integer' },
    masaClaim: { type: 'string', enum: ['released', 'pending', 'not-owned', 'owner-must-release', 'not-brski'], description: "'pending': the remote MASA was not reachable; the release is queued and retried. 'not-owned': the MASA says this domain holds no claim. 'owner-must-release': no MASA is known for the device here; release the claim there." },
    ownershipState: { type: 'string' },
  },
} as const;

const OFF: readonly ApiErrorCode[] = ['ERR_API_ONBOARDING_DISABLED'];

export const pinTransferSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'endpoint', 'salt', 'status', 'failedAttempts', 'maxAttempts', 'createdAt', 'expiresAt'],
  properties: {
    id: { type: 'string' },
    endpoint: { type: 'string' },
    salt: { type: 'string', description: 'Hex; the device derives its PSK from the PIN with this salt (HKDF-SHA-256) and connects as `pin:<id>`.' },
    status: { type: 'string', enum: ['awaiting-pin', 'ready', 'connected', 'completed', 'locked', 'expired'] },
    failedAttempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
  },
} as const;

const pinTransferIdParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } } as const;
const PIN_ERRORS: readonly ApiErrorCode[] = ['ERR_API_VALIDATION', 'ERR_API_PIN_TRANSFER_NOT_FOUND', ...OFF];

export const ONBOARDING_ROUTES: readonly RouteSpec[] = [
  {
    operationId: 'listPendingPledges',
    method: 'GET',
    path: '/onboarding/pending',
    summary: 'Pledges that asked the registrar for a voucher and wait for (or got) an operator decision.',
    tag: 'onboarding',
    success: { status: 200, description: 'The approval list, oldest first.', schema: pendingListSchema },
    errors: OFF,
  },
  ...(['approve', 'reject'] as const).map(
    (action): RouteSpec => ({
      operationId: `${action}PendingPledge`,
      method: 'POST',
      path: `/onboarding/pending/:serial/${action}`,
      summary: action === 'approve' ? 'Approves a waiting pledge: its next voucher request is relayed to the MASA.' : 'Rejects a waiting pledge: its voucher requests are refused (403) from now on.',
      tag: 'onboarding',
      params: serialParamsSchema,
      success: { status: 200, description: 'The entry after the decision.', schema: pendingPledgeSchema },
      errors: ['ERR_API_VALIDATION', 'ERR_API_PENDING_NOT_FOUND', ...OFF],
    }),
  ),
  {
    operationId: 'decommissionDevice',
    method: 'POST',
    path: '/devices/:endpoint/decommission',
    summary: "Decommissions a device in one step: revokes its LDevID (CRL updated), deletes its LwM2M registration, bootstrap configuration and credentials, releases the MASA claim, moves it to DECOMMISSIONED. Repeating the call after a failure finishes the job.",
    tag: 'onboarding',
    params: endpointParamsSchema,
    success: { status: 200, description: 'What was done.', schema: decommissionSchema },
    errors: ['ERR_API_VALIDATION', 'ERR_API_DEVICE_NOT_FOUND', 'ERR_API_OWNERSHIP_ILLEGAL_TRANSITION', ...OFF],
  },
  {
    operationId: 'getOnboardingCrl',
    method: 'GET',
    path: '/onboarding/crl',
    summary: "The domain CA's current CRL (DER), listing every revoked LDevID.",
    tag: 'onboarding',
    produces: 'application/pkix-crl',
    success: { status: 200, description: 'An X.509 v2 CRL, DER (RFC 5280; media type per RFC 2585).' },
    errors: OFF,
  },
  {
    operationId: 'startPinTransfer',
    method: 'POST',
    path: '/onboarding/pin-transfers',
    summary: 'Starts a random-PIN owner transfer for a device in RESET (by endpoint or serial number).',
    tag: 'onboarding',
    body: {
      type: 'object',
      additionalProperties: false,
      properties: { endpoint: { type: 'string', minLength: 1, maxLength: 128 }, serial: serialSchema },
      anyOf: [{ required: ['endpoint'] }, { required: ['serial'] }],
    },
    success: { status: 201, description: 'The transfer: give the device its id and salt; it shows a PIN.', schema: pinTransferSchema },
    errors: ['ERR_API_VALIDATION', 'ERR_API_BAD_JSON', 'ERR_API_UNSUPPORTED_MEDIA_TYPE', 'ERR_API_BODY_TOO_LARGE', 'ERR_API_DEVICE_NOT_FOUND', 'ERR_API_PIN_TRANSFER_STATE', ...OFF],
  },
  {
    operationId: 'enterPinTransferPin',
    method: 'POST',
    path: '/onboarding/pin-transfers/:id/pin',
    summary: 'Enters the PIN the device shows; the server derives the DTLS PSK for identity pin:<id>. The PIN is never stored or logged.',
    tag: 'onboarding',
    params: pinTransferIdParams,
    body: { type: 'object', additionalProperties: false, required: ['pin'], properties: { pin: { type: 'string', pattern: '^[0-9]{6,16}$' } } },
    success: { status: 200, description: 'The transfer, now ready for the device.', schema: pinTransferSchema },
    errors: [...PIN_ERRORS, 'ERR_API_BAD_JSON', 'ERR_API_UNSUPPORTED_MEDIA_TYPE', 'ERR_API_BODY_TOO_LARGE', 'ERR_API_PIN_TRANSFER_LOCKED', 'ERR_API_PIN_TRANSFER_STATE'],
  },
  {
    operationId: 'getPinTransfer',
    method: 'GET',
    path: '/onboarding/pin-transfers/:id',
    summary: 'A PIN transfer: its status and failed handshake count.',
    tag: 'onboarding',
    params: pinTransferIdParams,
    success: { status: 200, description: 'The transfer.', schema: pinTransferSchema },
    errors: PIN_ERRORS,
  },
];

const fingerprintSchema = { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the raw public key (SubjectPublicKeyInfo), hex.' } as const;

export const JUST_WORKS_ROUTES: readonly RouteSpec[] = [
  {
    operationId: 'listJustWorksKeys',
    method: 'GET',
    path: '/onboarding/just-works/pending',
    summary: 'Raw public keys unknown devices presented over CoAPs, waiting for an operator to approve one for a device (only with onboarding.justWorks: true).',
    tag: 'onboarding',
    success: {
      status: 200,
      description: 'The keys seen, oldest first.',
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['pending'],
        properties: { pending: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['fingerprint', 'firstSeen', 'lastSeen'], properties: { fingerprint: fingerprintSchema, firstSeen: { type: 'string', format: 'date-time' }, lastSeen: { type: 'string', format: 'date-time' } } } } },
      },
    },
    errors: OFF,
  },
  {
    operationId: 'approveJustWorksKey',
    method: 'POST',
    path: '/onboarding/just-works/approve',
    summary: 'Binds a seen raw public key to a device in RESET (just-works owner transfer): RESET → RFOTM → RFPRO; the device is accepted with that key from then on.',
    tag: 'onboarding',
    body: { type: 'object', additionalProperties: false, required: ['fingerprint', 'endpoint'], properties: { fingerprint: fingerprintSchema, endpoint: { type: 'string', minLength: 1, maxLength: 128 } } },
    success: { status: 200, description: 'The device and its new state.', schema: { type: 'object', additionalProperties: false, required: ['endpoint', 'fingerprint', 'ownershipState'], properties: { endpoint: { type: 'string' }, fingerprint: { type: 'string' }, ownershipState: { type: 'string' } } } },
    errors: ['ERR_API_VALIDATION', 'ERR_API_BAD_JSON', 'ERR_API_UNSUPPORTED_MEDIA_TYPE', 'ERR_API_BODY_TOO_LARGE', 'ERR_API_DEVICE_NOT_FOUND', 'ERR_API_JUST_WORKS_UNKNOWN_KEY', 'ERR_API_OWNERSHIP_ILLEGAL_TRANSITION', ...OFF],
  },
];

function mapJustWorksError(err: unknown): never {
  if (isRootlineError(err)) {
    if (err.code === 'ERR_ONBOARDING_JUST_WORKS_UNKNOWN_KEY') throw new ApiError('ERR_API_JUST_WORKS_UNKNOWN_KEY', err.message, { cause: err });
    if (err.code === 'ERR_ONBOARDING_JUST_WORKS_STATE' || err.code === 'ERR_ONBOARDING_ILLEGAL_TRANSITION') throw new ApiError('ERR_API_OWNERSHIP_ILLEGAL_TRANSITION', err.message, { cause: err });
    if (err.code === 'ERR_ONBOARDING_UNKNOWN_DEVICE') throw new ApiError('ERR_API_DEVICE_NOT_FOUND', err.message, { cause: err });
  }
  throw err;
}

function mapPinError(err: unknown): never {
  if (isRootlineError(err)) {
    if (err.code === 'ERR_ONBOARDING_PIN_TRANSFER_NOT_FOUND') throw new ApiError('ERR_API_PIN_TRANSFER_NOT_FOUND', err.message, { cause: err });
    if (err.code === 'ERR_ONBOARDING_PIN_TRANSFER_LOCKED') throw new ApiError('ERR_API_PIN_TRANSFER_LOCKED', err.message, { cause: err });
    if (err.code === 'ERR_ONBOARDING_PIN_TRANSFER_STATE') throw new ApiError('ERR_API_PIN_TRANSFER_STATE', err.message, { cause: err });
    if (err.code === 'ERR_ONBOARDING_UNKNOWN_DEVICE') throw new ApiError('ERR_API_DEVICE_NOT_FOUND', err.message, { cause: err });
  }
  throw err;
}

export function createOnboardingHandlers(deps: { onboarding: OnboardingApi | undefined; actor: string }): Record<string, Handler> {
  const registrar = (): OnboardingApi => {
    if (deps.onboarding === undefined) throw new ApiError('ERR_API_ONBOARDING_DISABLED', 'this server runs without onboarding (no "onboarding" section in its config file)');
    return deps.onboarding;
  };
  const pins = (): PinTransfersApi => {
    const p = registrar().pinTransfers;
    if (p === undefined) throw new ApiError('ERR_API_ONBOARDING_DISABLED', 'this server runs without PIN owner transfer');
    return p;
  };
  const justWorks = (): JustWorksApi => {
    const j = registrar().justWorks;
    if (j === undefined) throw new ApiError('ERR_API_ONBOARDING_DISABLED', 'just-works owner transfer is off (onboarding.justWorks is not true)');
    return j;
  };
  const decide = (action: 'approve' | 'reject'): Handler => async (req) => {
    const { serial } = req.params as { serial: string };
    const r = registrar();
    try {
      return await r[action](serial, deps.actor);
    } catch (err) {
      if (isRootlineError(err) && err.code === 'ERR_REGISTRAR_NOT_PENDING') throw new ApiError('ERR_API_PENDING_NOT_FOUND', `no pledge with serial ${serial} is on the approval list`, { cause: err });
      throw err;
    }
  };
  return {
    listPendingPledges: async () => ({ pending: await registrar().pending() }),
    approvePendingPledge: decide('approve'),
    rejectPendingPledge: decide('reject'),
    decommissionDevice: async (req) => {
      const { endpoint } = req.params as { endpoint: string };
      const r = registrar();
      if (r.decommissionDevice === undefined) throw new ApiError('ERR_API_ONBOARDING_DISABLED', 'this server has no domain CA to decommission with');
      try {
        return await r.decommissionDevice({ endpoint, actor: deps.actor });
      } catch (err) {
        if (isRootlineError(err) && err.code === 'ERR_ONBOARDING_UNKNOWN_DEVICE') throw new ApiError('ERR_API_DEVICE_NOT_FOUND', `no device ${JSON.stringify(endpoint)}`, { cause: err });
        if (isRootlineError(err) && (err.code === 'ERR_ONBOARDING_ILLEGAL_TRANSITION' || err.code === 'ERR_ONBOARDING_STATE_CHANGED')) throw new ApiError('ERR_API_OWNERSHIP_ILLEGAL_TRANSITION', err.message, { cause: err });
        throw err;
      }
    },
    startPinTransfer: async (req, reply) => {
      const body = req.body as { endpoint?: string; serial?: string };
      const started = await pins().start({ ...body, actor: deps.actor }).catch(mapPinError);
      void reply.status(201);
      return started;
    },
    enterPinTransferPin: async (req) => pins().enterPin((req.params as { id: string }).id, (req.body as { pin: string }).pin, deps.actor).catch(mapPinError),
    getPinTransfer: async (req) => pins().get((req.params as { id: string }).id).catch(mapPinError),
    listJustWorksKeys: async () => ({ pending: await justWorks().pending() }),
    approveJustWorksKey: async (req) => {
      const body = req.body as { fingerprint: string; endpoint: string };
      return justWorks().approve({ ...body, actor: deps.actor }).catch(mapJustWorksError);
    },
    getOnboardingCrl: async (_req, reply) => {
      const r = registrar();
      if (r.currentCrl === undefined) throw new ApiError('ERR_API_ONBOARDING_DISABLED', 'this server has no domain CA');
      return reply.type('application/pkix-crl').header('content-disposition', 'attachment; filename="domain-ca.crl"').send(Buffer.from(await r.currentCrl()));
    },
  };
}
