/**
 * The manufacturer side of zero-touch onboarding: the manufacturer CA that mints IDevIDs, and the
 * MASA's own signing identity.
 *
 * Trust layout (RFC 8995 §2.3, §7.4.x): the pledge carries two trust anchors from the factory —
 * its IDevID chain (manufacturer CA) to prove who it is, and the MASA's trust anchor to check the
 * voucher. They are separate roots here: the manufacturer CA only ever signs device certificates,
 * and the "MASA CA" only signs the MASA's voucher-signing certificate. So a leaked MASA signing
 * key cannot mint device identities, and the MASA key can be rolled (new EE under the same MASA
 * CA) without touching a single device. Every private key of the factory lives in the KeyStore
 * (software or PKCS#11); only device keys, which leave the factory inside the device, are
 * generated in memory and written out as PKCS#8 for the production line to flash.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyStoreSigner } from '../crypto/signer.js';
import type { KeyStore, Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import { CertificateAuthority, createRootCa, manufacturerCaPolicy, NO_WELL_DEFINED_EXPIRATION, parseCertificate, type CaState, type ParsedCertificate } from '../pki/index.js';
import type { AuditLog } from '../store/types.js';
import { assertString } from '../util/assert.js';
import { DeviceExistsError, FactoryExistsError, FactoryStateError } from './errors.js';
import { SERIAL_NUMBER_PATTERN, type MasaRegistry } from './masa-registry.js';

export const FACTORY_STATE_FILE = 'factory.json';
export const MANUFACTURER_CA_FILE = 'manufacturer-ca.pem';
export const MASA_CA_FILE = 'masa-ca.pem';
export const MASA_CERT_FILE = 'masa.pem';

/** KeyStore labels of the factory keys. */
export const FACTORY_KEY_LABELS = Object.freeze({
  manufacturerCa: 'factory.manufacturer-ca',
  masaCa: 'factory.masa-ca',
  masaSigning: 'factory.masa-signing',
});


interface FactoryStateFile {
  format: 'rootline-factory';
  version: 1;
  manufacturer: string;
  masaUrl: string;
  manufacturerCa: CaState;
  masaCa: CaState;
  masaCertificate: string;
}

export interface InitFactoryOptions {
  keyStore: KeyStore;
  /** Where the factory keeps its state and the public PEM files. */
  directory: string;
  registry: MasaRegistry;
  /** RFC 8995 §2.3.2: the MASA URL written into every IDevID, e.g. 'https://masa.example.com'. */
  masaUrl: string;
  /** Organization name in the CA subjects (default 'rootline manufacturer'). */
  manufacturer?: string;
  audit?: AuditLog;
}

export interface OpenFactoryOptions {
  keyStore: KeyStore;
  directory: string;
  registry: MasaRegistry;
  audit?: AuditLog;
}

export interface MintDeviceOptions {
  serial: string;
  model: string;
  /** Directory to write the device's files into (created; existing IDevID files are not overwritten). */
  outDir: string;
}

export interface MintedDevice {
  serial: string;
  model: string;
  masaUrl: string;
  /** SHA-256 of the IDevID DER, hex. */
  fingerprint: string;
  files: { key: string; certificate: string; chain: string; masaCa: string };
}

/** A factory opened from its directory: mint devices, and hand the MASA its signer and certificate. */
export interface Factory {
  readonly manufacturer: string;
  readonly masaUrl: string;
  readonly manufacturerCaCertificate: ParsedCertificate;
  readonly masaCaCertificate: ParsedCertificate;
  readonly masaCertificate: ParsedCertificate;
  /** The MASA voucher-signing key (in the KeyStore). */
  readonly masaSigner: Signer;
  readonly files: { manufacturerCa: string; masaCa: string; masaCertificate: string };
  mintDevice(options: MintDeviceOptions): Promise<MintedDevice>;
}

function assertMasaUrl(url: unknown): asserts url is string {
  assertString(url, 'masaUrl', { min: 1, max: 2048 });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError('masaUrl', 'expected an absolute URL');
  }
  // RFC 8995 §2.3.2: the extension carries an https URI (the pledge reaches its MASA over TLS).
  if (parsed.protocol !== 'https:') throw new InvalidArgumentError('masaUrl', 'expected an https:// URL (RFC 8995 §2.3.2)');
}

function writeAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

/** Creates the manufacturer CA, the MASA CA and the MASA signing certificate; refuses an existing factory. */
export async function initFactory(options: InitFactoryOptions): Promise<Factory> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  assertString(options.directory, 'directory', { min: 1, max: 4096 });
  assertMasaUrl(options.masaUrl);
  const manufacturer = options.manufacturer ?? 'rootline manufacturer';
  assertString(manufacturer, 'manufacturer', { min: 1, max: 64 });
  const statePath = join(options.directory, FACTORY_STATE_FILE);
  if (existsSync(statePath)) throw new FactoryExistsError(`a factory exists in ${options.directory} already`);
  for (const label of Object.values(FACTORY_KEY_LABELS)) {
    if (await options.keyStore.hasKey(label)) throw new FactoryExistsError(`the key store holds ${label} already; refusing to create a second factory over it`);
  }
  mkdirSync(options.directory, { recursive: true, mode: 0o700 });

  const signers: Signer[] = [];
  for (const label of Object.values(FACTORY_KEY_LABELS)) {
    await options.keyStore.generateKey(label, 'ec-p256');
    signers.push(await keyStoreSigner(options.keyStore, label));
  }
  const [mcaSigner, masaCaSigner, masaSigner] = signers as [Signer, Signer, Signer];
  // 802.1AR §8.5: device identities have no well-defined end; the CA that vouches for them must
  // live as long (pathLen 0: it signs devices, never another CA).
  const manufacturerCa = await createRootCa({ signer: mcaSigner, subject: { CN: `${manufacturer} IDevID CA`, O: manufacturer }, notAfter: NO_WELL_DEFINED_EXPIRATION, pathLen: 0 });
  const masaCa = await createRootCa({ signer: masaCaSigner, subject: { CN: `${manufacturer} MASA CA`, O: manufacturer }, validityDays: 365 * 30, pathLen: 0 });
  const masaCert = await masaCa.issueCertificate({
    subject: { CN: `${manufacturer} MASA`, O: manufacturer },
    publicKey: masaSigner.publicKey,
    validity: { days: 365 * 10 },
    keyUsage: ['digitalSignature'],
  });
  const state: FactoryStateFile = {
    format: 'rootline-factory',
    version: 1,
    manufacturer,
    masaUrl: options.masaUrl,
    manufacturerCa: manufacturerCa.state,
    masaCa: masaCa.state,
    masaCertificate: masaCert.pem,
  };
  writeAtomic(join(options.directory, MANUFACTURER_CA_FILE), manufacturerCa.chainPem);
  writeAtomic(join(options.directory, MASA_CA_FILE), masaCa.chainPem);
  writeAtomic(join(options.directory, MASA_CERT_FILE), masaCert.pem + masaCa.chainPem);
  writeAtomic(statePath, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  await options.audit?.append({
    actor: 'system',
    action: 'factory.init',
    subject: manufacturer,
    outcome: 'success',
    details: { manufacturerCa: manufacturerCa.certificate.fingerprint256, masaCa: masaCa.certificate.fingerprint256, masa: masaCert.certificate.fingerprint256, masaUrl: options.masaUrl },
  });
  return openFactory(options);
}

function readState(directory: string): FactoryStateFile {
  const path = join(directory, FACTORY_STATE_FILE);
  if (!existsSync(path)) throw new FactoryStateError(`no factory in ${directory} (run 'rootline factory init')`);
  let state: FactoryStateFile;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as FactoryStateFile;
  } catch (err) {
    throw new FactoryStateError(`${path} is not valid JSON`, { cause: err });
  }
  if (state?.format !== 'rootline-factory' || state.version !== 1 || typeof state.masaUrl !== 'string' || typeof state.masaCertificate !== 'string') {
    throw new FactoryStateError(`${path} is not a rootline factory state file (version 1)`);
  }
  return state;
}

/** Opens an existing factory; its CA keys must be in `keyStore`. */
export async function openFactory(options: OpenFactoryOptions): Promise<Factory> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  assertString(options.directory, 'directory', { min: 1, max: 4096 });
  const { directory, keyStore, registry, audit } = options;
  const state = readState(directory);
  const manufacturerCa = CertificateAuthority.open(await keyStoreSigner(keyStore, FACTORY_KEY_LABELS.manufacturerCa), state.manufacturerCa);
  const masaCa = CertificateAuthority.open(await keyStoreSigner(keyStore, FACTORY_KEY_LABELS.masaCa), state.masaCa);
  const masaSigner = await keyStoreSigner(keyStore, FACTORY_KEY_LABELS.masaSigning);
  const masaCertificate = parseCertificate(state.masaCertificate);
  if (Buffer.compare(Buffer.from(masaCertificate.publicKey), Buffer.from(masaSigner.publicKey)) !== 0) {
    throw new FactoryStateError('the MASA certificate does not certify the MASA signing key in the key store');
  }
  const files = {
    manufacturerCa: join(directory, MANUFACTURER_CA_FILE),
    masaCa: join(directory, MASA_CA_FILE),
    masaCertificate: join(directory, MASA_CERT_FILE),
  };
  // Mints mutate the CA state (issued serials); one at a time keeps the state file consistent.
  let queue: Promise<unknown> = Promise.resolve();

  async function mint(opts: MintDeviceOptions): Promise<MintedDevice> {
    if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError('options', 'expected an object');
    assertString(opts.serial, 'serial', { pattern: SERIAL_NUMBER_PATTERN });
    assertString(opts.model, 'model', { min: 1, max: 128 });
    if ([...opts.model].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new InvalidArgumentError('model', 'must not contain control characters');
    assertString(opts.outDir, 'outDir', { min: 1, max: 4096 });
    if ((await registry.getDevice(opts.serial)) !== undefined) throw new DeviceExistsError(opts.serial);
    const out = {
      key: join(opts.outDir, 'idevid.key'),
      certificate: join(opts.outDir, 'idevid.pem'),
      chain: join(opts.outDir, 'idevid-chain.pem'),
      masaCa: join(opts.outDir, MASA_CA_FILE),
    };
    // Checked before anything is issued, so a reused directory leaves nothing half-created.
    const taken = Object.values(out).find((f) => existsSync(f));
    if (taken !== undefined) throw new InvalidArgumentError('outDir', `${taken} exists already; refusing to overwrite another device's files`);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const issued = await manufacturerCaPolicy.issueIdevid(manufacturerCa, {
      serialNumber: opts.serial,
      subject: { CN: `${opts.model} ${opts.serial}`, O: state.manufacturer },
      publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
      masaUrl: state.masaUrl,
    });
    state.manufacturerCa = manufacturerCa.state;
    writeAtomic(join(directory, FACTORY_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, 0o600);
    // Files first, then the registry: the registry is the MASA's word that this device exists,
    // so it must never name a device whose key never reached the line. A failure after the
    // files removes them again; what remains is the CA's record that the certificate was
    // issued (a log, refused by the MASA since the registry does not know it).
    mkdirSync(opts.outDir, { recursive: true, mode: 0o700 });
    const written: string[] = [];
    const write = (path: string, text: string, mode: number): void => {
      // 'wx': never overwrite another device's key in a reused directory.
      writeFileSync(path, text, { mode, flag: 'wx' });
      written.push(path);
    };
    try {
      write(out.key, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
      write(out.certificate, issued.pem, 0o644);
      write(out.chain, issued.pem + manufacturerCa.chainPem, 0o644);
      write(out.masaCa, masaCa.chainPem, 0o644);
      await registry.addDevice({
        serial: opts.serial,
        model: opts.model,
        idevidFingerprint: issued.certificate.fingerprint256,
        ...(issued.certificate.authorityKeyIdentifier !== undefined ? { idevidIssuerKeyId: issued.certificate.authorityKeyIdentifier } : {}),
        // cBRSKI §9.2.2: the MASA verifies certificate-less constrained requests with it.
        idevid: Buffer.from(issued.certificate.der).toString('base64'),
        mintedAt: new Date().toISOString(),
      });
    } catch (err) {
      for (const f of written) rmSync(f, { force: true });
      throw err;
    }
    await audit?.append({
      actor: 'system',
      action: 'factory.mint',
      subject: opts.serial,
      outcome: 'success',
      details: { model: opts.model, fingerprint: issued.certificate.fingerprint256, certificateSerial: issued.serialNumber },
    });
    return { serial: opts.serial, model: opts.model, masaUrl: state.masaUrl, fingerprint: issued.certificate.fingerprint256, files: out };
  }

  return {
    manufacturer: state.manufacturer,
    masaUrl: state.masaUrl,
    manufacturerCaCertificate: manufacturerCa.certificate,
    masaCaCertificate: masaCa.certificate,
    masaCertificate,
    masaSigner,
    files,
    mintDevice(opts) {
      const run = queue.then(() => mint(opts));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}
