/**
 * The per-device bootstrap configuration (kept as JSON by store.bootstrapConfigs) and how it
 * becomes Security (0) and Server (1) object instances (OMA LwM2M Core 1.1 Appendix E.1, E.2).
 * Secret fields hold hex of what the caller stored. A configuration marked `sealedSecrets: true`
 * holds sealed bytes there; the bootstrap server opens each through its `unsealSecret` hook, told
 * whose secret it is (endpoint, server account, field) so the hook can check that binding.
 */
import { lwm2mValue as v, objectInstance, singleResource, type ObjectInstanceNode, type ResourceNode } from '../model/node.js';
import { Lwm2mBadBootstrapConfigError } from './errors.js';

export type BootstrapSecurityMode = 'psk' | 'rpk' | 'x509' | 'nosec';

/** Security Mode resource values (Appendix E.1, resource 2). */
export const SECURITY_MODE_VALUE: Readonly<Record<BootstrapSecurityMode, number>> = { psk: 0, rpk: 1, x509: 2, nosec: 3 };

export interface BootstrapServerAccount {
  shortServerId: number;
  /** coaps://host:port (coap:// only with securityMode 'nosec'). */
  uri: string;
  securityMode: BootstrapSecurityMode;
  /** psk: the identity the device will present. */
  pskIdentity?: string;
  /** psk: hex of the key (sealed by the caller if it seals). */
  pskKey?: string;
  /** rpk: hex SubjectPublicKeyInfo of the device; x509: hex DER certificate of the device. */
  clientPublicKey?: string;
  /**
   * rpk / x509: hex PKCS#8 private key of the device (sealed by the caller if it seals). Optional
   * for x509: a device that generated its own key (a BRSKI pledge enrolled over EST) keeps it, so
   * the account carries only its certificate and the Security instance is written without
   * Secret Key (/0/x/5); the client keeps using the key it holds for that certificate.
   */
  clientPrivateKey?: string;
  /** rpk: hex SPKI of the server; x509: hex DER certificate of the server. */
  serverPublicKey?: string;
  lifetime?: number;
  binding?: string;
  defaultMinPeriod?: number;
  defaultMaxPeriod?: number;
  notificationStoring?: boolean;
}

export interface BootstrapConfig {
  /** Paths Bootstrap-Delete'd before writing (default ['/0', '/1']; the bootstrap account is kept). */
  delete: string[];
  servers: BootstrapServerAccount[];
  /** True: `pskKey` / `clientPrivateKey` hold sealed bytes, opened by `unsealSecret` (default false: written as stored). */
  sealedSecrets: boolean;
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const MAX_SERVERS = 8;

function fail(message: string): never {
  throw new Lwm2mBadBootstrapConfigError(message);
}

function hexField(o: Record<string, unknown>, name: string, where: string, required: boolean): string | undefined {
  const x = o[name];
  if (x === undefined) return required ? fail(`${where}.${name} is required`) : undefined;
  if (typeof x !== 'string' || !HEX.test(x) || x.length > 16384) fail(`${where}.${name} must be hex`);
  if (required && x.length === 0) fail(`${where}.${name} must not be empty`);
  return x;
}

function intField(o: Record<string, unknown>, name: string, where: string, min: number, max: number): number | undefined {
  const x = o[name];
  if (x === undefined) return undefined;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) fail(`${where}.${name} must be an integer in ${min}..${max}`);
  return x;
}

/** Checks a stored configuration and fills defaults; throws ERR_LWM2M_BAD_BOOTSTRAP_CONFIG. */
export function parseBootstrapConfig(json: unknown): BootstrapConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('a bootstrap configuration is an object');
  const c = json as Record<string, unknown>;
  const del = c.delete ?? ['/0', '/1'];
  if (!Array.isArray(del) || del.length > 16 || !del.every((p) => typeof p === 'string' && /^\/([0-9]{1,5}(\/[0-9]{1,5})?)?$/.test(p))) fail('delete must list paths like "/", "/0" or "/1/0"');
  if (!Array.isArray(c.servers) || c.servers.length === 0 || c.servers.length > MAX_SERVERS) fail(`servers must list 1..${MAX_SERVERS} server accounts`);
  const seen = new Set<number>();
  const servers = c.servers.map((raw, k): BootstrapServerAccount => {
    const where = `servers[${k}]`;
    if (typeof raw !== 'object' || raw === null) fail(`${where} must be an object`);
    const s = raw as Record<string, unknown>;
    // Appendix E.1: Short Server ID 1..65534 (0 and 65535 are reserved).
    const ssid = intField(s, 'shortServerId', where, 1, 65534) ?? fail(`${where}.shortServerId is required`);
    if (seen.has(ssid)) fail(`${where}.shortServerId ${ssid} is used twice`);
    seen.add(ssid);
    if (typeof s.uri !== 'string' || !/^coaps?:\/\/[^\s]{1,250}$/.test(s.uri)) fail(`${where}.uri must be a coap:// or coaps:// URI`);
    const mode = s.securityMode;
    if (mode !== 'psk' && mode !== 'rpk' && mode !== 'x509' && mode !== 'nosec') fail(`${where}.securityMode must be psk, rpk, x509 or nosec`);
    if ((mode === 'nosec') !== s.uri.startsWith('coap://')) fail(`${where}: coap:// goes with nosec, coaps:// with psk, rpk or x509`);
    const out: BootstrapServerAccount = { shortServerId: ssid, uri: s.uri, securityMode: mode };
    if (mode === 'psk') {
      if (typeof s.pskIdentity !== 'string' || s.pskIdentity.length === 0 || s.pskIdentity.length > 128) fail(`${where}.pskIdentity is required (1..128 characters)`);
      out.pskIdentity = s.pskIdentity;
      out.pskKey = hexField(s, 'pskKey', where, true)!;
    }
    if (mode === 'rpk' || mode === 'x509') {
      out.clientPublicKey = hexField(s, 'clientPublicKey', where, true)!;
      // x509 may leave the key with the device (see clientPrivateKey); rpk has no EST-like way
      // for the device to have been given its key, so the bootstrap server must write it.
      const key = hexField(s, 'clientPrivateKey', where, mode === 'rpk');
      if (key !== undefined) {
        if (key.length === 0) fail(`${where}.clientPrivateKey must not be empty (leave it out when the device holds its key)`);
        out.clientPrivateKey = key;
      }
      out.serverPublicKey = hexField(s, 'serverPublicKey', where, true)!;
    }
    const lifetime = intField(s, 'lifetime', where, 1, 2 ** 31 - 1);
    if (lifetime !== undefined) out.lifetime = lifetime;
    if (s.binding !== undefined) {
      if (typeof s.binding !== 'string' || !/^[UTSNMHQ]{1,6}$/.test(s.binding)) fail(`${where}.binding must be a binding like U or UQ`);
      out.binding = s.binding;
    }
    const pmin = intField(s, 'defaultMinPeriod', where, 0, 2 ** 31 - 1);
    if (pmin !== undefined) out.defaultMinPeriod = pmin;
    const pmax = intField(s, 'defaultMaxPeriod', where, 0, 2 ** 31 - 1);
    if (pmax !== undefined) out.defaultMaxPeriod = pmax;
    if (s.notificationStoring !== undefined) {
      if (typeof s.notificationStoring !== 'boolean') fail(`${where}.notificationStoring must be a boolean`);
      out.notificationStoring = s.notificationStoring;
    }
    return out;
  });
  if (c.sealedSecrets !== undefined && typeof c.sealedSecrets !== 'boolean') fail('sealedSecrets must be a boolean');
  return { delete: del as string[], servers, sealedSecrets: c.sealedSecrets === true };
}

function bytes(hex: string | undefined): Uint8Array {
  return hex === undefined ? new Uint8Array(0) : new Uint8Array(Buffer.from(hex, 'hex'));
}

/** The secret fields of a server account. */
export const BOOTSTRAP_SECRET_FIELDS = ['pskKey', 'clientPrivateKey'] as const;
export type BootstrapSecretField = (typeof BOOTSTRAP_SECRET_FIELDS)[number];

/** Whose sealed secret the `unsealSecret` hook is asked to open. */
export interface BootstrapSecretContext {
  /** The endpoint whose configuration holds it (the one that sent the Bootstrap-Request). */
  endpoint: string;
  /** The server account's Short Server ID, and its position in `servers`. */
  shortServerId: number;
  serverIndex: number;
  field: BootstrapSecretField;
}

/** Opens one sealed secret; throwing refuses the bootstrap before anything reaches the device. */
export type Unseal = (sealed: Uint8Array, context: BootstrapSecretContext) => Uint8Array | Promise<Uint8Array>;

/**
 * The configuration with its secrets opened: as given unless it is marked `sealedSecrets`, and
 * then every secret field through `unseal` with its binding. Throws ERR_LWM2M_BAD_BOOTSTRAP_CONFIG
 * for sealed secrets without a hook (the sealed bytes must never be written as a key) or a hook
 * that answers something other than bytes; the hook's own errors pass through.
 */
export async function openBootstrapSecrets(endpoint: string, config: BootstrapConfig, unseal: Unseal | undefined): Promise<BootstrapConfig> {
  if (!config.sealedSecrets) return config;
  if (unseal === undefined) fail(`the configuration of ${JSON.stringify(endpoint)} holds sealed secrets and the bootstrap server has no unsealSecret hook`);
  const servers: BootstrapServerAccount[] = [];
  for (const [serverIndex, account] of config.servers.entries()) {
    const out: BootstrapServerAccount = { ...account };
    for (const field of BOOTSTRAP_SECRET_FIELDS) {
      const sealed = account[field];
      if (sealed === undefined) continue;
      const opened: unknown = await unseal(bytes(sealed), { endpoint, shortServerId: account.shortServerId, serverIndex, field });
      if (!(opened instanceof Uint8Array)) fail(`unsealSecret answered no bytes for servers[${serverIndex}].${field}`);
      out[field] = Buffer.from(opened).toString('hex');
    }
    servers.push(out);
  }
  return { ...config, servers, sealedSecrets: false };
}

/**
 * The Security object instance for a management server account (Appendix E.1). An x509 account
 * without `clientPrivateKey` is written without Secret Key (/0/x/5): Security Mode stays 2
 * (Certificate), not 4 (Certificate mode with EST), because the device already enrolled (over
 * BRSKI/EST with the registrar) and needs no EST server named here; mode 4 would tell it to
 * enroll again against the LwM2M server. Leaving /5 out of the Bootstrap-Write keeps the client
 * from being handed a key it never had.
 */
export async function securityInstance(id: number, s: BootstrapServerAccount, unseal: (secret: Uint8Array) => Uint8Array | Promise<Uint8Array> = (b) => b): Promise<ObjectInstanceNode> {
  const resources: ResourceNode[] = [
    singleResource(0, v.string(s.uri)),
    singleResource(1, v.boolean(false)),
    singleResource(2, v.integer(SECURITY_MODE_VALUE[s.securityMode])),
    singleResource(3, v.opaque(s.securityMode === 'psk' ? new TextEncoder().encode(s.pskIdentity) : bytes(s.clientPublicKey))),
    singleResource(4, v.opaque(bytes(s.serverPublicKey))),
  ];
  if (s.securityMode === 'psk') resources.push(singleResource(5, v.opaque(await unseal(bytes(s.pskKey)))));
  else if (s.securityMode === 'nosec') resources.push(singleResource(5, v.opaque(new Uint8Array(0))));
  else if (s.clientPrivateKey !== undefined) resources.push(singleResource(5, v.opaque(await unseal(bytes(s.clientPrivateKey)))));
  resources.push(singleResource(10, v.integer(s.shortServerId)));
  return objectInstance(id, resources);
}

/** The Server object instance for a management server account (Appendix E.2). */
export function serverInstance(id: number, s: BootstrapServerAccount): ObjectInstanceNode {
  const resources: ResourceNode[] = [
    singleResource(0, v.integer(s.shortServerId)),
    singleResource(1, v.unsigned(s.lifetime ?? 86400)),
    singleResource(6, v.boolean(s.notificationStoring ?? false)),
    singleResource(7, v.string(s.binding ?? 'U')),
  ];
  if (s.defaultMinPeriod !== undefined) resources.push(singleResource(2, v.integer(s.defaultMinPeriod)));
  if (s.defaultMaxPeriod !== undefined) resources.push(singleResource(3, v.integer(s.defaultMaxPeriod)));
  return objectInstance(id, resources);
}
