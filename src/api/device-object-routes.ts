/**
 * Handlers of the LwM2M device routes: Read, Write, Execute, Discover, Observe / Cancel on a
 * registered device, through the Lwm2mGateway server/ supplies. Writes and Executes change a
 * device, so each one is audited (success or failure) under the operator's name; Reads are not.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEntry, Store } from '../store/types.js';
import { isRootlineError } from '../errors.js';
import { ApiError } from './errors.js';
import { viaGateway, type DeviceRegistrationView, type Lwm2mGateway, type ReadFormatName } from './lwm2m-gateway.js';
import { lwm2mPathOf } from './lwm2m-routes.js';
import { DEFAULT_DEVICE_WAIT_SECONDS } from './lwm2m-schemas.js';

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface Lwm2mRouteDeps {
  /** Undefined when the API runs without an LwM2M server: its routes answer ERR_API_NOT_READY. */
  gateway: Lwm2mGateway | undefined;
  store: Store;
  actor: string;
}

type PathParams = Record<string, string> & { endpoint: string };

function waitOf(req: FastifyRequest): { waitMs: number } {
  return { waitMs: ((req.query as { timeout?: number } | undefined)?.timeout ?? DEFAULT_DEVICE_WAIT_SECONDS) * 1000 };
}

/** Whether the device exists: a missing device is ERR_API_DEVICE_NOT_FOUND, not "not registered". */
async function requireDevice(store: Store, endpoint: string): Promise<void> {
  if ((await store.devices.get(endpoint)) === undefined) throw new ApiError('ERR_API_DEVICE_NOT_FOUND', `no device ${JSON.stringify(endpoint)}`);
}

export function createLwm2mHandlers(deps: Lwm2mRouteDeps): Record<string, Handler> {
  const { store, actor } = deps;
  const gw = (): Lwm2mGateway => {
    if (deps.gateway === undefined) throw new ApiError('ERR_API_NOT_READY', 'this server runs without an LwM2M server');
    return deps.gateway;
  };
  const audit = (entry: Omit<AuditEntry, 'actor'>) => store.audit.append({ actor, ...entry });

  /** Runs a device-changing operation and audits its outcome (fail closed: no record, no success). */
  async function audited(action: string, endpoint: string, details: Record<string, unknown>, work: () => Promise<void>): Promise<void> {
    try {
      await viaGateway(work);
    } catch (err) {
      const code = isRootlineError(err) ? err.code : 'ERR_API_INTERNAL';
      await audit({ action, subject: endpoint, outcome: 'failure', details: { ...details, code } });
      throw err;
    }
    await audit({ action, subject: endpoint, outcome: 'success', details });
  }

  const read: Handler = async (req) => {
    const params = req.params as PathParams;
    const path = lwm2mPathOf(params);
    const { format } = req.query as { format?: ReadFormatName };
    const r = await viaGateway(() => gw().read(params.endpoint, path, { ...waitOf(req), ...(format !== undefined ? { format } : {}) }));
    return { endpoint: params.endpoint, ...r };
  };
  const write: Handler = async (req, reply) => {
    const params = req.params as PathParams;
    const path = lwm2mPathOf(params);
    const mode = (req.query as { mode?: 'replace' | 'update' }).mode ?? 'replace';
    // The body's values are not audited: they may be anything the operator writes, secrets included.
    await audited('lwm2m.write', params.endpoint, { path, mode }, () => gw().write(params.endpoint, path, req.body, { ...waitOf(req), mode }));
    return reply.status(204).send();
  };
  const execute: Handler = async (req, reply) => {
    const params = req.params as PathParams;
    const path = lwm2mPathOf(params);
    const args = (req.body as { args?: string } | undefined)?.args;
    await audited('lwm2m.execute', params.endpoint, { path }, () => gw().execute(params.endpoint, path, { ...waitOf(req), ...(args !== undefined ? { args } : {}) }));
    return reply.status(204).send();
  };
  const discover: Handler = async (req) => {
    const params = req.params as PathParams;
    const links = await viaGateway(() => gw().discover(params.endpoint, lwm2mPathOf(params), waitOf(req)));
    return { endpoint: params.endpoint, links };
  };
  const observe: Handler = async (req, reply) => {
    const { endpoint } = req.params as PathParams;
    const { path } = req.body as { path: string };
    const obs = await viaGateway(() => gw().observe(endpoint, path, waitOf(req)));
    void reply.status(201);
    return obs;
  };
  const cancel: Handler = async (req, reply) => {
    const params = req.params as PathParams;
    const path = lwm2mPathOf(params);
    const found = await viaGateway(() => gw().cancelObservation(params.endpoint, path, waitOf(req)));
    if (!found) throw new ApiError('ERR_LWM2M_NO_OBSERVATION', `no observation of ${path} on ${JSON.stringify(params.endpoint)}`);
    return reply.status(204).send();
  };
  const putBootstrap: Handler = async (req) => {
    const { endpoint } = req.params as PathParams;
    await requireDevice(store, endpoint);
    try {
      const view = await viaGateway(() => gw().setBootstrapConfig(endpoint, req.body));
      await audit({ action: 'lwm2m.bootstrap-config.set', subject: endpoint, outcome: 'success', details: { servers: view.servers.map((s) => ({ shortServerId: s.shortServerId, uri: s.uri, securityMode: s.securityMode })) } });
      return view;
    } catch (err) {
      await audit({ action: 'lwm2m.bootstrap-config.set', subject: endpoint, outcome: 'failure', details: { code: isRootlineError(err) ? err.code : 'ERR_API_INTERNAL' } });
      throw err;
    }
  };
  const getBootstrap: Handler = async (req) => {
    const { endpoint } = req.params as PathParams;
    await requireDevice(store, endpoint);
    const view = await viaGateway(() => gw().getBootstrapConfig(endpoint));
    if (view === undefined) throw new ApiError('ERR_API_BOOTSTRAP_CONFIG_NOT_FOUND', `${JSON.stringify(endpoint)} has no bootstrap configuration`);
    return view;
  };

  const handlers: Record<string, Handler> = { executeResource: execute, observe, putBootstrapConfig: putBootstrap, getBootstrapConfig: getBootstrap };
  for (const level of ['Object', 'Instance', 'Resource', 'ResourceInstance']) {
    handlers[`read${level}`] = read;
    handlers[`cancelObservation${level}`] = cancel;
    if (level !== 'Object') handlers[`write${level}`] = write;
    if (level !== 'ResourceInstance') handlers[`discover${level}`] = discover;
  }
  return handlers;
}

/** Adds registration facts to device views when an LwM2M server is attached. */
export async function withRegistrations<T extends { endpoint: string }>(gateway: Lwm2mGateway | undefined, devices: T[]): Promise<(T & Partial<DeviceRegistrationView>)[]> {
  if (gateway === undefined || devices.length === 0) return devices;
  const facts = await gateway.describe(devices.map((d) => d.endpoint));
  return devices.map((d) => ({ ...d, ...facts.get(d.endpoint) }));
}
