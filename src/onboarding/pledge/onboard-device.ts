/**
 * Zero-touch onboarding in one call (issue 6): the BRSKI pledge (pledge.ts: voucher, EST
 * enrollment for an LDevID), then LwM2M client-initiated bootstrap with the LDevID as DTLS client
 * certificate, then registration with the LwM2M server the bootstrap configured. Returns the
 * running, registered Lwm2mClient.
 *
 * Trust, step by step: the voucher pins the domain CA; the registrar's TLS certificate must chain
 * to it (pledge.ts); over a TLS session authenticated that way and with the new LDevID as client
 * certificate, the registrar names the bootstrap server and the certificate it presents
 * (GET /.well-known/rootline/lwm2m-bootstrap). The device pins exactly that certificate in the
 * DTLS handshake (Security object, Certificate Usage 3); the bootstrap server in turn writes the
 * management server's certificate into the Security object it provisions. No private key leaves
 * the device: the management account comes without Secret Key and the client uses the key it
 * holds for its LDevID (src/client/connection.ts).
 */
import type { KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { addBootstrapAccount } from '../../client/accounts.js';
import { Lwm2mClient, type Lwm2mClientOptions } from '../../client/client.js';
import { holdPrivateKey } from '../../client/connection.js';
import type { Lwm2mValue } from '../../lwm2m/model/node.js';
import { deviceWithDefaults, type DeviceInit } from '../../client/standard-objects.js';
import { InvalidArgumentError, isRootlineError } from '../../errors.js';
import { decodePem, parseCertificate } from '../../pki/index.js';
import { PledgeBootstrapServerError, PledgeLwm2mError } from './errors.js';
import { httpSession, type HttpSession } from './http-session.js';
import { askCoapsBootstrapServer, runCoapsPledge, type CoapsRegistrarConnection } from './coaps-transport.js';
import { pkcs8Pem } from './device-key.js';
import { runPledge, signerFor, type PledgeResult, type RunPledgeOptions } from './pledge.js';
import { openTls } from './transport.js';

/** Served by the registrar (registrar/routes.ts exports the same path); not imported, so a device does not load server code. */
const LWM2M_BOOTSTRAP_PATH = '/.well-known/rootline/lwm2m-bootstrap';

export type OnboardStep = Parameters<NonNullable<RunPledgeOptions['onStep']>>[0] | 'bootstrap-server' | 'bootstrapped' | 'registered';

export interface OnboardDeviceOptions extends Omit<RunPledgeOptions, 'onStep'> {
  /** coaps://host:port of the bootstrap server; default: the one the registrar names. */
  bootstrapUri?: string;
  /** The bootstrap server's certificate (PEM or DER) to pin; default: the one the registrar names (required with a bootstrapUri the registrar does not know). */
  bootstrapServerCertificate?: string | Uint8Array;
  /** Device (object 3) facts; serialNumber defaults to the IDevID serial. */
  device?: Partial<DeviceInit>;
  /** Further LwM2M client options (DTLS retransmission, CoAP, lifetimes, queue mode...). */
  client?: Omit<Lwm2mClientOptions, 'endpointName' | 'tree' | 'device'>;
  /** Progress (CLI, simulator); never given key material. */
  onStep?: (step: OnboardStep, detail: Record<string, unknown>) => void;
}

export interface BootstrapServerTarget {
  uri: string;
  /** DER. */
  serverCertificate: Uint8Array;
}

export interface OnboardedDevice {
  /** What BRSKI gave: LDevID, its key, the pinned domain CA, the voucher. */
  pledge: PledgeResult;
  endpoint: string;
  bootstrap: BootstrapServerTarget;
  /** Registered with the LwM2M server; call deregister() / close() when done. */
  client: Lwm2mClient;
}

function certificateDer(raw: string | Uint8Array, what: string): Uint8Array {
  try {
    const der = typeof raw === 'string' ? decodePem(raw, 'CERTIFICATE') : raw;
    return parseCertificate(der).der;
  } catch (err) {
    throw new InvalidArgumentError(what, 'expected a PEM or DER certificate', { cause: err });
  }
}

function checkCoapsUri(uri: unknown, what: string): string {
  let u: URL | undefined;
  try {
    u = typeof uri === 'string' && uri.length <= 2048 ? new URL(uri) : undefined;
  } catch {
    u = undefined;
  }
  if (u === undefined || u.protocol !== 'coaps:' || u.hostname === '' || u.port === '') throw new InvalidArgumentError(what, 'expected coaps://host:port');
  return uri as string;
}

/** The URL scheme as URL reads it ('coaps:', 'https:'), or undefined for no URL (runPledge then refuses it). */
function protocolOf(raw: unknown): string | undefined {
  try {
    return typeof raw === 'string' ? new URL(raw).protocol : undefined;
  } catch {
    return undefined;
  }
}

/** The registrar's answer to GET /.well-known/rootline/lwm2m-bootstrap, checked. */
function bootstrapAnswer(status: number, body: string): BootstrapServerTarget & { endpoint: string } {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new PledgeBootstrapServerError(`${LWM2M_BOOTSTRAP_PATH}: HTTP ${status}, not JSON`, status);
  }
  if (status !== 200) {
    const code = typeof json.code === 'string' && /^ERR_[A-Z0-9_]{1,80}$/.test(json.code) ? ` ${json.code}` : '';
    throw new PledgeBootstrapServerError(`${LWM2M_BOOTSTRAP_PATH}: HTTP ${status}${code}${typeof json.message === 'string' ? `: ${json.message.slice(0, 300)}` : ''}`, status);
  }
  if (json.securityMode !== 'x509' || typeof json.serverCertificate !== 'string' || typeof json.endpoint !== 'string') throw new PledgeBootstrapServerError(`${LWM2M_BOOTSTRAP_PATH}: unexpected answer`, status);
  let uri: string;
  let serverCertificate: Uint8Array;
  try {
    uri = checkCoapsUri(json.uri, 'uri');
    serverCertificate = parseCertificate(new Uint8Array(Buffer.from(json.serverCertificate, 'base64'))).der;
  } catch (err) {
    throw new PledgeBootstrapServerError(`${LWM2M_BOOTSTRAP_PATH}: ${(err as Error).message}`, status, { cause: err });
  }
  return { endpoint: json.endpoint, uri, serverCertificate };
}

async function askBootstrapServer(request: HttpSession['request']): Promise<BootstrapServerTarget & { endpoint: string }> {
  let ex;
  try {
    ex = await request('GET', LWM2M_BOOTSTRAP_PATH, undefined, { accept: 'application/json' }, 64 * 1024);
  } catch (err) {
    throw new PledgeBootstrapServerError(`${LWM2M_BOOTSTRAP_PATH}: ${(err as Error).message}`, undefined, { cause: err });
  }
  return bootstrapAnswer(ex.status, ex.body.toString('utf8'));
}

/**
 * Asks the registrar where to bootstrap, over TLS with the LDevID as client certificate and the
 * pinned domain CA as the only trust anchor (a device that enrolled earlier; `onboardDevice`
 * asks on its enrollstatus connection instead).
 */
export async function fetchBootstrapServer(options: { registrarUrl: string; ldevidChainPem: string; key: KeyObject; domainCaPem: string; timeoutMs?: number }): Promise<BootstrapServerTarget & { endpoint: string }> {
  const url = new URL(options.registrarUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? 443 : Number(url.port);
  const servername = /^[0-9.]+$|:/.test(host) ? undefined : host;
  const open = (): Promise<TLSSocket> => openTls({ host, port, timeoutMs: options.timeoutMs ?? 30_000, cert: options.ldevidChainPem, key: pkcs8Pem(options.key), ca: [options.domainCaPem], ...(servername !== undefined ? { servername } : {}) });
  const session = httpSession(await open(), url.host, open);
  try {
    return await askBootstrapServer((...args) => session.request(...args));
  } finally {
    session.close();
  }
}

/**
 * From the factory identity to a registered LwM2M client in one call; see the file header.
 * Errors: the pledge's (ERR_PLEDGE_*, ERR_VOUCHER_*, ERR_EST_*), ERR_PLEDGE_BOOTSTRAP_SERVER,
 * ERR_PLEDGE_LWM2M (with `step` and the client's `causeCode`), ERR_INVALID_ARGUMENT.
 */
export async function onboardDevice(options: OnboardDeviceOptions): Promise<OnboardedDevice> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const overrideUri = options.bootstrapUri === undefined ? undefined : checkCoapsUri(options.bootstrapUri, 'bootstrapUri');
  const overrideCert = options.bootstrapServerCertificate === undefined ? undefined : certificateDer(options.bootstrapServerCertificate, 'bootstrapServerCertificate');
  if (options.device !== undefined && (options.device === null || typeof options.device !== 'object')) throw new InvalidArgumentError('device', 'expected an object');
  // Checked now, not after an LDevID was issued for nothing (the same checks the client applies).
  deviceWithDefaults(options.device, 'endpoint');
  const step = options.onStep ?? (() => undefined);
  const { bootstrapUri: _u, bootstrapServerCertificate: _c, device: _d, client: _cl, onStep: _s, ...pledgeOptions } = options;
  const ask = overrideUri === undefined || overrideCert === undefined;
  const overCoaps = protocolOf(options.registrarUrl) === 'coaps:';
  let named: (BootstrapServerTarget & { endpoint: string }) | undefined;
  // The registrar is asked on the LDevID session of enrollstatus (RFC 8995 §5.9.4's
  // re-established session, one handshake fewer than a session of its own): a TLS connection
  // over HTTPS, a DTLS session over CoAPs (coaps-transport.ts, the same trust: LDevID client
  // certificate, the pinned domain CA as the only anchor).
  const askOverCoaps = async (conn: CoapsRegistrarConnection): Promise<void> => {
    try {
      named = await askCoapsBootstrapServer(conn);
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      throw new PledgeBootstrapServerError(`lwm2m-bootstrap over CoAPs: ${(err as Error).message}`, typeof status === 'number' ? status : undefined, { cause: err });
    }
  };
  const pledge = overCoaps
    ? await runCoapsPledge({ ...pledgeOptions, onStep: step, ...(ask ? { afterCoapsEnrollment: askOverCoaps } : {}) })
    : await runPledge({ ...pledgeOptions, onStep: step, ...(ask ? { afterEnrollment: async (request: HttpSession['request']) => void (named = await askBootstrapServer(request)) } : {}) });
  const endpoint = pledge.endpoint;
  if (endpoint === undefined) throw new PledgeBootstrapServerError('the LDevID carries no CN: no endpoint name to bootstrap under');

  let bootstrap: BootstrapServerTarget;
  if (!ask) {
    bootstrap = { uri: overrideUri!, serverCertificate: overrideCert! };
  } else {
    if (named === undefined) throw new PledgeBootstrapServerError('the registrar named no bootstrap server');
    if (named.endpoint !== endpoint) throw new PledgeBootstrapServerError(`the registrar answered for ${named.endpoint}, not ${endpoint}`);
    bootstrap = { uri: overrideUri ?? named.uri, serverCertificate: overrideCert ?? named.serverCertificate };
  }
  step('bootstrap-server', { uri: bootstrap.uri });

  const client = new Lwm2mClient({
    ...options.client,
    endpointName: endpoint,
    device: { serialNumber: pledge.serialNumber, ...options.device },
  });
  // The factory-time bootstrap account a real device would carry, filled from what BRSKI gave.
  addBootstrapAccount(client.tree, { uri: bootstrap.uri, security: { mode: 'x509', privateKey: pledge.key, certificate: pledge.ldevid.der, serverCertificate: bootstrap.serverCertificate } });
  // The DTLS client would import the key again from the account's PKCS#8; it is at hand.
  const secret = client.tree.get(0, 0, 5) as Lwm2mValue | undefined;
  if (secret?.type === 'opaque') holdPrivateKey(secret.value, pledge.key, signerFor(pledge.key));
  let bootstrapped = false;
  client.once('bootstrapped', () => {
    bootstrapped = true;
    step('bootstrapped', { endpoint });
  });
  try {
    await client.start({ forceBootstrap: true });
  } catch (err) {
    await client.close().catch(() => undefined);
    const where = bootstrapped ? 'register' : 'bootstrap';
    const code = isRootlineError(err) ? err.code : undefined;
    throw new PledgeLwm2mError(where, `LwM2M ${where} of ${endpoint} at ${bootstrapped ? 'the LwM2M server' : bootstrap.uri} failed: ${code !== undefined ? `${code}: ` : ''}${(err as Error).message}`, code, { cause: err });
  }
  step('registered', { endpoint, location: client.location });
  return { pledge, endpoint, bootstrap, client };
}
