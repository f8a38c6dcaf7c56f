/**
 * `rootline pledge`: runs the BRSKI pledge (src/onboarding/pledge) from a factory-minted IDevID
 * directory against a registrar: voucher, EST enrollment, status telemetry. Prints a summary or
 * `pledgeResultJson` (never key material); the new LDevID key goes to a file with mode 0600.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pledgeResultJson, runPledge } from '../../onboarding/pledge/index.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { UsageError } from '../errors.js';

const options = {
  idevid: { type: 'string' },
  registrar: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  'max-pending-attempts': { type: 'string' },
} as const satisfies OptionSpec;

function registrarUrl(command: string, raw: string | undefined): string {
  if (raw === undefined) throw new UsageError(command, 'missing --registrar <url>');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(command, `--registrar: not a URL: ${JSON.stringify(raw)}`);
  }
  // RFC 8995 §5.1: the pledge talks to the registrar over TLS only.
  if (url.protocol !== 'https:') throw new UsageError(command, `--registrar: expected an https:// URL, got ${JSON.stringify(raw)}`);
  if (url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) throw new UsageError(command, '--registrar: expected https://host:port with no path, query or fragment');
  return url.origin;
}

export const pledge: Command = {
  name: 'pledge',
  summary: 'onboard this device: BRSKI voucher + EST enrollment against a registrar',
  help: `Usage: rootline pledge --idevid <dir> --registrar <url> [--out <dir>] [--json]

Takes a device from its factory identity to an operational certificate (LDevID) of the domain
whose registrar claims it (RFC 8995): voucher request with proximity, voucher checked against the
MASA anchor, registrar pinned, EST simpleenroll with a fresh P-256 key, status telemetry.
  --idevid <dir>               directory with idevid.pem, idevid.key, idevid-chain.pem, masa-ca.pem
                               (what 'rootline factory mint' writes)
  --registrar <url>            https://host:port of the registrar (rootline serve's EST listener)
  --out <dir>                  where ldevid.pem, ldevid-chain.pem, ldevid.key (mode 0600),
                               domain-ca.pem and voucher.cms are written (default: the --idevid
                               directory); existing files are never overwritten
  --json                       print the result as JSON (no key material)
  --timeout-ms <n>             per-exchange timeout, 100..600000 (default 30000)
  --max-pending-attempts <n>   202 answers (operator approval) waited out, 0..100 (default 10)

Exits 0 when enrolled; a refusal prints its code (ERR_PLEDGE_*, ERR_VOUCHER_*, ERR_EST_*) and exits 1.
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
    const result = await runPledge({
      idevidDir,
      registrarUrl: url,
      outDir,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(maxPendingAttempts !== undefined ? { maxPendingAttempts } : {}),
      // Progress on stderr, so stdout stays the result (JSON with --json).
      onStep: (step, detail) => {
        if (!json) io.stderr.write(`pledge: ${step}${Object.keys(detail).length > 0 ? ` ${JSON.stringify(detail)}` : ''}\n`);
      },
    });
    if (json) writeJson(io, pledgeResultJson(result));
    else io.stdout.write(`enrolled ${result.serialNumber} as ${result.endpoint ?? result.ldevid.certificate.subject}; LDevID in ${join(outDir, 'ldevid.pem')}, key in ${join(outDir, 'ldevid.key')} (0600)\n`);
    return 0;
  },
};
