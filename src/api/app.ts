/**
 * Builds the fastify application for /api/v1 from the route table. The caller (server/) supplies
 * the store, the PSK sealer and the health source and decides where it listens; this room never
 * picks an implementation and never binds a port.
 */
import { fastify, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isRootlineError } from '../errors.js';
import type { Store } from '../store/types.js';
import type { PskSealer } from './credentials.js';
import { createDeviceHandlers, type DeviceListQueryInput, type NewDeviceBody } from './device-routes.js';
import { API_ERRORS, ApiError, errorBody, type ApiErrorCode } from './errors.js';
import { buildOpenApiDocument } from './openapi.js';
import { API_PREFIX, ROUTES, type JsonSchema, type RouteSpec } from './routes.js';

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
}

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
    listDevices: async (req) => devices.list(req.query as DeviceListQueryInput),
    createDevice: async (req, reply) => {
      const created = await devices.create(req.body as NewDeviceBody);
      void reply.status(201).header('location', `${API_PREFIX}/devices/${encodeURIComponent(created.endpoint)}`);
      return created;
    },
    getDevice: async (req) => devices.get((req.params as { endpoint: string }).endpoint),
    deleteDevice: async (req, reply) => {
      await devices.remove((req.params as { endpoint: string }).endpoint);
      return reply.status(204).send();
    },
    listAudit: async (req) => {
      const q = req.query as { after?: number; limit?: number; subject?: string; action?: string };
      const limit = q.limit ?? 100;
      const page = await deps.store.audit.list({ ...q, limit });
      return { records: page, next: page.length === limit ? page[page.length - 1]!.seq : null };
    },
    verifyAudit: async () => deps.store.audit.verify(),
  };

  for (const route of ROUTES) register(app, route, handlers);
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
  app.route({
    method: route.method,
    url: API_PREFIX + route.path,
    schema,
    ...(intKeys.length === 0
      ? {}
      : {
          preValidation: async (request: FastifyRequest) => {
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
