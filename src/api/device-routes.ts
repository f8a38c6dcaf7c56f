/**
 * Handlers of the device routes. Each mutation, and each refusal made for a security reason
 * (a credential already bound elsewhere), appends an audit record; reads do not.
 */
import type { AuditEntry, DeviceQuery, DeviceRecord, OwnershipState, Store } from '../store/types.js';
import { isRootlineError } from '../errors.js';
import { credentialView, toNewCredential, type CredentialInput, type CredentialView, type PskSealer } from './credentials.js';
import { ApiError } from './errors.js';

export interface DeviceRouteDeps {
  store: Store;
  sealer: PskSealer;
  /** Who the audit log names as the actor. */
  actor: string;
}

export interface NewDeviceBody {
  endpoint: string;
  model?: string;
  firmwareVersion?: string;
  tags?: string[];
  attributes?: Record<string, unknown>;
  credentials?: CredentialInput;
}

export interface DeviceListQueryInput {
  search?: string;
  model?: string;
  tag?: string;
  state?: OwnershipState;
  limit?: number;
  after?: string;
}

export type DeviceView = DeviceRecord & { credentials: CredentialView[] };

const DEFAULT_PAGE = 100;

export function createDeviceHandlers(deps: DeviceRouteDeps) {
  const { store, sealer, actor } = deps;
  const audit = (entry: Omit<AuditEntry, 'actor'>) => store.audit.append({ actor, ...entry });

  async function view(device: DeviceRecord): Promise<DeviceView> {
    const creds = await store.devices.credentials(device.endpoint);
    return { ...device, credentials: creds.map(credentialView) };
  }

  async function list(query: DeviceListQueryInput): Promise<{ devices: DeviceRecord[]; next: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const q: DeviceQuery = { limit };
    if (query.search !== undefined) q.search = query.search;
    if (query.model !== undefined) q.model = query.model;
    if (query.tag !== undefined) q.tag = query.tag;
    if (query.state !== undefined) q.ownershipState = query.state;
    if (query.after !== undefined) q.after = query.after;
    // A full page may have a successor; the caller finds out with one more (possibly empty)
    // request, which costs less than counting on every page.
    const page = await store.devices.list(q);
    return { devices: page, next: page.length === limit ? page[page.length - 1]!.endpoint : null };
  }

  async function get(endpoint: string): Promise<DeviceView> {
    const device = await store.devices.get(endpoint);
    if (device === undefined) throw new ApiError('ERR_API_DEVICE_NOT_FOUND', `no device ${JSON.stringify(endpoint)}`);
    return view(device);
  }

  async function create(body: NewDeviceBody): Promise<DeviceView> {
    const { endpoint } = body;
    // Parse and seal first: a bad credential must fail before anything is written.
    const credential = body.credentials === undefined ? undefined : await toNewCredential(endpoint, body.credentials, sealer);
    const credentialRef = credential === undefined ? undefined : { kind: credential.kind, lookup: credential.lookup };

    if (credential !== undefined) {
      const holder = await store.devices.findCredential(credential.kind, credential.lookup);
      if (holder !== undefined) {
        await audit({ action: 'device.create', subject: endpoint, outcome: 'deny', details: { reason: 'credential-in-use', credential: credentialRef, boundTo: holder.endpoint } });
        throw new ApiError('ERR_API_CREDENTIAL_IN_USE', `${credential.kind} credential ${JSON.stringify(credential.lookup)} is already bound to a device`);
      }
    }

    let device: DeviceRecord;
    try {
      device = await store.devices.create({
        endpoint,
        ...(body.model !== undefined ? { model: body.model } : {}),
        ...(body.firmwareVersion !== undefined ? { firmwareVersion: body.firmwareVersion } : {}),
        ...(body.tags !== undefined ? { tags: body.tags } : {}),
        ...(body.attributes !== undefined ? { attributes: body.attributes } : {}),
      });
    } catch (err) {
      if (!isRootlineError(err, 'ERR_STORE_CONFLICT')) throw err;
      await audit({ action: 'device.create', subject: endpoint, outcome: 'failure', details: { reason: 'exists' } });
      throw new ApiError('ERR_API_DEVICE_EXISTS', `device ${JSON.stringify(endpoint)} already exists`);
    }

    if (credential !== undefined) {
      try {
        await store.devices.addCredential(credential);
      } catch (err) {
        // Another request bound the same credential between our check and this insert: undo the
        // device so the registry never holds a device the caller was told was not created.
        await store.devices.delete(endpoint);
        if (!isRootlineError(err, 'ERR_STORE_CONFLICT')) throw err;
        await audit({ action: 'device.create', subject: endpoint, outcome: 'deny', details: { reason: 'credential-in-use', credential: credentialRef } });
        throw new ApiError('ERR_API_CREDENTIAL_IN_USE', `${credential.kind} credential ${JSON.stringify(credential.lookup)} is already bound to a device`);
      }
    }
    await audit({
      action: 'device.create',
      subject: endpoint,
      outcome: 'success',
      details: credentialRef === undefined ? {} : { credential: credentialRef },
    });
    return view(device);
  }

  async function remove(endpoint: string): Promise<void> {
    const creds = await store.devices.credentials(endpoint);
    const removed = await store.devices.delete(endpoint);
    if (!removed) {
      await audit({ action: 'device.delete', subject: endpoint, outcome: 'failure', details: { reason: 'not-found' } });
      throw new ApiError('ERR_API_DEVICE_NOT_FOUND', `no device ${JSON.stringify(endpoint)}`);
    }
    await audit({ action: 'device.delete', subject: endpoint, outcome: 'success', details: { credentials: creds.map((c) => ({ kind: c.kind, lookup: c.lookup })) } });
  }

  return { list, get, create, remove };
}

export type DeviceHandlers = ReturnType<typeof createDeviceHandlers>;
