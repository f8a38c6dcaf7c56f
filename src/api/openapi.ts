/**
 * Renders the route table (routes.ts) as an OpenAPI 3.1 document, served at
 * GET /api/v1/openapi.json. Schemas are the very objects fastify validates with.
 */
import { API_ERRORS, type ApiErrorCode } from './errors.js';
import { API_PREFIX, GLOBAL_ERRORS, ROUTES, type JsonSchema, type RouteSpec } from './routes.js';
import { errorSchema } from './schemas.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  404: 'Not found',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  500: 'Internal error',
  502: 'Bad gateway (the device)',
  503: 'Not ready',
  504: 'Gateway timeout (the device)',
};

/** `/devices/:endpoint` → `/devices/{endpoint}`. */
function openApiPath(path: string): string {
  return API_PREFIX + path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(route: RouteSpec): unknown[] {
  const out: unknown[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.querystring]] as const) {
    if (schema === undefined) continue;
    const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((schema.required ?? []) as string[]);
    for (const [name, s] of Object.entries(props)) {
      const { description, ...rest } = s as { description?: string };
      out.push({ name, in: where, required: where === 'path' || required.has(name), schema: rest, ...(description ? { description } : {}) });
    }
  }
  return out;
}

function errorResponses(codes: readonly ApiErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of [...codes, ...GLOBAL_ERRORS]) {
    const status = API_ERRORS[code].status;
    const list = byStatus.get(status) ?? [];
    if (!list.includes(code)) list.push(code);
    byStatus.set(status, list);
  }
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: `${STATUS_TEXT[status] ?? 'Error'}: ${list.map((c) => `${c} (${API_ERRORS[c].description})`).join('; ')}`,
      'x-error-codes': list,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return out;
}

function operation(route: RouteSpec): Record<string, unknown> {
  const success: Record<string, unknown> = { description: route.success.description };
  if (route.success.schema !== undefined) success.content = { 'application/json': { schema: route.success.schema } };
  else if (route.produces === 'text/event-stream') success.content = { 'text/event-stream': { schema: { type: 'string' } } };
  else if (route.produces !== undefined) success.content = { [route.produces]: { schema: { type: 'string', contentEncoding: 'binary' } } };
  const op: Record<string, unknown> = {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    responses: { [String(route.success.status)]: success, ...errorResponses(route.errors) },
  };
  const params = parameters(route);
  if (params.length > 0) op.parameters = params;
  if (route.body !== undefined) op.requestBody = { required: route.optionalBody !== true, content: { 'application/json': { schema: route.body } } };
  if (route.rawBody !== undefined) {
    op.requestBody = { required: true, description: route.rawBody.description, content: { [route.rawBody.mediaType]: { schema: { type: 'string', contentEncoding: 'binary' } } } };
  }
  return op;
}

export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const p = openApiPath(route.path);
    paths[p] ??= {};
    paths[p][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rootline API',
      version,
      description:
        'Operator API of rootline, the self-hosted IoT device-lifecycle platform. JSON in and out; ' +
        'every error body is {"error": {"code", "message"}} with a code from the Error schema.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'system', description: 'Health and this document.' },
      { name: 'devices', description: 'The device registry and device credentials.' },
      { name: 'audit', description: 'The hash-chained audit log.' },
      { name: 'firmware', description: 'Firmware images and their signed SUIT manifests.' },
      { name: 'campaigns', description: 'Firmware update campaigns: waves, thresholds, approval, per-device progress.' },
      { name: 'events', description: 'Server-sent events.' },
      { name: 'onboarding', description: 'Zero-touch onboarding: the registrar approval list.' },
    ],
    paths,
    components: {
      schemas: {
        Error: {
          ...errorSchema,
          description: Object.entries(API_ERRORS)
            .map(([code, e]) => `${code} (${e.status}): ${e.description}`)
            .join('\n'),
        },
      },
    },
  };
}
