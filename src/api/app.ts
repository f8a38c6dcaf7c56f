/**
 * Builds the fastify application for /api/v1 from the route table. The caller (server/) supplies
 * the store, the PSK sealer and the health source and decides where it listens; this room never
 * picks an implementation and never binds a port.
 */
import { fastify, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isRootlineError } from '../errors.js';
import type { Store } from '../store/types.js';
import { createCampaignHandlers, type CampaignAction, type CampaignOperations } from './campaign-routes.js';
import type { PskSealer } from './credentials.js';
import { createDeviceHandlers, type DeviceListQueryInput, type NewDeviceBody } from './device-routes.js';
import { API_ERRORS, ApiError, errorBody, type ApiErrorCode } from './errors.js';
import { EventHub } from './events-hub.js';
import { createEventStreams } from './events-routes.js';
import { createLwm2mHandlers, withRegistrations } from './device-object-routes.js';
import type { Lwm2mGateway } from './lwm2m-gateway.js';
import { createOnboardingHandlers, type OnboardingApi } from './onboarding-routes.js';
import { createFirmwareHandlers, type FirmwareRepositoryApi, type FirmwareUploadQuery } from './firmware-routes.js';
import { buildOpenApiDocument } from './openapi.js';
import { API_PREFIX, CAMPAIGN_ACTIONS, ROUTES, type JsonSchema, type RouteSpec } from './routes.js';

/** What health needs to know about listeners (server/listeners.ts implements it). */
export interface HealthSource {
  allUp(): boolean;
  status(): Record<string, { state: string; address?: { port: number; url: string } }>;
}

export interface ApiDeps {
  store: Store;
  sealer: PskSealer;
  health: HealthSource;
  version: string;
  logger: Logger;
  /** Audit actor for API mutations; 'operator:api' until the API authenticates operators. */
  actor?: string;
  /** Largest request body in bytes (default 64 KiB: a device with a certificate fits easily). */
  bodyLimit?: number;
  /** The firmware repository (src/fota/firmware) and the campaign engine (src/fota/campaign). */
  firmware?: FirmwareRepositoryApi;
  campaigns?: CampaignOperations;
  /** The live event feed behind GET /events; device routes publish to it as well. Default: a private hub. */
  events?: EventHub;
  /** Largest firmware upload in bytes (default 64 MiB). */
  maxFirmwareBytes?: number;
  /** The BRSKI registrar's approval list; without it the onboarding routes answer ERR_API_ONBOARDING_DISABLED. */
  onboarding?: OnboardingApi;
  /** The LwM2M server (server/lwm2m-gateway.ts); without it the device object routes answer 503. */
  lwm2m?: Lwm2mGateway;
}

/** Default firmware upload limit: the firmware room's own default image limit. */
export const DEFAULT_MAX_FIRMWARE_BYTES = 64 * 1024 * 1024;

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Query strings arrive as text. Ajv's type coercion would also coerce JSON bodies (turning
 * {"endpoint": 12} into "12"), so it is off, and only the integer query parameters a route
 * declares are converted here, before validation checks their range.
 */
function integerQueryKeys(schema: JsonSchema | undefined): string[] {
  const props = (schema?.properties ?? {}) as Record<string, { type?: unknown }>;
  return Object.entries(props)
    .filter(([, s]) => s.type === 'integer')
    .map(([k]) => k);
}

/** `body.credentials.psk: missing required property "key"` rather than Ajv's slash paths. */
function validationMessage(err: FastifyError): string {
  const v = err.validation?.[0];
  if (v === undefined) return err.message;
  const path = `${err.validationContext ?? 'request'}${v.instancePath.replace(/\//g, '.')}`;
  const params = v.params as Record<string, unknown>;
  if (v.keyword === 'additionalProperties') return `${path}: unknown property ${JSON.stringify(params.additionalProperty)}`;
  if (v.keyword === 'required') return `${path}: missing required property ${JSON.stringify(params.missingProperty)}`;
  return `${path}: ${v.message ?? 'is invalid'}`;
}

function mapFastifyError(err: FastifyError): { code: ApiErrorCode; message: string } {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  if (err.validation !== undefined) return { code: 'ERR_API_VALIDATION', message: validationMessage(err) };
  // The store re-checks every value (control characters, JSON depth, Unicode well-formedness)
  // and names the offending field; that is the client's mistake, not a server failure.
  if (isRootlineError(err as unknown, 'ERR_INVALID_ARGUMENT')) return { code: 'ERR_API_VALIDATION', message: err.message };
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'ERR_API_BAD_JSON', message: 'the request body is not well-formed JSON' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'ERR_API_UNSUPPORTED_MEDIA_TYPE', message: 'the request body must be application/json' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'ERR_API_BODY_TOO_LARGE', message: 'the request body is too large' };
    default:
      break;
  }
  // secure-json-parse refuses __proto__/constructor keys with a plain SyntaxError (status 400).
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { code: 'ERR_API_VALIDATION', message: err.message };
  }
  return { code: 'ERR_API_INTERNAL', message: 'internal error' };
}

/** A stand-in whose every method answers ERR_API_NOT_READY. */
function unavailable<T>(what: string, methods: readonly (keyof T)[]): T {
  const fail = async (): Promise<never> => {
    throw new ApiError('ERR_API_NOT_READY', `this server runs without ${what}`);
  };
  return Object.fromEntries(methods.map((m) => [m, fail])) as T;
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    // Fastify's own closing 503 has a body of its own shape; instead, requests that arrive while
    // closing are served normally (the store closes only after the listener has drained) and
    // health reports ERR_API_NOT_READY from the listener registry's 'stopping' state.
    return503OnClosing: false,
  });
  // Only JSON bodies: fastify's default text/plain parser would turn a mislabelled body into a
  // string and the client would get a confusing schema error instead of 415.
  app.removeContentTypeParser('text/plain');
  const devices = createDeviceHandlers({ store: deps.store, sealer: deps.sealer, actor: deps.actor ?? 'operator:api' });
  const openApi = buildOpenApiDocument(deps.version);
  const actor = deps.actor ?? 'operator:api';
  // An API built without the firmware room (an embedding, a focused test) answers its routes with 503.
  const fw = deps.firmware ?? unavailable<FirmwareRepositoryApi>('a firmware service', ['addImage', 'get', 'list', 'openDownload', 'deleteImage']);
  const engine = deps.campaigns ?? unavailable<CampaignOperations>('a campaign engine', ['create', 'get', 'list', 'devices', 'approve', 'start', 'pause', 'resume', 'cancel']);
  const events = deps.events ?? new EventHub();
  const firmware = createFirmwareHandlers({ firmware: fw, actor, maxUploadBytes: deps.maxFirmwareBytes ?? DEFAULT_MAX_FIRMWARE_BYTES });
  const campaigns = createCampaignHandlers({ campaigns: engine, actor });
  const streams = createEventStreams(events);
  // Event streams never end on their own; end them before the server waits for connections to close.
  app.addHook('preClose', async () => streams.closeAll());

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { code, message } = mapFastifyError(err);
    if (code === 'ERR_API_INTERNAL') request.log.error({ err }, 'request failed');
    void reply.status(API_ERRORS[code].status).type('application/json').send(errorBody(code, message));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody('ERR_API_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  });

  const handlers: Record<string, Handler> = {
    getHealth: async (_req, reply) => {
      const listeners: Record<string, { state: string; port?: number; url?: string }> = {};
      for (const [name, s] of Object.entries(deps.health.status())) {
        listeners[name] = s.address === undefined ? { state: s.state } : { state: s.state, port: s.address.port, url: s.address.url };
      }
      if (!deps.health.allUp()) {
        const waiting = Object.entries(listeners).filter(([, s]) => s.state !== 'up').map(([n, s]) => `${n} ${s.state}`);
        return reply.status(503).send(errorBody('ERR_API_NOT_READY', `not every listener is up: ${waiting.join(', ') || 'none registered'}`));
      }
      return { status: 'ok', version: deps.version, listeners };
    },
    getOpenApi: async () => openApi,
    listDevices: async (req) => {
      const page = await devices.list(req.query as DeviceListQueryInput);
      return { ...page, devices: await withRegistrations(deps.lwm2m, page.devices) };
    },
    createDevice: async (req, reply) => {
      const created = await devices.create(req.body as NewDeviceBody);
      events.publish('device', 'device.created', { endpoint: created.endpoint, model: created.model, firmwareVersion: created.firmwareVersion, tags: created.tags });
      void reply.status(201).header('location', `${API_PREFIX}/devices/${encodeURIComponent(created.endpoint)}`);
      return (await withRegistrations(deps.lwm2m, [created]))[0];
    },
    getDevice: async (req) => (await withRegistrations(deps.lwm2m, [await devices.get((req.params as { endpoint: string }).endpoint)]))[0],
    deleteDevice: async (req, reply) => {
      const { endpoint } = req.params as { endpoint: string };
      await devices.remove(endpoint);
      events.publish('device', 'device.removed', { endpoint });
      return reply.status(204).send();
    },
    listAudit: async (req) => {
      const q = req.query as { after?: number; limit?: number; subject?: string; action?: string };
      const limit = q.limit ?? 100;
      const page = await deps.store.audit.list({ ...q, limit });
      return { records: page, next: page.length === limit ? page[page.length - 1]!.seq : null };
    },
    verifyAudit: async () => deps.store.audit.verify(),
    uploadFirmware: async (req, reply) => {
      const length = req.headers['content-length'];
      let image;
      try {
        image = await firmware.upload(req.query as FirmwareUploadQuery, req.body, length === undefined ? undefined : Number(length));
      } catch (err) {
        // Refused before the whole body arrived: discard the rest and end the connection rather
        // than read a body nobody wants.
        if (!req.raw.complete) {
          void reply.header('connection', 'close');
          req.raw.resume();
        }
        throw err;
      }
      void reply.status(201).header('location', `${API_PREFIX}/firmware/${encodeURIComponent(image.id)}`);
      return image;
    },
    listFirmware: async (req) => firmware.list(req.query as { vendor?: string; model?: string; limit?: number; offset?: number }),
    getFirmware: async (req) => firmware.get((req.params as { id: string }).id),
    getFirmwareSigningKey: async () => firmware.signingKey(),
    downloadFirmware: async (req, reply) => {
      const { image, stream, fileName } = await firmware.download((req.params as { id: string }).id);
      return reply
        .type('application/octet-stream')
        .header('content-length', image.size)
        .header('content-disposition', `attachment; filename="${fileName}"`)
        .header('etag', `"${image.sha256}"`)
        .header('digest', `sha-256=${Buffer.from(image.sha256, 'hex').toString('base64')}`)
        .send(stream);
    },
    getFirmwareManifest: async (req, reply) => {
      const { bytes, fileName } = await firmware.manifest((req.params as { id: string }).id);
      return reply.type('application/cbor').header('content-disposition', `attachment; filename="${fileName}"`).send(bytes);
    },
    deleteFirmware: async (req, reply) => {
      await firmware.remove((req.params as { id: string }).id);
      return reply.status(204).send();
    },
    createCampaign: async (req, reply) => {
      const created = await campaigns.create(req.body);
      void reply.status(201).header('location', `${API_PREFIX}/campaigns/${encodeURIComponent(created.id)}`);
      return created;
    },
    listCampaigns: async (req) => campaigns.list(req.query as Parameters<typeof campaigns.list>[0]),
    getCampaign: async (req) => campaigns.get((req.params as { id: string }).id),
    listCampaignDevices: async (req) => campaigns.devices((req.params as { id: string }).id, req.query as Parameters<typeof campaigns.devices>[1]),
    streamEvents: (req, reply) => streams.handle(req, reply),
    ...createLwm2mHandlers({ gateway: deps.lwm2m, store: deps.store, actor }),
    ...createOnboardingHandlers({ onboarding: deps.onboarding, actor }),
  };
  for (const { action } of CAMPAIGN_ACTIONS) {
    handlers[`${action}Campaign`] = async (req) => campaigns.act((req.params as { id: string }).id, action as CampaignAction, (req.query as { reason?: string } | undefined)?.reason);
  }

  for (const route of ROUTES) if (route.rawBody === undefined) register(app, route, handlers);
  // Raw-body routes get their own scope: only there is application/octet-stream accepted, and
  // streamed to the handler rather than buffered, so a 64 MiB upload never sits in memory and
  // the JSON routes keep answering 415 to anything but JSON.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
    scope.addContentTypeParser('*', (_req, _payload, done) => done(new ApiError('ERR_API_UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/octet-stream'), undefined));
    for (const route of ROUTES) if (route.rawBody !== undefined) register(scope, route, handlers);
  });
  await app.ready();
  return app;
}

function register(app: FastifyInstance, route: RouteSpec, handlers: Record<string, Handler>): void {
  const handler = handlers[route.operationId];
  if (handler === undefined) throw new Error(`no handler for route ${route.operationId}`);
  const schema: Record<string, unknown> = {};
  if (route.params !== undefined) schema.params = route.params;
  if (route.querystring !== undefined) schema.querystring = route.querystring;
  if (route.body !== undefined) schema.body = route.body;
  if (route.success.schema !== undefined) schema.response = { [route.success.status]: route.success.schema };
  const intKeys = integerQueryKeys(route.querystring);
  const optionalBody = route.body !== undefined && route.optionalBody === true;
  app.route({
    method: route.method,
    url: API_PREFIX + route.path,
    schema,
    // A HEAD on an endless event stream would hold a connection open for no body.
    exposeHeadRoute: route.produces !== 'text/event-stream',
    ...(intKeys.length === 0 && !optionalBody
      ? {}
      : {
          preValidation: async (request: FastifyRequest) => {
            // An optional body that was not sent is validated (and handled) as the empty object.
            if (optionalBody && request.body === undefined) request.body = {};
            const q = request.query as Record<string, unknown>;
            for (const k of intKeys) {
              const v = q[k];
              if (typeof v === 'string' && /^-?[0-9]{1,16}$/.test(v)) q[k] = Number(v);
            }
          },
        }),
    handler,
  });
}
