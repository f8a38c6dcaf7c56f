/**
 * `rootline masa serve`: the manufacturer's MASA as a standalone HTTPS service, for a factory
 * created with `rootline factory init` (the MASA signing key stays in that data directory's
 * KeyStore). Any number of these may run on one PostgreSQL store: claims, used nonces and the
 * request log are in the store, and claiming is one atomic statement (src/onboarding/masa.ts).
 *
 * Routes (src/onboarding/http/masa-routes.ts), at the root of the listener so that the MASA URL
 * the IDevIDs carry is just https://host:port:
 *   POST /.well-known/brski/requestvoucher   registrars (RFC 8995 §5.5; CMS, or COSE for
 *                                            constrained pledges, cBRSKI §7.1)
 *   POST /.well-known/brski/requestauditlog  the owning domain (§5.8)
 *   POST /.well-known/brski/release          the owning domain releases its claim
 *   GET  /health                             200 {"status":"ok"} once listening
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import { KEYSTORE_FILE_NAME, loadMasterKey, openSoftwareKeyStore, parseMasterKey } from '../../crypto/keystore/index.js';
import type { KeyStore } from '../../crypto/keystore/types.js';
import { InvalidArgumentError } from '../../errors.js';
import { openFactory } from '../../onboarding/factory.js';
import { masaRoutes } from '../../onboarding/http/masa-routes.js';
import { createMasa, type MasaOptions } from '../../onboarding/masa.js';
import { SERIAL_NUMBER_PATTERN, settingsMasaRegistry } from '../../onboarding/masa-registry.js';
import { parseCertificate, parsePem } from '../../pki/index.js';
import { loadConfig, type ConfigKey } from '../../server/config.js';
import { createLogger, redactStoreUrl } from '../../server/logger.js';
import { MASTER_KEY_ENV } from '../../server/server.js';
import { openStore } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

const options = {
  data: { type: 'string' },
  config: { type: 'string' },
  store: { type: 'string' },
  'master-key-file': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'claim-lifetime': { type: 'string' },
  'nonceless-lifetime': { type: 'string' },
  'max-request-age': { type: 'string' },
  'log-level': { type: 'string' },
} as const satisfies OptionSpec;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Resolves on io.shutdown's abort or on SIGINT/SIGTERM (listening starts before the server does). */
function shutdownRequest(io: CliIo): { requested: Promise<string>; dispose(): void } {
  if (io.shutdown !== undefined) {
    const signal = io.shutdown;
    return { requested: new Promise((r) => (signal.aborted ? r('abort') : signal.addEventListener('abort', () => r('abort'), { once: true }))), dispose: () => undefined };
  }
  let onSignal: (name: NodeJS.Signals) => void = () => undefined;
  const dispose = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const requested = new Promise<string>((r) => {
    onSignal = (name) => {
      dispose();
      r(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return { requested, dispose };
}

function readPemFile(command: string, flag: string, path: string | undefined, cwd: string, label: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  if (path === undefined) throw new UsageError(command, `missing --${flag}`);
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(command, `--${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (label === 'CERTIFICATE') {
    let certificates: number;
    try {
      certificates = parsePem(text, {}).filter((b) => b.label === 'CERTIFICATE').map((b) => parseCertificate(b.der)).length;
    } catch (err) {
      throw new UsageError(command, `--${flag}: ${file} is not a PEM certificate file: ${(err as Error).message}`);
    }
    if (certificates === 0) throw new UsageError(command, `--${flag}: ${file} holds no certificate`);
  } else if (!/-----BEGIN (?:EC |RSA |ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    throw new UsageError(command, `--${flag}: ${file} holds no PEM private key`);
  }
  return text;
}

export const masaServe: Command = {
  name: 'masa serve',
  summary: "run the manufacturer's MASA (BRSKI voucher service) over HTTPS",
  help: `Usage: rootline masa serve --tls-cert <file> --tls-key <file> [--data <dir>] [--store <url>] [--port <n>] [options]

Runs the MASA of the factory in <dir>/factory (created by 'rootline factory init'; devices
recorded by 'rootline factory mint') as an HTTPS service until SIGINT or SIGTERM, then drains
and closes. The MASA URL written into IDevIDs (--masa-url of factory init) must reach it.
  POST /.well-known/brski/requestvoucher   registrar voucher requests (RFC 8995 §5.5):
                                           application/voucher-cms+json or, for constrained
                                           pledges, application/voucher+cose (cBRSKI)
  POST /.well-known/brski/requestauditlog  the owning domain's request log (§5.8)
  POST /.well-known/brski/release          the owning domain releases its claim
  GET  /health                             200 once listening
Several 'masa serve' processes may share one PostgreSQL store: a device is claimed by exactly
one domain, whichever node answers.

Options:
  --tls-cert <file>          HTTPS server certificate (PEM, then its chain); registrars trust its CA
  --tls-key <file>           its private key (PEM)
  --data <dir>               data directory holding the factory and key store (default ./data; env ROOTLINE_DATA)
  --config <file>            take data directory, store URL and master key file from this config file
  --store <url>              sqlite:<file> or postgres://... (default sqlite:<data>/rootline.db; env ROOTLINE_STORE_URL)
  --master-key-file <file>   master key file (default <data>/master.key); ROOTLINE_MASTER_KEY wins
  --host <addr>              bind address (default 0.0.0.0)
  --port <n>                 port, 0 picks a free one (default 9443); printed as
                             "rootline: masa listening on https://..."
  --claim-lifetime <s>       claims lapse this long after they were made (default: until released)
  --nonceless-lifetime <s>   answer nonceless requests with vouchers valid this long (default: refuse them)
  --max-request-age <s>      oldest registrar request created-on accepted (default 3600)
  --log-level <level>        fatal, error, warn, info, debug, trace, silent (default info; logs go to stderr)
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, options);
    const port = intFlag(this.name, p, 'port', 0, 65535) ?? 9443;
    const claimLifetime = intFlag(this.name, p, 'claim-lifetime', 60, 100 * 365 * 86_400);
    const noncelessLifetime = intFlag(this.name, p, 'nonceless-lifetime', 1, 365 * 86_400);
    const maxRequestAge = intFlag(this.name, p, 'max-request-age', 10, 86_400);
    const host = str(p, 'host') ?? '0.0.0.0';
    if (!/^[0-9A-Za-z.:-]{1,253}$/.test(host)) throw new UsageError(this.name, `--host: ${JSON.stringify(host)} is not an address`);
    const level = str(p, 'log-level') ?? 'info';
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(this.name, `--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
    const cert = readPemFile(this.name, 'tls-cert', str(p, 'tls-cert'), io.cwd, 'CERTIFICATE');
    const key = readPemFile(this.name, 'tls-key', str(p, 'tls-key'), io.cwd, 'PRIVATE KEY');

    // The MASA serves an existing factory; it never creates keys (that is 'factory init').
    const opened = await openMasaDataDir(p, io);
    const { keyStore, store, factoryDir, storeUrl } = opened;

    const logger = createLogger({ level: level as (typeof LOG_LEVELS)[number] });
    const shutdown = shutdownRequest(io);
    let stopApp: (() => Promise<void>) | undefined;
    try {
      const registry = settingsMasaRegistry(store.settings);
      const factory = await openFactory({ keyStore, directory: factoryDir, registry, audit: store.audit });
      const masaOptions: MasaOptions = {
        registry,
        claims: store.masa,
        audit: store.audit,
        signer: factory.masaSigner,
        certificates: [factory.masaCertificate],
        manufacturerCas: [factory.manufacturerCaCertificate],
        ...(claimLifetime !== undefined ? { claimLifetimeSeconds: claimLifetime } : {}),
        ...(noncelessLifetime !== undefined ? { noncelessLifetimeSeconds: noncelessLifetime } : {}),
        ...(maxRequestAge !== undefined ? { maxRequestAgeSeconds: maxRequestAge } : {}),
      };
      const masa = createMasa(masaOptions);
      // RFC 8995 §5.4: the registrar MAY present a client certificate; the CMS signature on every
      // request is what authenticates it, so any (or none) is taken here.
      const app = Fastify({ loggerInstance: logger.child({ listener: 'masa' }), https: { key, cert, requestCert: true, rejectUnauthorized: false } });
      stopApp = () => app.close();
      app.get('/health', async () => ({ status: 'ok' }));
      await app.register(masaRoutes, { masa, audit: store.audit });
      await app.listen({ host, port });
      const addr = app.server.address();
      if (addr === null || typeof addr === 'string') throw new Error('the MASA listener has no TCP address');
      const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      logger.info({ store: redactStoreUrl(storeUrl), factory: factoryDir, masaUrl: factory.masaUrl }, 'MASA started');
      await store.audit.append({ actor: 'system', action: 'masa.start', subject: factory.masaCertificate.subject, outcome: 'success', details: { port: addr.port, store: store.kind } });
      io.stdout.write(`rootline: masa listening on https://${shown}:${addr.port}\n`);
      const reason = await shutdown.requested;
      logger.info({ reason }, 'shutdown requested');
      return 0;
    } finally {
      shutdown.dispose();
      // In-flight requests finish before the store they write to closes.
      await stopApp?.();
      await store.close();
      await keyStore.close();
    }
  },
};

/** Opens the factory's data directory for an offline MASA operation (config as for `masa serve`). */
async function openMasaDataDir(p: ReturnType<typeof parseCommandArgs>, io: CliIo): Promise<{ keyStore: KeyStore; store: Store; factoryDir: string; storeUrl: string }> {
  const flags: Partial<Record<ConfigKey, string>> = {};
  for (const [k, flag] of [['dataDir', 'data'], ['storeUrl', 'store'], ['masterKeyFile', 'master-key-file']] as const) {
    const v = str(p, flag);
    if (v !== undefined) flags[k] = v;
  }
  const configFile = str(p, 'config');
  const { config } = loadConfig({ ...(configFile !== undefined ? { configFile } : {}), env: io.env, flags, cwd: io.cwd });
  const factoryDir = resolve(config.dataDir, 'factory');
  if (!existsSync(join(config.dataDir, KEYSTORE_FILE_NAME)) || !existsSync(factoryDir)) {
    throw new InvalidArgumentError('data', `${config.dataDir} holds no factory: run 'rootline factory init --data ${config.dataDir}' first`);
  }
  const fromEnv = io.env[MASTER_KEY_ENV];
  const masterKey = fromEnv !== undefined ? parseMasterKey(fromEnv, MASTER_KEY_ENV) : existsSync(config.masterKeyFile) ? loadMasterKey({ file: config.masterKeyFile }) : undefined;
  if (masterKey === undefined) throw new InvalidArgumentError('masterKey', `no master key: set ${MASTER_KEY_ENV} or --master-key-file`);
  const keyStore = await openSoftwareKeyStore({ directory: config.dataDir, masterKey });
  try {
    return { keyStore, store: await openStore(config.storeUrl), factoryDir, storeUrl: config.storeUrl };
  } catch (err) {
    await keyStore.close();
    throw err;
  }
}

const releaseOptions = {
  data: { type: 'string' },
  config: { type: 'string' },
  store: { type: 'string' },
  'master-key-file': { type: 'string' },
  serial: { type: 'string' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

export const masaForceRelease: Command = {
  name: 'masa force-release',
  summary: "release a device's claim at the MASA as the manufacturer (support case; audited)",
  help: `Usage: rootline masa force-release --serial <SN> --reason <text> [--data <dir>] [--store <url>] [--json]

Releases whatever claim a domain holds on the device at this manufacturer's MASA, without the
owner's signed release request: for a device returned by its owner who can no longer release it.
Audited as masa.claim.force-release with the operator (the OS user) and the reason. Works on the
MASA's store directly (offline, or beside running 'masa serve' nodes).
  --serial <SN>        the device serial number
  --reason <text>      why (kept in the audit record; 1..300 characters)
  --data, --config, --store, --master-key-file   as for 'rootline masa serve'
  --json               print the result as JSON
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, releaseOptions);
    const serial = str(p, 'serial');
    const reason = str(p, 'reason');
    if (serial === undefined) throw new UsageError(this.name, 'missing --serial');
    if (!SERIAL_NUMBER_PATTERN.test(serial)) throw new UsageError(this.name, `--serial: ${JSON.stringify(serial)} is not a serial number this factory mints`);
    if (reason === undefined || reason.trim().length === 0 || reason.length > 300) throw new UsageError(this.name, '--reason: expected 1..300 characters');
    const { keyStore, store, factoryDir } = await openMasaDataDir(p, io);
    try {
      const registry = settingsMasaRegistry(store.settings);
      const factory = await openFactory({ keyStore, directory: factoryDir, registry, audit: store.audit });
      const masa = createMasa({ registry, claims: store.masa, audit: store.audit, signer: factory.masaSigner, certificates: [factory.masaCertificate], manufacturerCas: [factory.manufacturerCaCertificate] });
      const before = await store.masa.getClaim(serial);
      await masa.forceRelease(serial, `operator:${userInfo().username}`, reason);
      const released = before !== undefined && before.releasedAt === null;
      if (p.values.json === true) writeJson(io, { serial, released, previousDomainId: released ? before.domainId : null });
      else io.stdout.write(released ? `released ${serial} (was claimed by domain ${before.domainId})\n` : `${serial} had no active claim\n`);
      return 0;
    } finally {
      await store.close();
      await keyStore.close();
    }
  },
};

export const MASA_COMMANDS: readonly Command[] = [masaServe, masaForceRelease];
