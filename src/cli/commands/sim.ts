/**
 * `rootline sim`: the fleet simulator from the command line. Creates its devices' PSK
 * credentials through the API (or loads them from a file), runs them against the server's
 * CoAPs listener, prints progress once a second and a summary at the end, and de-registers its
 * devices before it exits.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Fleet, generateCredentials, loadCredentialsFile, openFileLimit, provisionCredentials, type FleetProgress, type FleetSummary, type SimCredential } from '../../sim/index.js';
import { parseFaultSpec, type FaultSpec, type FleetFirmwareSummary, type SimFirmwareOptions } from '../../sim/firmware.js';
import { loadSimFirmware } from '../../sim/firmware-setup.js';
import { resolveApiUrl } from '../api-client.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { UsageError } from '../errors.js';
import { runSimOnboard, simOnboardHelp } from './sim-onboard.js';
import type { CliIo } from '../io.js';

const NAME = 'sim';
const MAX_DEVICES = 100_000;
const PREFIX = /^[A-Za-z0-9._:@+=~-]{1,100}$/;
// The API's shortText rule (src/api/schemas.ts): 1..64 characters without control characters.
const SHORT_TEXT = /^[^\p{Cc}]{1,64}$/u;

const options = {
  server: { type: 'string' },
  api: { type: 'string' },
  devices: { type: 'string' },
  model: { type: 'string' },
  'firmware-version': { type: 'string' },
  duration: { type: 'string' },
  rate: { type: 'string' },
  lifetime: { type: 'string' },
  prefix: { type: 'string' },
  'credentials-file': { type: 'string' },
  'save-credentials': { type: 'string' },
  json: { type: 'boolean' },
  firmware: { type: 'string' },
  'signing-key': { type: 'string' },
  vendor: { type: 'string' },
  'firmware-sequence': { type: 'string' },
  faults: { type: 'string' },
  'fault-seed': { type: 'string' },
} as const satisfies OptionSpec;

/** A DNS name, as the API's vendor rule (the SUIT vendor ID is UUID5(DNS, vendor)). */
const VENDOR = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

interface FirmwareArgs {
  imageFile: string;
  signingKeyFile: string | undefined;
  vendor: string;
  sequence: number | undefined;
  faults: FaultSpec;
  faultSeed: string;
}

function firmwareArgs(parsed: ReturnType<typeof parseCommandArgs>, io: CliIo): FirmwareArgs | undefined {
  const image = str(parsed, 'firmware');
  if (image === undefined) {
    for (const f of ['signing-key', 'vendor', 'firmware-sequence', 'faults', 'fault-seed']) if (str(parsed, f) !== undefined) throw new UsageError(NAME, `--${f} needs --firmware <image-file>`);
    return undefined;
  }
  const vendor = str(parsed, 'vendor') ?? 'rootline.invalid';
  if (!VENDOR.test(vendor)) throw new UsageError(NAME, `--vendor: expected a DNS name, got ${JSON.stringify(vendor)}`);
  const faultsText = str(parsed, 'faults');
  let faults: FaultSpec = {};
  if (faultsText !== undefined) {
    try {
      faults = parseFaultSpec(faultsText);
    } catch (err) {
      throw new UsageError(NAME, `--${(err as Error).message}`);
    }
  }
  const faultSeed = str(parsed, 'fault-seed') ?? 'rootline-sim';
  if (!SHORT_TEXT.test(faultSeed)) throw new UsageError(NAME, '--fault-seed: expected 1..64 characters without control characters');
  const signingKey = str(parsed, 'signing-key');
  return {
    imageFile: resolve(io.cwd, image),
    signingKeyFile: signingKey === undefined ? undefined : resolve(io.cwd, signingKey),
    vendor,
    sequence: intFlag(NAME, parsed, 'firmware-sequence', 0, Number.MAX_SAFE_INTEGER),
    faults,
    faultSeed,
  };
}

interface SimArgs {
  server: string;
  api: URL;
  devices: number | undefined;
  model: string;
  firmwareVersion: string;
  durationSeconds: number | undefined;
  rate: number;
  lifetime: number;
  prefix: string;
  credentialsFile: string | undefined;
  saveCredentials: string | undefined;
  json: boolean;
  firmware: FirmwareArgs | undefined;
}

function coapsUrl(raw: string | undefined): string {
  if (raw === undefined) throw new UsageError(NAME, 'missing --server <coaps-url>');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(NAME, `--server: not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'coaps:') throw new UsageError(NAME, `--server: expected a coaps:// URL (devices use DTLS-PSK), got ${JSON.stringify(raw)}`);
  if (url.hostname === '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new UsageError(NAME, `--server: expected coaps://host[:port] only, got ${JSON.stringify(raw)}`);
  }
  return `coaps://${url.host}${url.port === '' ? ':5684' : ''}`;
}

function text(parsed: ReturnType<typeof parseCommandArgs>, flag: string, fallback: string): string {
  const v = str(parsed, flag) ?? fallback;
  if (!SHORT_TEXT.test(v)) throw new UsageError(NAME, `--${flag}: expected 1..64 characters without control characters`);
  return v;
}

function parse(args: string[], io: CliIo): SimArgs {
  const parsed = parseCommandArgs(NAME, args, options);
  const server = coapsUrl(str(parsed, 'server'));
  const credentialsFile = str(parsed, 'credentials-file');
  const devices = intFlag(NAME, parsed, 'devices', 1, MAX_DEVICES);
  if (devices === undefined && credentialsFile === undefined) throw new UsageError(NAME, 'missing --devices <n> (or --credentials-file <file>)');
  const saveCredentials = str(parsed, 'save-credentials');
  if (saveCredentials !== undefined && credentialsFile !== undefined) throw new UsageError(NAME, '--save-credentials is for generated credentials, not with --credentials-file');
  const rateText = str(parsed, 'rate');
  let rate = 200;
  if (rateText !== undefined) {
    if (!/^[0-9]{1,7}(\.[0-9]{1,3})?$/.test(rateText) || Number(rateText) <= 0 || Number(rateText) > 1_000_000) {
      throw new UsageError(NAME, `--rate: expected devices per second, 0 < R <= 1000000, got ${JSON.stringify(rateText)}`);
    }
    rate = Number(rateText);
  }
  const prefix = str(parsed, 'prefix') ?? `sim-${randomBytes(3).toString('hex')}`;
  if (!PREFIX.test(prefix)) throw new UsageError(NAME, `--prefix: expected 1..100 of A-Z a-z 0-9 . _ : @ + = ~ -, got ${JSON.stringify(prefix)}`);
  return {
    server,
    api: resolveApiUrl(NAME, str(parsed, 'api'), io.env),
    devices,
    model: text(parsed, 'model', 'sim'),
    firmwareVersion: text(parsed, 'firmware-version', '1.0.0'),
    durationSeconds: intFlag(NAME, parsed, 'duration', 0, 365 * 86_400),
    rate,
    lifetime: intFlag(NAME, parsed, 'lifetime', 1, 365 * 86_400) ?? 300,
    prefix,
    credentialsFile: credentialsFile === undefined ? undefined : resolve(io.cwd, credentialsFile),
    saveCredentials: saveCredentials === undefined ? undefined : resolve(io.cwd, saveCredentials),
    json: parsed.values.json === true,
    firmware: firmwareArgs(parsed, io),
  };
}

async function credentialsFor(a: SimArgs, io: CliIo, say: (line: string) => void): Promise<SimCredential[]> {
  if (a.credentialsFile !== undefined) {
    const all = await loadCredentialsFile(a.credentialsFile);
    if (a.devices !== undefined && a.devices > all.length) throw new UsageError(NAME, `--devices ${a.devices}: ${a.credentialsFile} holds only ${all.length} credentials`);
    return all.slice(0, a.devices ?? all.length);
  }
  const creds = generateCredentials(a.prefix, a.devices!);
  const t0 = performance.now();
  let lastSaid = t0;
  await provisionCredentials(creds, {
    api: a.api.href,
    model: a.model,
    firmwareVersion: a.firmwareVersion,
    fetch: io.fetch,
    onProvisioned: (done) => {
      const now = performance.now();
      if (now - lastSaid >= 1000) {
        lastSaid = now;
        say(`sim: provisioned ${done}/${creds.length}`);
      }
    },
  });
  say(`sim: provisioned ${creds.length} devices through ${a.api.origin} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (a.saveCredentials !== undefined) {
    const json = JSON.stringify(creds.map((c) => ({ endpoint: c.endpoint, identity: c.identity, key: Buffer.from(c.key).toString('hex') })));
    // Keys in clear: readable by the owner only, and never overwriting someone's file.
    await writeFile(a.saveCredentials, `${json}\n`, { mode: 0o600, flag: 'wx' });
    say(`sim: credentials saved to ${a.saveCredentials}`);
  }
  return creds;
}

function progressLine(p: FleetProgress): string {
  return `sim: ${p.elapsedSeconds.toFixed(1)}s started ${p.started} registered ${p.registered} (+${p.registeredPerSecond}/s) failed ${p.failed} (+${p.failedPerSecond}/s) notifications ${p.notificationsPerSecond}/s`;
}

function summaryText(s: FleetSummary, deregistered: number): string {
  const pct = (p: FleetSummary['handshakeMs']): string => `p50 ${p.p50} ms, p90 ${p.p90} ms, p99 ${p.p99} ms, max ${p.max} ms`;
  const reasons = Object.entries(s.failedByReason).map(([r, n]) => `    ${r}: ${n}`);
  return [
    `devices:             ${s.devices}`,
    `registered:          ${s.registered} (${s.registrationsPerSecond}/s over the ramp)`,
    `failed:              ${s.failed}`,
    ...reasons,
    `handshake time:      ${pct(s.handshakeMs)}`,
    `registration time:   ${pct(s.registrationMs)}`,
    `updates:             ${s.updates} (${s.updateErrors} failed, retried by the SDK)`,
    `notifications sent:  ${s.notificationsSent}`,
    `reads answered:      ${s.readsAnswered}`,
    `de-registered:       ${deregistered} of ${s.stillRegistered} still registered`,
    `elapsed:             ${s.elapsedSeconds} s`,
    '',
  ].join('\n');
}

function firmwareText(f: FleetFirmwareSummary): string {
  const list = (r: Record<string, number>): string => Object.entries(r).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none';
  return [
    `firmware updates:    ${f.updated} updated of ${f.asked} asked (${f.inProgress} in progress, ${f.resumed} resumed a download)`,
    `  failed by result:  ${list(f.failedByResult)}`,
    `  faults injected:   ${list(f.faultsInjected)}`,
    '',
  ].join('\n');
}

/** Resolves after `seconds` (undefined: never), or when the run is asked to stop. */
function holdFor(seconds: number | undefined, stop: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const finish = (): void => {
      clearTimeout(timer);
      stop.removeEventListener('abort', finish);
      done();
    };
    const timer = seconds === undefined ? undefined : setTimeout(finish, seconds * 1000);
    if (stop.aborted) finish();
    else stop.addEventListener('abort', finish, { once: true });
  });
}

/** io.shutdown, or SIGINT/SIGTERM when the caller gave none. */
function stopSignal(io: CliIo): { signal: AbortSignal; dispose(): void } {
  if (io.shutdown !== undefined) return { signal: io.shutdown, dispose: () => undefined };
  const ac = new AbortController();
  const on = (): void => ac.abort();
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

export const sim: Command = {
  name: 'sim',
  summary: 'run a fleet of simulated LwM2M devices (DTLS-PSK) against a server',
  help: `Usage: rootline sim --server <coaps-url> --devices <n> [options]

Runs N simulated devices in this process, each with its own UDP socket, DTLS-PSK session and
credentials. Credentials are created through the API (POST /api/v1/devices) unless
--credentials-file names devices provisioned before. Devices register (model in /3/0/1, firmware
version in /3/0/3), send Updates at 90 % of their lifetime, answer Reads and Observes, and their
clock /3/0/13 moves every second, so observers get notifications. Progress is printed once a
second; the summary when the run ends (after --duration, or on Ctrl-C), after which every device
de-registers. Exit 0 when every device registered, 1 when any failed.

Options:
  --server <coaps-url>        the server's CoAPs listener, e.g. coaps://127.0.0.1:5684 (required)
  --api <url>                 rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)
  --devices <n>               devices to run, 1..${MAX_DEVICES} (default: all in --credentials-file)
  --model <m>                 device model (default sim)
  --firmware-version <v>      firmware version (default 1.0.0)
  --duration <s>              seconds to keep the fleet up after the ramp (default: until Ctrl-C)
  --rate <r>                  devices started per second (default 200)
  --lifetime <s>              registration lifetime in seconds (default 300)
  --prefix <p>                endpoint names <p>-<n> (default sim-<random>)
  --credentials-file <file>   JSON [{endpoint, identity, key (hex)}] of provisioned devices
  --save-credentials <file>   write the generated credentials there (mode 600; keys in clear)
  --json                      print the summary as JSON on stdout (progress goes to stderr)

Firmware over the air (each device gets the SDK's updater: SUIT checks, CoAPs Block2 pull with
resume, delta apply into an A/B spare slot, trial boot, rollback):
  --firmware <image-file>     the image every device runs at start (its version: --firmware-version)
  --signing-key <pem>         firmware-signing public key devices trust (default: fetched from the
                              API, GET /api/v1/firmware/signing-key; 'rootline firmware signing-key')
  --vendor <domain>           SUIT vendor the images were uploaded with (default rootline.invalid)
  --firmware-sequence <n>     SUIT sequence of the running image (default: looked up in the API's
                              firmware catalog by the image's SHA-256)
  --faults <spec>             per-device faults, e.g. corrupt=2%,signature=1%,power-loss=1%,
                              boot-failure=1%,connection-loss=3 (a percentage or a device count);
                              corrupt/signature end in Update Result 5, power-loss/boot-failure in 8,
                              connection-loss resumes and updates
  --fault-seed <s>            which devices get which fault (default rootline-sim; same seed, same devices)

Each device needs one file descriptor: 10,000 devices need 'ulimit -n' above about 10,100.

Zero-touch onboarding (BRSKI voucher + EST + LwM2M bootstrap + register from factory IDevIDs):
${simOnboardHelp}`,
  async run(args: string[], io: CliIo): Promise<number> {
    if (args.includes('--onboard')) return runSimOnboard(args.filter((x) => x !== '--onboard'), io);
    const a = parse(args, io);
    // With --json, stdout carries only the summary.
    const say = (line: string): void => void (a.json ? io.stderr : io.stdout).write(`${line}\n`);
    let firmware: SimFirmwareOptions | undefined;
    if (a.firmware !== undefined) {
      const f = a.firmware;
      const loaded = await loadSimFirmware({ imageFile: f.imageFile, api: a.api.href, model: a.model, vendor: f.vendor, fetch: io.fetch, ...(f.signingKeyFile !== undefined ? { signingKeyFile: f.signingKeyFile } : {}), ...(f.sequence !== undefined ? { sequence: f.sequence } : {}) });
      firmware = { ...loaded, faults: f.faults, faultSeed: f.faultSeed };
      say(`sim: firmware ${a.firmwareVersion} (${loaded.image.length} bytes, sequence ${loaded.sequence}, vendor ${f.vendor}); trust anchor ${f.signingKeyFile ?? 'from the API'}`);
    }
    const creds = await credentialsFor(a, io, say);
    const fleet = new Fleet({ server: a.server, credentials: creds, model: a.model, firmwareVersion: a.firmwareVersion, rate: a.rate, lifetime: a.lifetime, ...(firmware !== undefined ? { firmware } : {}) });
    if (fleet.firmware !== undefined && fleet.firmware.faults.size > 0) say(`sim: faults injected: ${JSON.stringify(fleet.firmwareSummary()!.faultsInjected)} (seed ${a.firmware!.faultSeed})`);
    const limit = openFileLimit();
    if (limit !== undefined) say(`sim: ${creds.length} devices, open file limit ${limit.soft}`);
    fleet.on('progress', (p) => say(progressLine(p)));
    const stop = stopSignal(io);
    let summary: FleetSummary;
    let deregistered = 0;
    let firmwareSummary: FleetFirmwareSummary | undefined;
    try {
      await fleet.start(stop.signal);
      await holdFor(stop.signal.aborted ? 0 : a.durationSeconds, stop.signal);
    } finally {
      summary = fleet.summary();
      firmwareSummary = fleet.firmwareSummary();
      // stop() never rejects: a device whose De-register goes unanswered is closed all the same.
      ({ deregistered } = await fleet.stop({ deregister: true }));
      stop.dispose();
    }
    if (a.json) writeJson(io, { ...summary, deregistered, ...(firmwareSummary !== undefined ? { firmware: firmwareSummary } : {}) });
    else io.stdout.write(summaryText(summary, deregistered) + (firmwareSummary !== undefined ? firmwareText(firmwareSummary) : ''));
    return summary.failed === 0 && summary.registered === summary.devices ? 0 : 1;
  },
};
