/**
 * The LwM2M client (device SDK): registration with periodic Update and re-registration (OMA
 * LwM2M Core 1.1 §6.2), the device side of Device Management and Information Reporting
 * (client-resources.ts), Send (§6.4.5), queue mode (§6.5) and client-initiated bootstrap
 * (bootstrap-client.ts). The object tree is the configuration: Security (0) and Server (1)
 * instances say where to register and how to authenticate, as on a real device.
 */
import { EventEmitter } from 'node:events';
import { CoapCode } from '../coap/codec.js';
import { ContentFormat } from '../coap/content-format.js';
import { OptionNumber } from '../coap/options.js';
import { encodeComposite } from '../lwm2m/codec/content-format.js';
import type { Lwm2mCodecOptions } from '../lwm2m/codec/common.js';
import type { Lwm2mEntry } from '../lwm2m/codec/senml.js';
import { flattenNode, type Lwm2mValue } from '../lwm2m/model/node.js';
import { parsePath } from '../lwm2m/model/path.js';
import { ObjectRegistry } from '../lwm2m/model/registry.js';
import { bootstrap, bootstrapSecurityInstance, serverAccount } from './bootstrap-client.js';
import { ClientResources } from './client-resources.js';
import { connectToServer, type ConnectionOptions, type ServerConnection } from './connection.js';
import { Lwm2mClientError, Lwm2mClientNotRegisteredError, Lwm2mRegistrationFailedError } from './errors.js';
import { ObjectTree } from './object-tree.js';
import { addConnectivityInstance, addDeviceInstance, deviceWithDefaults, FirmwareUpdateObject, type DeviceInit, type DeviceActions } from './standard-objects.js';

export interface Lwm2mClientOptions extends ConnectionOptions {
  endpointName: string;
  /** The object tree (default: Device, Connectivity Monitoring and Firmware Update from `device`). */
  tree?: ObjectTree;
  registry?: ObjectRegistry;
  /** Device (object 3) facts; missing fields get defaults (see `deviceWithDefaults`), given ones are checked (ERR_INVALID_ARGUMENT naming the field). */
  device?: Partial<DeviceInit>;
  deviceActions?: DeviceActions;
  /** LwM2M version announced at registration (default '1.1'). */
  lwm2mVersion?: '1.0' | '1.1' | '1.2';
  /** Announce queue mode (Core 1.1: the Q parameter; 1.0: binding UQ). */
  queueMode?: boolean;
  /** Format for multi-value answers when the server asks for none (default SenML CBOR; TLV for 1.0). */
  defaultFormat?: number;
  /** Send Update when this fraction of the lifetime has passed (default 0.9). */
  updateAt?: number;
  codec?: Omit<Lwm2mCodecOptions, 'registry'>;
  /** Bootstrap-Finish wait (default 60 s). */
  bootstrapTimeoutMs?: number;
}

export interface Lwm2mClientEvents {
  bootstrapped: [];
  registered: [{ location: string }];
  updated: [];
  deregistered: [];
  error: [Error];
}

function defaultTree(o: Lwm2mClientOptions, registry: ObjectRegistry): { tree: ObjectTree; firmware: FirmwareUpdateObject } {
  const tree = new ObjectTree(registry);
  tree.defineObject(0);
  tree.defineObject(1);
  addDeviceInstance(tree, deviceWithDefaults(o.device, o.endpointName), o.deviceActions);
  addConnectivityInstance(tree);
  const firmware = new FirmwareUpdateObject(tree);
  return { tree, firmware };
}

export class Lwm2mClient extends EventEmitter<Lwm2mClientEvents> {
  readonly tree: ObjectTree;
  /** The Firmware Update object of the default tree (undefined with a caller-supplied tree). */
  readonly firmware: FirmwareUpdateObject | undefined;
  readonly endpointName: string;
  readonly #o: Lwm2mClientOptions;
  readonly #codec: Lwm2mCodecOptions;
  readonly #version: string;
  readonly #defaultFormat: number;
  #conn: ServerConnection | undefined;
  #resources: ClientResources | undefined;
  #location: string[] | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #objectsChanged = false;
  #stopped = false;
  #unsubscribe: (() => void) | undefined;

  constructor(options: Lwm2mClientOptions) {
    super();
    this.#o = options;
    this.endpointName = options.endpointName;
    const registry = options.registry ?? options.tree?.registry ?? new ObjectRegistry();
    if (options.tree !== undefined) {
      this.tree = options.tree;
      this.firmware = undefined;
    } else {
      const d = defaultTree(options, registry);
      this.tree = d.tree;
      this.firmware = d.firmware;
    }
    this.#codec = { ...options.codec, registry: this.tree.registry };
    this.#version = options.lwm2mVersion ?? '1.1';
    this.#defaultFormat = options.defaultFormat ?? (this.#version === '1.0' ? ContentFormat.LwM2mTlv : ContentFormat.SenmlCbor);
    this.#unsubscribe = this.tree.onChange((c) => {
      if (c.kind === 'instances') this.#objectsChanged = true;
    });
  }

  get registered(): boolean {
    return this.#location !== undefined;
  }

  /**
   * Whether the management server observes anything on this device now (an Observe or
   * Observe-Composite relation): when false, a value change sends nothing and arms no timer.
   */
  get observing(): boolean {
    return this.#resources?.observing ?? false;
  }

  /** The Location-Path the server gave at registration, e.g. '/rd/Ab3...'. */
  get location(): string | undefined {
    return this.#location === undefined ? undefined : `/${this.#location.join('/')}`;
  }

  /**
   * Bootstraps when there is no management server account yet (or `forceBootstrap`), then
   * connects and registers. Core §6.1: bootstrap first, then register to the provisioned server.
   */
  async start(options: { forceBootstrap?: boolean } = {}): Promise<void> {
    this.#stopped = false;
    if (options.forceBootstrap === true || serverAccount(this.tree) === undefined) {
      if (bootstrapSecurityInstance(this.tree) === undefined) throw new Lwm2mClientError('ERR_LWM2M_NO_SERVER_ACCOUNT', 'neither a server nor a bootstrap server account is configured');
      await bootstrap(this.tree, {
        endpointName: this.endpointName,
        lwm2mVersion: this.#version,
        codec: this.#codec,
        defaultFormat: this.#defaultFormat,
        ...(this.#o.bootstrapTimeoutMs !== undefined ? { finishTimeoutMs: this.#o.bootstrapTimeoutMs } : {}),
        ...this.#connOptions(),
      });
      this.emit('bootstrapped');
    }
    await this.register();
  }

  #connOptions(): ConnectionOptions {
    return { ...(this.#o.coap !== undefined ? { coap: this.#o.coap } : {}), ...(this.#o.dtlsRetransmit !== undefined ? { dtlsRetransmit: this.#o.dtlsRetransmit } : {}) };
  }

  #account(): { security: number; server: number; lifetime: number; binding: string } {
    const a = serverAccount(this.tree);
    if (a === undefined) throw new Lwm2mClientError('ERR_LWM2M_NO_SERVER_ACCOUNT', 'no LwM2M server account (Security + Server instance with the same Short Server ID)');
    const lifetime = Number((this.tree.get(1, a.server, 1) as Lwm2mValue | undefined)?.value ?? 86400);
    const binding = String((this.tree.get(1, a.server, 7) as Lwm2mValue | undefined)?.value ?? 'U');
    return { security: a.security, server: a.server, lifetime, binding };
  }

  /** The Register payload: every object and instance except Security (Core §6.2.1). */
  registrationLinks(): string {
    const links: string[] = [];
    for (const o of this.tree.objectIds()) {
      // Core §6.2.1: "The Security Object ID:0, and OSCORE Object ID:21 MUST NOT be part of the
      // Registration Objects and Object Instances list."
      if (o === 0 || o === 21) continue;
      const ver = this.tree.registry.get(o)?.version;
      const insts = this.tree.instanceIds(o);
      if (ver !== undefined && ver !== '1.0') links.push(`</${o}>;ver=${ver}`);
      else if (insts.length === 0) links.push(`</${o}>`);
      for (const i of insts) links.push(`</${o}/${i}>`);
    }
    return links.join(',');
  }

  /** Register (Core §6.2.1): POST /rd?ep=&lt=&lwm2m=&b=[&Q] with the object list. */
  async register(): Promise<void> {
    const account = this.#account();
    if (this.#stopped) throw new Lwm2mClientError('ERR_LWM2M_CLIENT_STOPPED', 'the client was stopped');
    if (this.#conn === undefined) {
      this.#conn = await this.#open(account.security);
      this.#resources = new ClientResources(this.#conn.coap, this.tree, { who: 'server', codec: this.#codec, defaultFormat: this.#defaultFormat, lwm2mVersion: this.#version });
    }
    const queue = this.#o.queueMode === true;
    const binding = queue && this.#version === '1.0' ? `${account.binding.replace('Q', '')}Q` : account.binding.replace('Q', '');
    const query = [`ep=${this.endpointName}`, `lt=${account.lifetime}`, `lwm2m=${this.#version}`, `b=${binding}`];
    if (queue && this.#version !== '1.0') query.push('Q');
    const send = (conn: ServerConnection) => conn.coap.request(conn.peer, { method: 'POST', path: ['rd'], query, payload: this.registrationLinks(), contentFormat: ContentFormat.LinkFormat });
    let res;
    try {
      res = await send(this.#conn);
    } catch {
      // No answer on an old session (the server lost it): one more try on a fresh one.
      await this.#reconnect();
      res = await send(this.#conn!);
    }
    if (res.code !== CoapCode.Created) throw new Lwm2mRegistrationFailedError(`Register answered ${res.codeText}`, res.code);
    const location = res.options.filter((op) => op.number === OptionNumber.LocationPath).map((op) => Buffer.from(op.value).toString('utf8'));
    if (location.length === 0) throw new Lwm2mRegistrationFailedError('Register answered 2.01 without a Location-Path', res.code);
    this.#location = location;
    this.#objectsChanged = false;
    // Server object (Appendix E.2): Registration Update Trigger (8) makes the client send an
    // Update; Bootstrap-Request Trigger (9) starts a new client-initiated bootstrap.
    this.tree.setHandler(1, account.server, 8, { execute: () => void this.update().catch((err: Error) => this.#report(err)) });
    this.tree.setHandler(1, account.server, 9, { execute: () => void setImmediate(() => void this.#rebootstrap().catch((err: Error) => this.#report(err))) });
    this.#schedule(account.lifetime);
    this.emit('registered', { location: `/${location.join('/')}` });
  }

  /** Connects; a connection that completes after stop() is closed again at once. */
  async #open(security: number): Promise<ServerConnection> {
    const conn = await connectToServer(this.tree, security, this.#connOptions());
    if (this.#stopped) {
      await conn.close();
      throw new Lwm2mClientError('ERR_LWM2M_CLIENT_STOPPED', 'the client was stopped');
    }
    return conn;
  }

  #report(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Bootstrap-Request Trigger: drop the session, bootstrap again, register with what it provides. */
  async #rebootstrap(): Promise<void> {
    await this.stop();
    await this.start({ forceBootstrap: true });
  }

  #retry(lifetime: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const attempt = this.#location !== undefined ? this.update() : this.register();
      attempt.catch((err: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
        if (!this.#stopped) this.#retry(lifetime);
      });
    }, Math.max(1000, lifetime * 50));
    this.#timer.unref?.();
  }

  #schedule(lifetime: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    const ms = Math.max(1000, lifetime * 1000 * (this.#o.updateAt ?? 0.9));
    this.#timer = setTimeout(() => {
      this.update().catch((err: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
        // Try again well before the registration runs out (5 % of the lifetime, at least 1 s).
        if (!this.#stopped) this.#retry(lifetime);
      });
    }, ms);
    this.#timer.unref?.();
  }

  /**
   * Update (Core §6.2.2): POST /rd/{id}, with the object list when instances changed. A 4.04
   * means the server forgot the registration: the client registers again. When the request gets
   * no answer at all (the server restarted and lost the DTLS session), the client opens a new
   * session and sends the Update once more — a server that kept the registration in its store
   * recognises it.
   */
  async update(options: { lifetime?: number } = {}): Promise<void> {
    if (this.#conn === undefined || this.#location === undefined) throw new Lwm2mClientNotRegisteredError();
    const query = options.lifetime !== undefined ? [`lt=${options.lifetime}`] : [];
    const withObjects = this.#objectsChanged;
    const send = (conn: ServerConnection, location: string[]) => conn.coap.request(conn.peer, {
      method: 'POST',
      path: location,
      query,
      ...(withObjects ? { payload: this.registrationLinks(), contentFormat: ContentFormat.LinkFormat } : {}),
    });
    let res;
    try {
      res = await send(this.#conn, this.#location);
    } catch {
      const location = this.#location;
      await this.#reconnect();
      res = await send(this.#conn!, location);
    }
    if (res.code === CoapCode.NotFound) {
      this.#location = undefined;
      return this.register();
    }
    if (res.code !== CoapCode.Changed) throw new Lwm2mRegistrationFailedError(`Update answered ${res.codeText}`, res.code);
    if (withObjects) this.#objectsChanged = false;
    this.#schedule(options.lifetime ?? this.#account().lifetime);
    this.emit('updated');
  }

  /** Drops the current session and opens a new one to the same server (keeps the registration). */
  async #reconnect(): Promise<void> {
    // stop() ran meanwhile (the request failed because of it): no new session.
    if (this.#stopped) throw new Lwm2mClientError('ERR_LWM2M_CLIENT_STOPPED', 'the client was stopped');
    this.#resources?.close();
    this.#resources = undefined;
    const old = this.#conn;
    this.#conn = undefined;
    await old?.close().catch(() => undefined);
    const account = this.#account();
    this.#conn = await this.#open(account.security);
    this.#resources = new ClientResources(this.#conn.coap, this.tree, { who: 'server', codec: this.#codec, defaultFormat: this.#defaultFormat, lwm2mVersion: this.#version });
  }

  /** De-register (Core §6.2.3): DELETE /rd/{id}. */
  async deregister(): Promise<void> {
    clearTimeout(this.#timer);
    if (this.#conn === undefined || this.#location === undefined) throw new Lwm2mClientNotRegisteredError();
    const res = await this.#conn.coap.request(this.#conn.peer, { method: 'DELETE', path: this.#location });
    this.#location = undefined;
    if (res.code !== CoapCode.Deleted) throw new Lwm2mRegistrationFailedError(`De-register answered ${res.codeText}`, res.code);
    this.emit('deregistered');
  }

  /** Send (Core §6.4.5): POST /dp with the current values of `paths` (SenML CBOR by default). */
  async send(paths: readonly string[], format: number = ContentFormat.SenmlCbor): Promise<void> {
    if (this.#conn === undefined || this.#location === undefined) throw new Lwm2mClientNotRegisteredError();
    const entries: Lwm2mEntry[] = [];
    for (const p of paths) {
      const path = parsePath(p);
      for (const leaf of flattenNode(path, this.tree.read(path, 'local'))) entries.push({ path: leaf.path, value: leaf.value });
    }
    const payload = encodeComposite(format, entries, this.#codec);
    const res = await this.#conn.coap.request(this.#conn.peer, { method: 'POST', path: ['dp'], payload, contentFormat: format });
    if (res.code !== CoapCode.Changed) throw new Lwm2mRegistrationFailedError(`Send answered ${res.codeText}`, res.code);
  }

  /** Stops timers and closes the connection (without de-registering; call deregister() first for that). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#resources?.close();
    this.#resources = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    this.#location = undefined;
    await conn?.close();
  }

  /** stop() and forget the tree listener. */
  async close(): Promise<void> {
    await this.stop();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}

export function createLwm2mClient(options: Lwm2mClientOptions): Lwm2mClient {
  return new Lwm2mClient(options);
}
