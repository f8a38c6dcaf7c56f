/**
 * `rootline onboarding pending|approve|reject`: the registrar's operator-approval list through
 * the API (GET /onboarding/pending, POST /onboarding/pending/{serial}/approve|reject). The
 * server audits each decision; the CLI checks the serial's shape before sending anything.
 * `rootline device decommission <endpoint>`: POST /devices/{endpoint}/decommission.
 */
import { ApiClient, resolveApiUrl } from '../api-client.js';
import { parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { UsageError } from '../errors.js';

// The factory's serial number pattern (src/onboarding/masa-registry.ts SERIAL_NUMBER_PATTERN).
const SERIAL = /^[A-Za-z0-9][A-Za-z0-9.:-]{0,63}$/;

// The API's endpoint pattern (src/api/schemas.ts endpointSchema), as `device` commands check it.
const ENDPOINT = /^[A-Za-z0-9._:@+=~-]{1,128}$/;

const options = { api: { type: 'string' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

interface PendingView {
  serial: string;
  model: string;
  manufacturer: string;
  idevidFingerprint: string;
  status: string;
  firstSeen: string;
  lastSeen: string;
  decidedBy?: string;
}

export const onboardingPending: Command = {
  name: 'onboarding pending',
  summary: 'list pledges waiting for (or decided by) an operator',
  help: `Usage: rootline onboarding pending [--json] [--api <url>]

Lists the registrar's approval list: pledges of a trusted manufacturer that asked for a voucher
while onboarding.approval is "manual", with their IDevID fingerprint and the decision so far.
  --json                 print the API response as JSON
  --api <url>            rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, options);
    const api = new ApiClient(resolveApiUrl(this.name, str(p, 'api'), io.env), io.fetch);
    const page = await api.request<{ pending: PendingView[] }>('GET', '/onboarding/pending');
    if (p.values.json === true) {
      writeJson(io, page);
      return 0;
    }
    if (page.pending.length === 0) io.stdout.write('no pledges on the approval list\n');
    for (const r of page.pending) io.stdout.write(`${r.serial}\t${r.status}\t${r.manufacturer}\t${r.model}\t${r.idevidFingerprint}\t${r.lastSeen}${r.decidedBy !== undefined ? `\t${r.decidedBy}` : ''}\n`);
    return 0;
  },
};

function decision(action: 'approve' | 'reject'): Command {
  return {
    name: `onboarding ${action}`,
    summary: action === 'approve' ? 'approve a waiting pledge (its next voucher request goes on)' : 'reject a waiting pledge (its voucher requests are refused)',
    help: `Usage: rootline onboarding ${action} <serial> [--json] [--api <url>]

${action === 'approve' ? 'Approves' : 'Rejects'} the pledge with this IDevID serial number on the registrar's approval list.
The decision holds for the IDevID the list shows (its fingerprint) and is audited.
  --json                 print the updated entry as JSON
  --api <url>            rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)
`,
    async run(args, io) {
      const p = parseCommandArgs(this.name, args, options, ['serial']);
      const serial = p.positionals[0]!;
      if (!SERIAL.test(serial)) throw new UsageError(this.name, `<serial>: expected 1..64 characters of A-Z a-z 0-9 . : - (starting with a letter or digit), got ${JSON.stringify(serial)}`);
      const api = new ApiClient(resolveApiUrl(this.name, str(p, 'api'), io.env), io.fetch);
      const entry = await api.request<PendingView>('POST', `/onboarding/pending/${encodeURIComponent(serial)}/${action}`);
      if (p.values.json === true) writeJson(io, entry);
      else io.stdout.write(`${entry.serial}: ${entry.status}\n`);
      return 0;
    },
  };
}

interface DecommissionView {
  endpoint: string;
  revoked: string[];
  registrationDeleted: boolean;
  bootstrapConfigDeleted: boolean;
  credentialsRemoved: number;
  masaClaim: string;
  ownershipState: string;
}

export const deviceDecommission: Command = {
  name: 'device decommission',
  summary: 'decommission a device in one step (revoke LDevID, delete accounts, release the MASA claim)',
  help: `Usage: rootline device decommission <endpoint> [--json] [--api <url>]

Revokes the device's LDevID at the domain CA (the CRL at GET /api/v1/onboarding/crl lists it),
deletes its LwM2M registration, bootstrap configuration and credentials, releases its claim at
the MASA (or says the owner must release it at the manufacturer) and moves it to DECOMMISSIONED.
Every step is audited; after a failure, running the command again finishes the job.
  --json                 print the API response as JSON
  --api <url>            rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, options, ['endpoint']);
    const endpoint = p.positionals[0]!;
    if (!ENDPOINT.test(endpoint)) throw new UsageError(this.name, `<endpoint>: expected 1..128 of A-Z a-z 0-9 . _ : @ + = ~ -, got ${JSON.stringify(endpoint)}`);
    const api = new ApiClient(resolveApiUrl(this.name, str(p, 'api'), io.env), io.fetch);
    const r = await api.request<DecommissionView>('POST', `/devices/${encodeURIComponent(endpoint)}/decommission`);
    if (p.values.json === true) {
      writeJson(io, r);
      return 0;
    }
    io.stdout.write(`${r.endpoint}: ${r.ownershipState}\n`);
    io.stdout.write(`  revoked LDevID serials: ${r.revoked.length > 0 ? r.revoked.join(', ') : 'none (already revoked)'}\n`);
    io.stdout.write(`  registration deleted: ${r.registrationDeleted ? 'yes' : 'none'}; bootstrap configuration deleted: ${r.bootstrapConfigDeleted ? 'yes' : 'none'}; credentials removed: ${r.credentialsRemoved}\n`);
    const claim = r.masaClaim === 'released' ? 'released' : r.masaClaim === 'not-brski' ? 'none (not onboarded by BRSKI)' : "NOT released: release it at the manufacturer's MASA";
    io.stdout.write(`  MASA claim: ${claim}\n`);
    return 0;
  },
};

export const ONBOARDING_COMMANDS: readonly Command[] = [onboardingPending, decision('approve'), decision('reject'), deviceDecommission];
