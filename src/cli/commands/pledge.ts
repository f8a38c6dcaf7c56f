/**
 * `rootline pledge`: runs the BRSKI pledge (src/onboarding/pledge) from a factory-minted IDevID
 * directory against a registrar: voucher, EST enrollment, status telemetry; then (unless
 * --enroll-only) LwM2M bootstrap with the LDevID and registration, staying registered until
 * Ctrl-C (or io.shutdown). Prints a summary or JSON (never key material); the new LDevID key goes
 * to a file with mode 0600.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { onboardDevice, pledgeResultJson, runPledge, type OnboardStep } from '../../onboarding/pledge/index.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

const options = {
  idevid: { type: 'string' },
  registrar: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  'max-pending-attempts': { type: 'string' },
  'enroll-only': { type: 'boolean' },
  bootstrap: { type: 'string' },
  'bootstrap-cert': { type: 'string' },
} as const satisfies OptionSpec;

function bootstrapUri(command: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(command, `--bootstrap: not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'coaps:' || url.hostname === '' || url.port === '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new UsageError(command, `--bootstrap: expected coaps://host:port, got ${JSON.stringify(raw)}`);
  }
  return `coaps://${url.host}`;
}

/** Resolves on io.shutdown's abort or on SIGINT/SIGTERM (the first one; a second ends the process). */
function untilShutdown(io: CliIo): { requested: Promise<string>; dispose(): void } {
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

function registrarUrl(command: string, raw: string | undefined): string {
  if (raw === undefined) throw new UsageError(command, 'missing --registrar <url>');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(command, `--registrar: not a URL: ${JSON.stringify(raw)}`);
  }
  // RFC 8995 §5.1: the pledge talks to the registrar over TLS only (or DTLS: coaps://, RFC 9148).
  if (url.protocol !== 'https:' && url.protocol !== 'coaps:') throw new UsageError(command, `--registrar: expected an https:// URL (or coaps:// for CoAPs), got ${JSON.stringify(raw)}`);
  if (url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) throw new UsageError(command, '--registrar: expected https://host:port or coaps://host:port with no path, query or fragment');
  // URL.origin is "null" for coaps: (not a special scheme), so it is rebuilt.
  return url.protocol === 'coaps:' ? `coaps://${url.host}` : url.origin;
}

export const pledge: Command = {
  name: 'pledge',
  summary: 'onboard this device: BRSKI voucher + EST enrollment against a registrar',
  help: `Usage: rootline pledge --idevid <dir> --registrar <url> [--out <dir>] [--enroll-only]
                      [--bootstrap <coaps-url> [--bootstrap-cert <pem>]] [--json]

Zero-touch onboarding. Takes a device from its factory identity to an operational certificate
(LDevID) of the domain whose registrar claims it (RFC 8995): voucher request with proximity,
voucher checked against the MASA anchor, registrar pinned, EST simpleenroll with a fresh P-256
key, status telemetry. Then LwM2M client-initiated bootstrap over CoAPs with the LDevID as DTLS
client certificate (at the bootstrap server the registrar names over a TLS session authenticated
by the pinned domain), registration with the LwM2M server it provisions, and the device stays
registered (answering the server) until Ctrl-C, when it de-registers.
  --idevid <dir>               directory with idevid.pem, idevid.key, idevid-chain.pem, masa-ca.pem
                               (what 'rootline factory mint' writes)
  --registrar <url>            https://host:port of the registrar (rootline serve's EST listener),
                               or coaps://host:port for constrained BRSKI + EST-coaps (RFC 9148;
                               serve's brski-coaps listener): COSE voucher, written as voucher.cose
  --out <dir>                  where ldevid.pem, ldevid-chain.pem, ldevid.key (mode 0600),
                               domain-ca.pem and voucher.cms are written (default: the --idevid
                               directory); existing files are never overwritten
  --enroll-only                stop after EST enrollment (no LwM2M)
  --bootstrap <coaps-url>      bootstrap server to use instead of the one the registrar names
  --bootstrap-cert <pem>       its certificate to pin (default: the one the registrar names)
  --json                       print the result as JSON (no key material)
  --timeout-ms <n>             per-exchange timeout, 100..600000 (default 30000)
  --max-pending-attempts <n>   202 answers (operator approval) waited out, 0..100 (default 10)

Exits 0 when enrolled (--enroll-only) or after a clean de-registration; a refusal prints its code
(ERR_PLEDGE_*, ERR_VOUCHER_*, ERR_EST_*, ERR_PLEDGE_BOOTSTRAP_SERVER, ERR_PLEDGE_LWM2M) and exits 1.
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, options);
    const idevidRaw = str(p, 'idevid');
    if (idevidRaw === undefined) throw new UsageError(this.name, 'missing --idevid <dir>');
    const idevidDir = resolve(io.cwd, idevidRaw);
    if (!existsSync(idevidDir) || !statSync(idevidDir).isDirectory()) throw new UsageError(this.name, `--idevid: ${idevidDir} is not a directory`);
    if (!existsSync(join(idevidDir, 'idevid.pem'))) throw new UsageError(this.name, `--idevid: ${idevidDir} holds no idevid.pem`);
    const url = registrarUrl(this.name, str(p, 'registrar'));
    const outRaw = str(p, 'out');
    const outDir = outRaw === undefined ? idevidDir : resolve(io.cwd, outRaw);
    if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(this.name, `--out: ${outDir} is not a directory`);
    const timeoutMs = intFlag(this.name, p, 'timeout-ms', 100, 600_000);
    const maxPendingAttempts = intFlag(this.name, p, 'max-pending-attempts', 0, 100);
    const json = p.values.json === true;
    const enrollOnly = p.values['enroll-only'] === true;
    const bootstrap = bootstrapUri(this.name, str(p, 'bootstrap'));
    const certRaw = str(p, 'bootstrap-cert');
    if (enrollOnly && (bootstrap !== undefined || certRaw !== undefined)) throw new UsageError(this.name, '--bootstrap and --bootstrap-cert continue to LwM2M; they do not go with --enroll-only');
    if (certRaw !== undefined && bootstrap === undefined) throw new UsageError(this.name, '--bootstrap-cert goes with --bootstrap');
    let bootstrapCert: string | undefined;
    if (certRaw !== undefined) {
      const path = resolve(io.cwd, certRaw);
      if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(this.name, `--bootstrap-cert: ${path} is not a file`);
      bootstrapCert = readFileSync(path, 'utf8');
      if (!bootstrapCert.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(this.name, `--bootstrap-cert: ${path} holds no PEM certificate`);
    }
    // Progress on stderr, so stdout stays the result (JSON with --json).
    const onStep = (step: OnboardStep, detail: Record<string, unknown>): void => {
      if (!json) io.stderr.write(`pledge: ${step}${Object.keys(detail).length > 0 ? ` ${JSON.stringify(detail)}` : ''}\n`);
    };
    const common = {
      idevidDir,
      registrarUrl: url,
      outDir,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(maxPendingAttempts !== undefined ? { maxPendingAttempts } : {}),
      onStep,
    };
    if (enrollOnly) {
      const result = await runPledge(common);
      if (json) writeJson(io, pledgeResultJson(result));
      else io.stdout.write(`enrolled ${result.serialNumber} as ${result.endpoint ?? result.ldevid.certificate.subject}; LDevID in ${join(outDir, 'ldevid.pem')}, key in ${join(outDir, 'ldevid.key')} (0600)\n`);
      return 0;
    }
    // Listening before the flow starts: a Ctrl-C during onboarding still ends in a clean close.
    const shutdown = untilShutdown(io);
    try {
      const onboarded = await onboardDevice({ ...common, ...(bootstrap !== undefined ? { bootstrapUri: bootstrap } : {}), ...(bootstrapCert !== undefined ? { bootstrapServerCertificate: bootstrapCert } : {}) });
      const { client } = onboarded;
      client.on('error', (err) => io.stderr.write(`pledge: lwm2m ${(err as { code?: string }).code ?? 'error'}: ${err.message}\n`));
      if (json) writeJson(io, { ...pledgeResultJson(onboarded.pledge), bootstrap: { uri: onboarded.bootstrap.uri }, registration: { location: client.location ?? null } });
      else io.stdout.write(`onboarded ${onboarded.pledge.serialNumber} as ${onboarded.endpoint}: bootstrapped at ${onboarded.bootstrap.uri}, registered (${client.location ?? '?'}); LDevID in ${join(outDir, 'ldevid.pem')}; Ctrl-C to de-register and exit\n`);
      await shutdown.requested;
      try {
        if (client.registered) await client.deregister();
      } finally {
        await client.close();
      }
      if (!json) io.stderr.write(`pledge: de-registered ${onboarded.endpoint}\n`);
      return 0;
    } finally {
      shutdown.dispose();
    }
  },
};
