/**
 * `rootline factory init|mint`: the manufacturer side, run on the factory's machine. Both open the
 * data directory directly (key store + store), not a server: a factory line works offline, and
 * the CA keys never travel through an API. The key store is the same software KeyStore
 * `rootline serve` uses, unlocked by the same master key (ROOTLINE_MASTER_KEY or the key file).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KEYSTORE_FILE_NAME, loadMasterKey, openSoftwareKeyStore, parseMasterKey } from '../../crypto/keystore/index.js';
import type { KeyStore } from '../../crypto/keystore/types.js';
import { initFactory, openFactory, type Factory } from '../../onboarding/factory.js';
import { settingsMasaRegistry } from '../../onboarding/masa-registry.js';
import { loadConfig, type ConfigKey } from '../../server/config.js';
import { MASTER_KEY_ENV } from '../../server/server.js';
import { openStore } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import { parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../errors.js';

const common = {
  data: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

interface Opened {
  keyStore: KeyStore;
  store: Store;
  factoryDir: string;
  close(): Promise<void>;
}

/** Opens the data directory's key store and store; on a fresh directory, creates the master key file like `serve` does. */
async function openDataDir(command: string, data: string | undefined, configFile: string | undefined, io: CliIo): Promise<Opened> {
  const flags: Partial<Record<ConfigKey, string>> = {};
  if (data !== undefined) flags.dataDir = data;
  const { config } = loadConfig({ ...(configFile !== undefined ? { configFile } : {}), env: io.env, flags, cwd: io.cwd });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // The command's own environment (io.env), so that tests and embedding callers control it.
  const fromEnv = io.env[MASTER_KEY_ENV];
  let masterKey = fromEnv !== undefined ? parseMasterKey(fromEnv, MASTER_KEY_ENV) : existsSync(config.masterKeyFile) ? loadMasterKey({ file: config.masterKeyFile }) : undefined;
  if (masterKey === undefined && !existsSync(join(config.dataDir, KEYSTORE_FILE_NAME))) {
    const fresh = randomBytes(32);
    writeFileSync(config.masterKeyFile, `${fresh.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    io.stderr.write(`rootline ${command}: generated a new master key in ${config.masterKeyFile}; move it into ${MASTER_KEY_ENV} or your secret storage\n`);
    masterKey = new Uint8Array(fresh);
  }
  const keyStore = await openSoftwareKeyStore({ directory: config.dataDir, ...(masterKey !== undefined ? { masterKey } : {}) });
  let store: Store;
  try {
    store = await openStore(config.storeUrl);
  } catch (err) {
    await keyStore.close();
    throw err;
  }
  return {
    keyStore,
    store,
    factoryDir: resolve(config.dataDir, 'factory'),
    async close() {
      await keyStore.close();
      await store.close();
    },
  };
}

function describeFactory(f: Factory): Record<string, unknown> {
  return {
    manufacturer: f.manufacturer,
    masaUrl: f.masaUrl,
    files: f.files,
    manufacturerCa: { subject: f.manufacturerCaCertificate.subject, fingerprint: f.manufacturerCaCertificate.fingerprint256 },
    masaCa: { subject: f.masaCaCertificate.subject, fingerprint: f.masaCaCertificate.fingerprint256 },
    masa: { subject: f.masaCertificate.subject, fingerprint: f.masaCertificate.fingerprint256, notAfter: f.masaCertificate.notAfter.toISOString() },
  };
}

const initOptions = { ...common, 'masa-url': { type: 'string' }, manufacturer: { type: 'string' } } as const satisfies OptionSpec;

export const factoryInit: Command = {
  name: 'factory init',
  summary: 'create the manufacturer CA and the MASA signing key and certificate',
  help: `Usage: rootline factory init [--data <dir>] [--masa-url <https-url>] [--manufacturer <name>] [--json]

Creates, in <dir>/factory, the manufacturer CA (signs device IDevIDs), the MASA CA and the MASA
voucher-signing certificate. Their keys go into the data directory's key store (unlocked by
ROOTLINE_MASTER_KEY or the master key file); the public files are
  <dir>/factory/manufacturer-ca.pem   trust anchor for IDevIDs (registrars, openssl verify)
  <dir>/factory/masa-ca.pem           trust anchor for vouchers (pledges, openssl cms -verify)
  <dir>/factory/masa.pem              the MASA signing certificate and its chain
Refuses to run twice on the same data directory.
  --data <dir>            data directory (default ./data; env ROOTLINE_DATA)
  --config <file>         take the data directory and store URL from this config file
  --masa-url <url>        MASA URL written into every IDevID (default https://localhost:8443)
  --manufacturer <name>   organization name in the CA subjects (default "rootline manufacturer")
  --json                  print the result as JSON
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, initOptions);
    const opened = await openDataDir(this.name, str(p, 'data'), str(p, 'config'), io);
    try {
      const manufacturer = str(p, 'manufacturer');
      const factory = await initFactory({
        keyStore: opened.keyStore,
        directory: opened.factoryDir,
        registry: settingsMasaRegistry(opened.store.settings),
        masaUrl: str(p, 'masa-url') ?? 'https://localhost:8443',
        ...(manufacturer !== undefined ? { manufacturer } : {}),
        audit: opened.store.audit,
      });
      if (p.values.json === true) writeJson(io, describeFactory(factory));
      else io.stdout.write(`factory created in ${opened.factoryDir}\n  manufacturer CA: ${factory.files.manufacturerCa}\n  MASA CA:         ${factory.files.masaCa}\n  MASA URL:        ${factory.masaUrl}\n`);
      return 0;
    } finally {
      await opened.close();
    }
  },
};

const mintOptions = { ...common, serial: { type: 'string' }, model: { type: 'string' }, out: { type: 'string' } } as const satisfies OptionSpec;

export const factoryMint: Command = {
  name: 'factory mint',
  summary: "mint a device's IDevID (key, certificate, chain) and record it in the MASA",
  help: `Usage: rootline factory mint --serial <SN> --model <M> --out <dir> [--data <dir>] [--json]

Creates a P-256 key pair for the device and its IDevID certificate (subject serialNumber <SN>,
the MASA URL extension of RFC 8995 §2.3.2), signed by the manufacturer CA, and records the
device in the MASA registry. Writes into <out>:
  idevid.key         the device private key (PKCS#8 PEM, mode 0600) — flash it, then delete it
  idevid.pem         the IDevID certificate
  idevid-chain.pem   the IDevID followed by the manufacturer CA
  masa-ca.pem        the MASA trust anchor the pledge verifies vouchers with
Check it with: openssl verify -CAfile <data>/factory/manufacturer-ca.pem <out>/idevid.pem
  --serial <SN>     device serial number (letters, digits, '.', ':', '-'; up to 64)
  --model <M>       device model
  --out <dir>       output directory (existing IDevID files are never overwritten)
  --data <dir>      data directory holding the factory (default ./data; env ROOTLINE_DATA)
  --config <file>   take the data directory and store URL from this config file
  --json            print the result as JSON
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, mintOptions);
    const serial = str(p, 'serial');
    const model = str(p, 'model');
    const out = str(p, 'out');
    if (serial === undefined) throw new UsageError(this.name, 'missing --serial');
    if (model === undefined) throw new UsageError(this.name, 'missing --model');
    if (out === undefined) throw new UsageError(this.name, 'missing --out');
    const opened = await openDataDir(this.name, str(p, 'data'), str(p, 'config'), io);
    try {
      const factory = await openFactory({ keyStore: opened.keyStore, directory: opened.factoryDir, registry: settingsMasaRegistry(opened.store.settings), audit: opened.store.audit });
      const minted = await factory.mintDevice({ serial, model, outDir: resolve(io.cwd, out) });
      if (p.values.json === true) writeJson(io, minted);
      else io.stdout.write(`minted ${minted.serial} (${minted.model}) into ${resolve(io.cwd, out)}\n  fingerprint: ${minted.fingerprint}\n`);
      return 0;
    } finally {
      await opened.close();
    }
  },
};

export const FACTORY_COMMANDS: readonly Command[] = [factoryInit, factoryMint];
