/**
 * `rootline sim --onboard`: a simulated fleet that onboards itself with zero touch (issue 6):
 * each device from its IDevID directory through BRSKI (voucher, EST) to LwM2M bootstrap and
 * registration (src/sim/onboard.ts). Progress once a second, a summary at the end; devices stay
 * registered for --duration seconds (or until Ctrl-C) and de-register before the command exits.
 */
import { resolve } from 'node:path';
import { listIdevidDirs, OnboardFleet, type OnboardFleetSummary, type OnboardProgress } from '../../sim/onboard.js';
import { intFlag, parseCommandArgs, str, writeJson, type OptionSpec } from '../command.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

const NAME = 'sim --onboard';

const options = {
  registrar: { type: 'string' },
  'idevid-dir': { type: 'string' },
  devices: { type: 'string' },
  concurrency: { type: 'string' },
  duration: { type: 'string' },
  'timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

function registrarUrl(raw: string | undefined): string {
  if (raw === undefined) throw new UsageError(NAME, 'missing --registrar <https-url>');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(NAME, `--registrar: not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) throw new UsageError(NAME, `--registrar: expected https://host:port, got ${JSON.stringify(raw)}`);
  return url.origin;
}

function progressLine(p: OnboardProgress): string {
  return `sim: ${p.elapsedSeconds.toFixed(1)}s started ${p.started} onboarded ${p.onboarded} (${p.perMinute}/min) failed ${p.failed} in flight ${p.inFlight}`;
}

function summaryText(s: OnboardFleetSummary, deregistered: number): string {
  const pct = (p: OnboardFleetSummary['latencyMs']): string => `p50 ${p.p50} ms, p95 ${p.p95} ms, p99 ${p.p99} ms, max ${p.max} ms`;
  return [
    `devices:             ${s.devices}`,
    `onboarded:           ${s.onboarded} (${s.perMinute}/min)`,
    `failed:              ${s.failed}`,
    ...Object.entries(s.failedByReason).map(([r, n]) => `    ${r}: ${n}`),
    `onboarding time:     ${pct(s.latencyMs)}`,
    `  voucher:           ${pct(s.stepMs.voucher)}`,
    `  enroll:            ${pct(s.stepMs.enroll)}`,
    `  bootstrap:         ${pct(s.stepMs.bootstrap)}`,
    `  register:          ${pct(s.stepMs.register)}`,
    `de-registered:       ${deregistered}`,
    `elapsed:             ${s.elapsedSeconds} s`,
    '',
  ].join('\n');
}

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

export const simOnboardHelp = `Usage: rootline sim --onboard --idevid-dir <dir> --registrar <https-url> [--devices <n>]
                    [--concurrency <c>] [--duration <s>] [--timeout-ms <n>] [--json]

Zero-touch onboarding of a simulated fleet: every device starts from its factory identity and
runs BRSKI (voucher, EST enrollment for an LDevID), LwM2M bootstrap with the LDevID as DTLS
client certificate, and registration, at most <c> devices at once.
  --idevid-dir <dir>     a directory of IDevID directories (each with idevid.pem, idevid.key,
                         idevid-chain.pem, masa-ca.pem, as 'rootline factory mint --out' writes),
                         or one such directory
  --registrar <url>      https://host:port of the registrar (rootline serve's EST listener)
  --devices <n>          onboard the first n of them (default: all)
  --concurrency <c>      devices onboarding at once, 1..4096 (default 32)
  --duration <s>         stay registered s seconds after the last device, then de-register
                         (default: until Ctrl-C; 0: de-register at once)
  --timeout-ms <n>       per-exchange timeout of the pledge, 100..600000 (default 30000)
  --json                 print the summary as JSON on stdout (progress on stderr)
A device can be onboarded once per domain: a second run with the same IDevIDs is refused by the
registrar (the devices exist already) until they are decommissioned and reset.
Exits 0 when every device onboarded, 1 when any failed.
`;

export async function runSimOnboard(args: string[], io: CliIo): Promise<number> {
  const p = parseCommandArgs(NAME, args, options);
  const registrar = registrarUrl(str(p, 'registrar'));
  const rawDir = str(p, 'idevid-dir');
  if (rawDir === undefined) throw new UsageError(NAME, 'missing --idevid-dir <dir>');
  let dirs: string[];
  try {
    dirs = listIdevidDirs(resolve(io.cwd, rawDir));
  } catch (err) {
    throw new UsageError(NAME, `--idevid-dir: ${(err as Error).message}`);
  }
  if (dirs.length === 0) throw new UsageError(NAME, `--idevid-dir: no IDevID directories (with idevid.pem) in ${resolve(io.cwd, rawDir)}`);
  const devices = intFlag(NAME, p, 'devices', 1, 100_000);
  if (devices !== undefined && devices > dirs.length) throw new UsageError(NAME, `--devices ${devices}: ${rawDir} holds only ${dirs.length} IDevIDs`);
  const concurrency = intFlag(NAME, p, 'concurrency', 1, 4096);
  const duration = intFlag(NAME, p, 'duration', 0, 365 * 86_400);
  const timeoutMs = intFlag(NAME, p, 'timeout-ms', 100, 600_000);
  const json = p.values.json === true;
  const say = (line: string): void => void (json ? io.stderr : io.stdout).write(`${line}\n`);

  const fleet = new OnboardFleet({
    registrarUrl: registrar,
    idevidDirs: dirs.slice(0, devices ?? dirs.length),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  fleet.on('progress', (pr) => say(progressLine(pr)));
  fleet.on('failed', (f) => io.stderr.write(`sim: ${f.idevidDir}: ${f.code}: ${f.message}\n`));
  const stop = stopSignal(io);
  try {
    say(`sim: onboarding ${Math.min(devices ?? dirs.length, dirs.length)} devices through ${registrar}`);
    const done = fleet.start();
    await Promise.race([done, new Promise<void>((r) => (stop.signal.aborted ? r() : stop.signal.addEventListener('abort', () => r(), { once: true })))]);
    if (!stop.signal.aborted && duration !== 0) {
      say(duration === undefined ? 'sim: devices registered; Ctrl-C to de-register and exit' : `sim: staying registered for ${duration} s`);
      await new Promise<void>((r) => {
        const timer = duration === undefined ? undefined : setTimeout(r, duration * 1000);
        stop.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          r();
        }, { once: true });
        if (stop.signal.aborted) r();
      });
    }
    const deregistered = await fleet.stop({ deregister: true });
    const summary = fleet.summary();
    if (json) writeJson(io, { ...summary, deregistered });
    else io.stdout.write(summaryText(summary, deregistered));
    return summary.failed === 0 && summary.onboarded === summary.devices ? 0 : 1;
  } finally {
    stop.dispose();
    await fleet.stop().catch(() => undefined);
  }
}
