/**
 * The API's Lwm2mGateway over the LwM2M server: paths and JSON in, JSON out (nodeToJson's shape),
 * bootstrap configurations validated with parseBootstrapConfig and sealed before storage. The
 * API is built before the listeners start, so the live server is attached later; until then the
 * device operations answer ERR_API_NOT_READY while registration facts (read from the store)
 * already work.
 */
import { ApiError } from '../api/errors.js';
import type { BootstrapConfigView, DeviceRegistrationView, DeviceWait, LinkView, Lwm2mGateway, ObjectSummary, ObservationView, ReadFormatName } from '../api/lwm2m-gateway.js';
import { ContentFormat } from '../coap/content-format.js';
import { parseRegistrationLinks } from '../lwm2m/codec/link-format.js';
import { formatPath, parsePath, pathIds } from '../lwm2m/model/path.js';
import { nodeFromJson, nodeToJson, parseBootstrapConfig, type Lwm2mObservation, type Lwm2mServer } from '../lwm2m/server/index.js';
import type { RegistrationRecord, Store } from '../store/types.js';
import { redactBootstrapConfig, type BootstrapSecrets } from './lwm2m-bootstrap-secrets.js';

const FORMAT_NUMBERS: Readonly<Record<ReadFormatName, number>> = {
  tlv: ContentFormat.LwM2mTlv,
  'senml-json': ContentFormat.SenmlJson,
  'senml-cbor': ContentFormat.SenmlCbor,
  'lwm2m-cbor': ContentFormat.LwM2mCbor,
  text: ContentFormat.TextPlain,
};

/**
 * Summaries of recently seen object lists. Every registration event and device view needs one,
 * and a fleet registers with a handful of distinct lists: each is parsed once, not per device.
 * Entries are frozen because they are shared between views.
 */
const objectsMemo = new Map<string, readonly ObjectSummary[]>();
const OBJECTS_MEMO_SIZE = 64;

function objectsOf(r: RegistrationRecord): ObjectSummary[] {
  const cached = objectsMemo.get(r.objectLinks);
  if (cached !== undefined) return cached as ObjectSummary[];
  let summary: readonly ObjectSummary[];
  try {
    const { objects } = parseRegistrationLinks(r.objectLinks);
    summary = Object.freeze([...objects].sort((a, b) => a[0] - b[0]).map(([id, o]) => Object.freeze({ id, ...(o.version !== undefined ? { version: o.version } : {}), instances: Object.freeze([...o.instances].sort((a, b) => a - b)) as number[] })));
  } catch {
    // The registration interface checked these links on arrival; a row that no longer parses
    // (an older server's rules) is shown without objects rather than failing the device list.
    summary = Object.freeze([]);
  }
  if (objectsMemo.size >= OBJECTS_MEMO_SIZE) objectsMemo.delete(objectsMemo.keys().next().value!);
  objectsMemo.set(r.objectLinks, summary);
  return summary as ObjectSummary[];
}

export function registrationView(r: RegistrationRecord | undefined, now = Date.now()): DeviceRegistrationView {
  if (r === undefined) return { registered: false, lastRegistration: null, objects: [] };
  return {
    registered: Date.parse(r.expiresAt) > now,
    lastRegistration: {
      id: r.id,
      at: r.registeredAt,
      updatedAt: r.updatedAt,
      expiresAt: r.expiresAt,
      lifetime: r.lifetime,
      binding: r.binding,
      lwm2mVersion: r.lwm2mVersion,
      queueMode: r.queueMode,
      security: r.security,
    },
    objects: objectsOf(r),
  };
}

export class Lwm2mGatewayService implements Lwm2mGateway {
  readonly #store: Store;
  readonly #secrets: BootstrapSecrets;
  #server: Lwm2mServer | undefined;
  /** Observations made through the API, by `endpoint path`, so DELETE can cancel them. */
  readonly #observations = new Map<string, Lwm2mObservation[]>();

  constructor(store: Store, secrets: BootstrapSecrets) {
    this.#store = store;
    this.#secrets = secrets;
  }

  attach(server: Lwm2mServer): void {
    this.#server = server;
    // A registration that ends takes its observations with it (Core §6.4.2: passive cancel).
    server.on('deregistered', ({ registration }) => {
      for (const key of [...this.#observations.keys()]) if (key.startsWith(`${registration.endpoint} `)) this.#observations.delete(key);
    });
  }

  detach(): void {
    this.#server = undefined;
    this.#observations.clear();
  }

  #live(): Lwm2mServer {
    if (this.#server === undefined) throw new ApiError('ERR_API_NOT_READY', 'the LwM2M server is not running');
    return this.#server;
  }

  async describe(endpoints: readonly string[]): Promise<Map<string, DeviceRegistrationView>> {
    const out = new Map<string, DeviceRegistrationView>();
    const now = Date.now();
    for (const ep of endpoints) out.set(ep, registrationView(await this.#store.registrations.getByEndpoint(ep), now));
    return out;
  }

  async read(endpoint: string, path: string, o: DeviceWait & { format?: ReadFormatName }): Promise<{ path: string; format: number; node: unknown }> {
    const r = await this.#live().read(endpoint, parsePath(path), { queueTimeoutMs: o.waitMs, ...(o.format !== undefined ? { format: FORMAT_NUMBERS[o.format] } : {}) });
    return { path: formatPath(r.path), format: r.format, node: nodeToJson(r.node) };
  }

  async write(endpoint: string, path: string, body: unknown, o: DeviceWait & { mode: 'replace' | 'update' }): Promise<void> {
    const server = this.#live();
    const p = parsePath(path);
    await server.write(endpoint, p, nodeFromJson(server.objects, p, body), { mode: o.mode, queueTimeoutMs: o.waitMs });
  }

  async execute(endpoint: string, path: string, o: DeviceWait & { args?: string }): Promise<void> {
    await this.#live().execute(endpoint, parsePath(path), o.args, { queueTimeoutMs: o.waitMs });
  }

  async discover(endpoint: string, path: string, o: DeviceWait): Promise<LinkView[]> {
    const links = await this.#live().discover(endpoint, parsePath(path), { queueTimeoutMs: o.waitMs });
    return links.map((l) => ({ path: l.path !== undefined ? formatPath(l.path) : l.target, attributes: { ...l.attributes } }));
  }

  async observe(endpoint: string, path: string, o: DeviceWait): Promise<ObservationView> {
    const p = parsePath(path);
    if (pathIds(p).length === 0) throw new ApiError('ERR_LWM2M_BAD_PATH', 'observe an object, instance, resource or resource instance, not /');
    const obs = await this.#live().observe(endpoint, p, { queueTimeoutMs: o.waitMs });
    const key = `${endpoint} ${formatPath(p)}`;
    this.#observations.set(key, [...(this.#observations.get(key) ?? []), obs]);
    const initial = obs.initial;
    return { id: obs.id, endpoint, path: formatPath(p), initial: { format: initial.format, node: initial.node !== undefined ? nodeToJson(initial.node) : null } };
  }

  async cancelObservation(endpoint: string, path: string, o: DeviceWait): Promise<boolean> {
    this.#live();
    const key = `${endpoint} ${formatPath(parsePath(path))}`;
    const list = this.#observations.get(key);
    if (list === undefined || list.length === 0) return false;
    this.#observations.delete(key);
    for (const obs of list) await obs.cancel({ queueTimeoutMs: o.waitMs });
    return true;
  }

  async setBootstrapConfig(endpoint: string, config: unknown): Promise<BootstrapConfigView> {
    // The same checks the bootstrap server applies when it reads the configuration back.
    const parsed = parseBootstrapConfig(config);
    const sealed = await this.#secrets.seal(endpoint, parsed as unknown as Record<string, unknown>);
    const record = await this.#store.bootstrapConfigs.set(endpoint, sealed);
    return { endpoint, updatedAt: record.updatedAt, ...redactBootstrapConfig(record.config) };
  }

  async getBootstrapConfig(endpoint: string): Promise<BootstrapConfigView | undefined> {
    const record = await this.#store.bootstrapConfigs.get(endpoint);
    return record === undefined ? undefined : { endpoint, updatedAt: record.updatedAt, ...redactBootstrapConfig(record.config) };
  }
}
