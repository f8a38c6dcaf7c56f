/**
 * Server configuration: built-in defaults, overridden by a JSON config file, then by ROOTLINE_*
 * environment variables, then by command-line flags. Every value is validated where it enters,
 * and a bad one fails with a ConfigError naming the setting and its source (file, env or flag),
 * because "invalid port" without saying which of four ports, from where, wastes an operator's time.
 *
 * Secrets are deliberately not settings: the master key comes from ROOTLINE_MASTER_KEY or a key
 * file (see the keystore room), never from the config file, so the file can be shared and logged.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseStoreUrl as parseStoreLocation, type StoreLocation } from '../store/index.js';
import { ConfigError, type ConfigSource } from './errors.js';
import { parseOnboardingConfig, type OnboardingConfig } from './onboarding-config.js';

export const FOTA_DELIVERIES = ['lwm2m-pull', 'lwm2m-push', 'https-pull'] as const;
export type FotaDelivery = (typeof FOTA_DELIVERIES)[number];

/** Where the HTTPS package listener binds when fotaDelivery is 'https-pull' and no port is set. */
export const DEFAULT_FOTA_HTTPS_PORT = 5685;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig {
  /** Absolute path of the data directory (SQLite database, key store, firmware blobs). */
  dataDir: string;
  /**
   * Address the HTTP API binds. Defaults to loopback because the API has no authentication yet:
   * exposing it beyond the host must be an explicit operator decision.
   */
  host: string;
  /** Address the device-facing listeners (CoAP, CoAPs, EST) bind; devices live off-host. */
  deviceHost: string;
  httpPort: number;
  coapPort: number;
  coapsPort: number;
  estPort: number;
  logLevel: LogLevel;
  /** Store URL (`sqlite:<file>`, `postgres://...`); defaults to the SQLite file in the data dir. */
  storeUrl: string;
  /** Absolute path of the master key file, used when ROOTLINE_MASTER_KEY is not set. */
  masterKeyFile: string;
  /** Largest firmware image accepted by POST /api/v1/firmware, in bytes. */
  firmwareMaxBytes: number;
  /** Milliseconds between campaign engine ticks (starting attempts, advancing waves, timeouts). */
  campaignTickMs: number;
  /**
   * Where devices fetch firmware packages: `coaps://host[:port]`, written in front of /fw/<token>
   * into /5/0/1. Absent: the CoAPs listener's address (loopback, with a warning, for a wildcard bind).
   */
  packageBaseUri?: string;
  /**
   * How campaigns deliver packages unless a campaign names its own `delivery`: 'lwm2m-pull'
   * (also when absent), 'lwm2m-push' or 'https-pull' (needs the HTTPS package listener).
   */
  fotaDelivery?: FotaDelivery;
  /**
   * TCP port of the HTTPS package listener (TLS-PSK, HTTPS pull), bound on `deviceHost`; 0 picks
   * a free one. Absent: no listener (campaigns cannot use 'https-pull'), unless fotaDelivery is
   * 'https-pull', which starts it on DEFAULT_FOTA_HTTPS_PORT.
   */
  fotaHttpsPort?: number;
  /** `https://host[:port]` devices reach the HTTPS package listener at; absent: derived like packageBaseUri. */
  fotaHttpsBaseUri?: string;
  /** BRSKI registrar / MASA settings (file only, see onboarding-config.ts); absent = onboarding off. */
  onboarding?: OnboardingConfig;
}

/** Settings with one scalar value (file, env and flag); `onboarding` is a file-only object. */
export type ConfigKey = Exclude<keyof ServerConfig, 'onboarding'>;

/** The file's keys; `data` rather than `dataDir` to match the `--data` flag operators know. */
const FILE_KEYS = {
  data: 'dataDir',
  host: 'host',
  deviceHost: 'deviceHost',
  httpPort: 'httpPort',
  coapPort: 'coapPort',
  coapsPort: 'coapsPort',
  estPort: 'estPort',
  logLevel: 'logLevel',
  storeUrl: 'storeUrl',
  masterKeyFile: 'masterKeyFile',
  firmwareMaxBytes: 'firmwareMaxBytes',
  campaignTickMs: 'campaignTickMs',
  packageBaseUri: 'packageBaseUri',
  fotaDelivery: 'fotaDelivery',
  fotaHttpsPort: 'fotaHttpsPort',
  fotaHttpsBaseUri: 'fotaHttpsBaseUri',
} as const satisfies Record<string, ConfigKey>;

export const CONFIG_ENV_VARS = {
  dataDir: 'ROOTLINE_DATA',
  host: 'ROOTLINE_HOST',
  deviceHost: 'ROOTLINE_DEVICE_HOST',
  httpPort: 'ROOTLINE_HTTP_PORT',
  coapPort: 'ROOTLINE_COAP_PORT',
  coapsPort: 'ROOTLINE_COAPS_PORT',
  estPort: 'ROOTLINE_EST_PORT',
  logLevel: 'ROOTLINE_LOG_LEVEL',
  storeUrl: 'ROOTLINE_STORE_URL',
  masterKeyFile: 'ROOTLINE_MASTER_KEY_FILE',
  firmwareMaxBytes: 'ROOTLINE_FIRMWARE_MAX_BYTES',
  campaignTickMs: 'ROOTLINE_CAMPAIGN_TICK_MS',
  packageBaseUri: 'ROOTLINE_PACKAGE_BASE_URI',
  fotaDelivery: 'ROOTLINE_FOTA_DELIVERY',
  fotaHttpsPort: 'ROOTLINE_FOTA_HTTPS_PORT',
  fotaHttpsBaseUri: 'ROOTLINE_FOTA_HTTPS_BASE_URI',
} as const satisfies Record<ConfigKey, string>;

export const CONFIG_FLAGS = {
  dataDir: 'data',
  host: 'host',
  deviceHost: 'device-host',
  httpPort: 'http-port',
  coapPort: 'coap-port',
  coapsPort: 'coaps-port',
  estPort: 'est-port',
  logLevel: 'log-level',
  storeUrl: 'store',
  masterKeyFile: 'master-key-file',
  firmwareMaxBytes: 'firmware-max-bytes',
  campaignTickMs: 'campaign-tick-ms',
  packageBaseUri: 'package-base-uri',
  fotaDelivery: 'fota-delivery',
  fotaHttpsPort: 'fota-https-port',
  fotaHttpsBaseUri: 'fota-https-base-uri',
} as const satisfies Record<ConfigKey, string>;

/** Environment variable naming a config file when `--config` is absent. */
export const CONFIG_FILE_ENV = 'ROOTLINE_CONFIG';

export const DEFAULT_PORTS = { httpPort: 8080, coapPort: 5683, coapsPort: 5684, estPort: 8443 } as const;

export interface ConfigInputs {
  /** Path of a JSON config file (from `--config`); falls back to env ROOTLINE_CONFIG. */
  configFile?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Flag values as parsed from the command line, keyed by setting. */
  flags?: Partial<Record<ConfigKey, string>>;
  /** Directory relative paths from env and flags resolve against (default process.cwd()). */
  cwd?: string;
}

export interface LoadedConfig {
  config: ServerConfig;
  /** Where each setting's effective value came from (useful in the start-up log). */
  sources: Record<ConfigKey, ConfigSource>;
  /** The config file read, if any. */
  configFile?: string;
}

type Origin = { source: ConfigSource; where: string; baseDir: string };

function describe(origin: Origin): string {
  switch (origin.source) {
    case 'file':
      return `in config file ${origin.where}`;
    case 'env':
      return `from environment variable ${origin.where}`;
    case 'flag':
      return `from flag --${origin.where}`;
    default:
      return '(default)';
  }
}

function fail(key: string, origin: Origin, message: string): never {
  throw new ConfigError(key, origin.source, `invalid setting ${key} ${describe(origin)}: ${message}`);
}

function showValue(raw: unknown): string {
  const s = JSON.stringify(raw) ?? String(raw);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function parsePort(key: string, raw: unknown, origin: Origin): number {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && origin.source !== 'file' && /^[0-9]{1,5}$/.test(raw)) n = Number(raw);
  else fail(key, origin, `expected an integer port 0..65535, got ${showValue(raw)}`);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(key, origin, `expected an integer port 0..65535, got ${showValue(raw)}`);
  return n;
}

// A host is an IP literal or a DNS name (RFC 1123 labels); anything else would only fail later,
// at bind time, with a less helpful message.
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parseHost(key: string, raw: unknown, origin: Origin): string {
  if (typeof raw !== 'string' || (isIP(raw) === 0 && !HOSTNAME.test(raw))) {
    fail(key, origin, `expected an IP address or host name, got ${showValue(raw)}`);
  }
  return raw;
}

function parsePath(key: string, raw: unknown, origin: Origin): string {
  if (typeof raw !== 'string' || raw.length === 0) fail(key, origin, `expected a non-empty path, got ${showValue(raw)}`);
  if (raw.includes('\0')) fail(key, origin, 'a path may not contain NUL characters');
  return isAbsolute(raw) ? raw : resolve(origin.baseDir, raw);
}

function parseLogLevel(key: string, raw: unknown, origin: Origin): LogLevel {
  if (typeof raw !== 'string' || !(LOG_LEVELS as readonly string[]).includes(raw)) {
    fail(key, origin, `expected one of ${LOG_LEVELS.join(', ')}, got ${showValue(raw)}`);
  }
  return raw as LogLevel;
}

function parseStoreUrl(key: string, raw: unknown, origin: Origin): string {
  if (typeof raw !== 'string' || raw.length === 0) fail(key, origin, `expected a store URL, got ${showValue(raw)}`);
  let location: StoreLocation;
  try {
    // The store room's parser: the config accepts exactly what openStore() opens.
    location = parseStoreLocation(raw);
  } catch (err) {
    // Its messages name the problem without echoing the URL, which may carry a password.
    return fail(key, origin, `${(err as Error).message.replace(/^url: /, '')}; expected sqlite:<file>, a file path or postgres://[user[:password]@]host[:port]/database`);
  }
  if (location.kind === 'postgres') return raw;
  if (location.file.includes('\0')) fail(key, origin, 'a path may not contain NUL characters');
  // Relative SQLite paths are resolved now so the file does not move with the process's cwd.
  return `sqlite:${location.file === ':memory:' || isAbsolute(location.file) ? location.file : resolve(origin.baseDir, location.file)}`;
}

/** An integer setting within [min, max]; text only from env and flags, a JSON number in the file. */
function integerIn(min: number, max: number, unit: string) {
  return (key: string, raw: unknown, origin: Origin): number => {
    let n: number = Number.NaN;
    if (typeof raw === 'number') n = raw;
    else if (typeof raw === 'string' && origin.source !== 'file' && /^[0-9]{1,16}$/.test(raw)) n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) fail(key, origin, `expected an integer ${min}..${max} (${unit}), got ${showValue(raw)}`);
    return n;
  };
}

/** The firmware room's own ceiling: image sizes are 32-bit in the delta format. */
const MAX_FIRMWARE_BYTES = 2 ** 31 - 2;

export const DEFAULT_FIRMWARE_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CAMPAIGN_TICK_MS = 1000;

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '::0']);

/**
 * A Package URI base: coaps (the package is served on the CoAPs endpoint only), a host devices
 * can reach (not a wildcard), an optional port, nothing else: the driver appends /fw/<token>.
 */
function parsePackageBaseUri(key: string, raw: unknown, origin: Origin): string {
  return parseDeviceBaseUri(key, raw, origin, 'coaps');
}

/** The HTTPS package listener's base URI: the same rules with https. */
function parseHttpsBaseUri(key: string, raw: unknown, origin: Origin): string {
  return parseDeviceBaseUri(key, raw, origin, 'https');
}

function parseFotaDelivery(key: string, raw: unknown, origin: Origin): FotaDelivery {
  if (typeof raw !== 'string' || !(FOTA_DELIVERIES as readonly string[]).includes(raw)) fail(key, origin, `expected one of ${FOTA_DELIVERIES.join(', ')}, got ${showValue(raw)}`);
  return raw as FotaDelivery;
}

function parseDeviceBaseUri(key: string, raw: unknown, origin: Origin, scheme: 'coaps' | 'https'): string {
  const expected = `expected ${scheme}://<host devices reach>[:port] with no path`;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 1024) fail(key, origin, `${expected}, got ${showValue(raw)}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(key, origin, `${expected}, got ${showValue(raw)}`);
  }
  if (url.protocol !== `${scheme}:`) fail(key, origin, `${expected}: the scheme must be ${scheme}, got ${showValue(raw)}`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '' && url.pathname !== '/')) {
    fail(key, origin, `${expected}, got ${showValue(raw)}`);
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '' || (isIP(host) === 0 && !HOSTNAME.test(host))) fail(key, origin, `${expected}: bad host in ${showValue(raw)}`);
  if (WILDCARD_HOSTS.has(host)) fail(key, origin, `${expected}: ${host} is a wildcard bind address, not one a device can reach`);
  return `${scheme}://${url.host}`;
}

const PARSERS: Record<ConfigKey, (name: string, raw: unknown, origin: Origin) => unknown> = {
  dataDir: parsePath,
  host: parseHost,
  deviceHost: parseHost,
  httpPort: parsePort,
  coapPort: parsePort,
  coapsPort: parsePort,
  estPort: parsePort,
  logLevel: parseLogLevel,
  storeUrl: parseStoreUrl,
  masterKeyFile: parsePath,
  firmwareMaxBytes: integerIn(1, MAX_FIRMWARE_BYTES, 'bytes'),
  // The campaign engine accepts 10 ms .. 1 h.
  campaignTickMs: integerIn(10, 3_600_000, 'milliseconds'),
  packageBaseUri: parsePackageBaseUri,
  fotaDelivery: parseFotaDelivery,
  fotaHttpsPort: parsePort,
  fotaHttpsBaseUri: parseHttpsBaseUri,
};

function readConfigFile(path: string): Record<string, unknown> {
  const origin: Origin = { source: 'file', where: path, baseDir: dirname(path) };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', 'flag', `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config', 'file', `config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    fail('config', origin, 'the file must hold one JSON object');
  }
  for (const k of Object.keys(parsed)) {
    if (!Object.hasOwn(FILE_KEYS, k) && k !== 'onboarding') {
      fail(k, origin, `unknown setting; known settings are ${[...Object.keys(FILE_KEYS), 'onboarding'].join(', ')}`);
    }
  }
  return parsed as Record<string, unknown>;
}

/**
 * Resolves the effective configuration. Throws ConfigError (ERR_CONFIG_INVALID) on the first bad
 * value, naming the setting and where it came from.
 */
export function loadConfig(inputs: ConfigInputs = {}): LoadedConfig {
  const env = inputs.env ?? process.env;
  const cwd = inputs.cwd ?? process.cwd();
  const values = new Map<ConfigKey, unknown>();
  const sources = new Map<ConfigKey, ConfigSource>();

  let onboarding: OnboardingConfig | undefined;
  let configFile = inputs.configFile;
  if (configFile === undefined && env[CONFIG_FILE_ENV] !== undefined && env[CONFIG_FILE_ENV] !== '') configFile = env[CONFIG_FILE_ENV];
  if (configFile !== undefined) {
    configFile = resolve(cwd, configFile);
    const file = readConfigFile(configFile);
    const origin: Origin = { source: 'file', where: configFile, baseDir: dirname(configFile) };
    for (const [fileKey, key] of Object.entries(FILE_KEYS) as [keyof typeof FILE_KEYS, ConfigKey][]) {
      if (file[fileKey] === undefined) continue;
      values.set(key, PARSERS[key](fileKey, file[fileKey], origin));
      sources.set(key, 'file');
    }
    if (file.onboarding !== undefined) onboarding = parseOnboardingConfig(file.onboarding, origin.baseDir);
  }
  for (const key of Object.keys(CONFIG_ENV_VARS) as ConfigKey[]) {
    const name = CONFIG_ENV_VARS[key];
    const raw = env[name];
    // An empty variable is treated as unset: `ROOTLINE_HTTP_PORT= rootline serve` is a common
    // way to clear an inherited value.
    if (raw === undefined || raw === '') continue;
    values.set(key, PARSERS[key](key, raw, { source: 'env', where: name, baseDir: cwd }));
    sources.set(key, 'env');
  }
  for (const key of Object.keys(CONFIG_FLAGS) as ConfigKey[]) {
    const raw = inputs.flags?.[key];
    if (raw === undefined) continue;
    values.set(key, PARSERS[key](key, raw, { source: 'flag', where: CONFIG_FLAGS[key], baseDir: cwd }));
    sources.set(key, 'flag');
  }

  const dataDir = (values.get('dataDir') as string | undefined) ?? resolve(cwd, 'data');
  const config: ServerConfig = {
    dataDir,
    host: (values.get('host') as string | undefined) ?? '127.0.0.1',
    deviceHost: (values.get('deviceHost') as string | undefined) ?? '0.0.0.0',
    httpPort: (values.get('httpPort') as number | undefined) ?? DEFAULT_PORTS.httpPort,
    coapPort: (values.get('coapPort') as number | undefined) ?? DEFAULT_PORTS.coapPort,
    coapsPort: (values.get('coapsPort') as number | undefined) ?? DEFAULT_PORTS.coapsPort,
    estPort: (values.get('estPort') as number | undefined) ?? DEFAULT_PORTS.estPort,
    logLevel: (values.get('logLevel') as LogLevel | undefined) ?? 'info',
    // Defaults that live in the data dir follow a moved data dir.
    storeUrl: (values.get('storeUrl') as string | undefined) ?? `sqlite:${resolve(dataDir, 'rootline.db')}`,
    masterKeyFile: (values.get('masterKeyFile') as string | undefined) ?? resolve(dataDir, 'master.key'),
    firmwareMaxBytes: (values.get('firmwareMaxBytes') as number | undefined) ?? DEFAULT_FIRMWARE_MAX_BYTES,
    campaignTickMs: (values.get('campaignTickMs') as number | undefined) ?? DEFAULT_CAMPAIGN_TICK_MS,
    ...(values.has('packageBaseUri') ? { packageBaseUri: values.get('packageBaseUri') as string } : {}),
    ...(values.has('fotaDelivery') ? { fotaDelivery: values.get('fotaDelivery') as FotaDelivery } : {}),
    ...(values.has('fotaHttpsPort') ? { fotaHttpsPort: values.get('fotaHttpsPort') as number } : values.get('fotaDelivery') === 'https-pull' ? { fotaHttpsPort: DEFAULT_FOTA_HTTPS_PORT } : {}),
    ...(values.has('fotaHttpsBaseUri') ? { fotaHttpsBaseUri: values.get('fotaHttpsBaseUri') as string } : {}),
    ...(onboarding !== undefined ? { onboarding } : {}),
  };
  const allSources = {} as Record<ConfigKey, ConfigSource>;
  for (const key of Object.keys(CONFIG_FLAGS) as ConfigKey[]) allSources[key] = sources.get(key) ?? 'default';

  checkPortClashes(config, allSources);
  if (config.fotaHttpsBaseUri !== undefined && config.fotaHttpsPort === undefined) {
    throw new ConfigError('fotaHttpsBaseUri', allSources.fotaHttpsBaseUri, 'invalid setting fotaHttpsBaseUri: there is no HTTPS package listener; set fotaHttpsPort (or fotaDelivery https-pull) too');
  }
  return configFile === undefined ? { config, sources: allSources } : { config, sources: allSources, configFile };
}

// HTTP and EST are both TCP, CoAP and CoAPs both UDP; the same non-zero port twice on one
// transport could never bind, so say so now rather than half-way through start-up.
function checkPortClashes(config: ServerConfig, sources: Record<ConfigKey, ConfigSource>): void {
  const pairs: [ConfigKey, ConfigKey][] = [['httpPort', 'estPort'], ['coapPort', 'coapsPort'], ['httpPort', 'fotaHttpsPort'], ['estPort', 'fotaHttpsPort']];
  for (const [a, b] of pairs) {
    if (config[a] !== undefined && config[a] !== 0 && config[a] === config[b]) {
      throw new ConfigError(b, sources[b], `invalid setting ${b}: port ${config[b]} is also used by ${a} (${sources[a]}) on the same transport`);
    }
  }
}
