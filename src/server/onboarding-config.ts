/**
 * The `onboarding` section of the config file: whether `rootline serve` runs the BRSKI registrar
 * (and the MASA), which manufacturers it trusts and how it decides. File-only (a list of CA files
 * does not fit an environment variable); `--masa` on `serve` turns the in-process MASA on.
 *
 * Onboarding is off unless this section is present (or `--masa` is given): the EST/BRSKI
 * listener then does not start, because a registrar without trusted manufacturers could only
 * refuse, and an open port that can only refuse is attack surface without a use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseCertificate, parsePem, type ParsedCertificate } from '../pki/index.js';
import { ConfigError, type ConfigSource } from './errors.js';

export interface OnboardingManufacturerConfig {
  /** Absolute path of the manufacturer CA (the IDevID trust anchor, manufacturer-ca.pem). */
  caFile: string;
  /** Absolute path of the MASA voucher trust anchor; default masa-ca.pem beside caFile (as `factory init` writes them). */
  masaCaFile: string;
  /** Overrides the MASA URL the IDevIDs carry. */
  masaUrl?: string;
  /** Trust anchor(s) for the MASA's HTTPS server certificate, for a MASA reached over the network. */
  masaTlsCaFile?: string;
}

export interface OnboardingConfig {
  /** Run the MASA of the factory in <data>/factory in this process (`--masa`). */
  masa: boolean;
  manufacturers: OnboardingManufacturerConfig[];
  /** 'manual' (default): pledges no list names wait for an operator; 'automatic': any pledge of a trusted manufacturer. */
  approval: 'automatic' | 'manual';
  /** Just-works owner transfer (src/onboarding/just-works.ts); off by default. */
  justWorks?: boolean;
  serials?: string[];
  models?: string[];
  /** Retry-After for pending pledges, seconds (default 30). */
  retryAfterSeconds?: number;
  /** The LwM2M server URI written into onboarded devices' bootstrap configuration (default coaps://<device host>:<coaps port>). */
  lwm2mUri?: string;
  /**
   * UDP port of the registrar's own CoAPs listener (EST-coaps, RFC 9148, and constrained BRSKI)
   * on the device host; 0 picks a free port. Absent: no CoAPs registrar (HTTPS only).
   */
  coapsPort?: number;
}

const KEYS = ['masa', 'manufacturers', 'approval', 'serials', 'models', 'retryAfterSeconds', 'lwm2mUri', 'justWorks', 'coapsPort'];
const MANUFACTURER_KEYS = ['caFile', 'masaCaFile', 'masaUrl', 'masaTlsCaFile'];

function fail(where: string, source: ConfigSource, message: string): never {
  throw new ConfigError('onboarding', source, `invalid setting onboarding${where} in ${source === 'file' ? 'config file' : source}: ${message}`);
}

function certificateFile(raw: unknown, baseDir: string, where: string, source: ConfigSource): { path: string; certificates: ParsedCertificate[] } {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 4096 || raw.includes('\0')) fail(where, source, 'expected a file path');
  const path = isAbsolute(raw) ? raw : resolve(baseDir, raw);
  let certificates: ParsedCertificate[];
  try {
    certificates = parsePem(readFileSync(path, 'utf8'), {}).filter((b) => b.label === 'CERTIFICATE').map((b) => parseCertificate(b.der));
  } catch (err) {
    return fail(where, source, `${path} is not a readable PEM certificate file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (certificates.length === 0) fail(where, source, `${path} holds no certificate`);
  return { path, certificates };
}

function httpsUrl(raw: unknown, where: string, source: ConfigSource): string {
  let url: URL | undefined;
  try {
    url = typeof raw === 'string' && raw.length <= 2048 ? new URL(raw) : undefined;
  } catch {
    url = undefined;
  }
  // RFC 8995 §2.3.2: the MASA is reached over https only.
  if (url === undefined || url.protocol !== 'https:') fail(where, source, 'expected an https:// URL');
  return raw as string;
}

function stringList(raw: unknown, where: string, source: ConfigSource): string[] {
  if (!Array.isArray(raw) || raw.length > 10_000 || !raw.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 256)) fail(where, source, 'expected a list of non-empty strings');
  return raw as string[];
}

/** Checks the file's `onboarding` object (relative paths against the file's directory). */
export function parseOnboardingConfig(raw: unknown, baseDir: string, source: ConfigSource = 'file'): OnboardingConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('', source, 'expected an object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) fail(`.${k}`, source, `unknown setting; known settings are ${KEYS.join(', ')}`);
  if (o.masa !== undefined && typeof o.masa !== 'boolean') fail('.masa', source, 'expected true or false');
  const out: OnboardingConfig = { masa: o.masa === true, manufacturers: [], approval: 'manual' };
  // Just-works owner transfer authenticates nobody: off unless asked for, and then per-device operator approval.
  if (o.justWorks !== undefined && typeof o.justWorks !== 'boolean') fail('.justWorks', source, 'expected true or false');
  if (o.justWorks === true) out.justWorks = true;
  if (o.approval !== undefined) {
    if (o.approval !== 'automatic' && o.approval !== 'manual') fail('.approval', source, 'expected "automatic" or "manual"');
    out.approval = o.approval;
  }
  if (o.manufacturers !== undefined) {
    if (!Array.isArray(o.manufacturers) || o.manufacturers.length > 64) fail('.manufacturers', source, 'expected a list of up to 64 { caFile, masaCaFile?, masaUrl?, masaTlsCaFile? }');
    out.manufacturers = o.manufacturers.map((m, i) => {
      const where = `.manufacturers[${i}]`;
      if (m === null || typeof m !== 'object' || Array.isArray(m)) fail(where, source, 'expected an object');
      const e = m as Record<string, unknown>;
      for (const k of Object.keys(e)) if (!MANUFACTURER_KEYS.includes(k)) fail(`${where}.${k}`, source, `unknown setting; known settings are ${MANUFACTURER_KEYS.join(', ')}`);
      const ca = certificateFile(e.caFile, baseDir, `${where}.caFile`, source);
      const masaCaRaw = e.masaCaFile ?? join(dirname(ca.path), 'masa-ca.pem');
      if (e.masaCaFile === undefined && !existsSync(masaCaRaw as string)) fail(`${where}.masaCaFile`, source, `not given and ${String(masaCaRaw)} does not exist`);
      const entry: OnboardingManufacturerConfig = { caFile: ca.path, masaCaFile: certificateFile(masaCaRaw, baseDir, `${where}.masaCaFile`, source).path };
      if (e.masaUrl !== undefined) entry.masaUrl = httpsUrl(e.masaUrl, `${where}.masaUrl`, source);
      if (e.masaTlsCaFile !== undefined) entry.masaTlsCaFile = certificateFile(e.masaTlsCaFile, baseDir, `${where}.masaTlsCaFile`, source).path;
      return entry;
    });
  }
  if (o.serials !== undefined) out.serials = stringList(o.serials, '.serials', source);
  if (o.models !== undefined) out.models = stringList(o.models, '.models', source);
  if (o.retryAfterSeconds !== undefined) {
    const n = o.retryAfterSeconds;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 86_400) fail('.retryAfterSeconds', source, 'expected an integer 1..86400');
    out.retryAfterSeconds = n;
  }
  if (o.lwm2mUri !== undefined) {
    if (typeof o.lwm2mUri !== 'string' || !/^coaps:\/\/[^\s/]{1,250}$/.test(o.lwm2mUri)) fail('.lwm2mUri', source, 'expected coaps://host:port');
    out.lwm2mUri = o.lwm2mUri;
  }
  if (o.coapsPort !== undefined) {
    const n = o.coapsPort;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65_535) fail('.coapsPort', source, 'expected a port number 0..65535 (0: any free port)');
    out.coapsPort = n;
  }
  return out;
}
