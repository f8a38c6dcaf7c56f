/**
 * `rootline campaign create|list|show|devices|approve|start|pause|resume|cancel`: firmware update
 * campaigns through a running server's API. Flags are checked here first (exit 2 naming the
 * flag); the campaign engine checks the whole specification again and names any field it refuses.
 */
import { ApiClient, resolveApiUrl } from '../api-client.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec, type Parsed } from '../command.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

interface WaveCounts {
  wave?: number;
  total: number;
  pending: number;
  inFlight: number;
  retryWait: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
}

interface CampaignView {
  id: string;
  name: string;
  firmwareId: string;
  state: string;
  stateReason: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  spec: { target: Record<string, unknown>; waves: unknown[]; successThreshold: number; errorThreshold: number; maxInFlight: number; requiresApproval: boolean };
  progress: { wave?: number; pausedBy?: string | null };
  waves: WaveCounts[];
  devices: WaveCounts;
}

interface CampaignDevice {
  endpoint: string;
  wave: number;
  position: number;
  status: string;
  attempt: number;
  fwState: number | null;
  updateResult: number | null;
  progress: number | null;
  fromVersion: string | null;
  reportedVersion: string | null;
  failure: string | null;
}

const API_OPTION = { api: { type: 'string' } } as const satisfies OptionSpec;
const API_HELP = `  --api <url>            rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)`;
const ID = /^[A-Za-z0-9._:@+=~-]{1,128}$/;
const ENDPOINT = /^[A-Za-z0-9._:@+=~-]{1,128}$/;
const TAG = /^[A-Za-z0-9._:=-]{1,64}$/;
const STATES = ['draft', 'approved', 'running', 'paused', 'completed', 'cancelled'];
const DEVICE_STATUSES = ['pending', 'in-flight', 'retry-wait', 'succeeded', 'failed', 'skipped', 'cancelled'];

function client(command: string, api: string | undefined, io: CliIo): ApiClient {
  return new ApiClient(resolveApiUrl(command, api, io.env), io.fetch);
}

function checkId(command: string, id: string): string {
  if (!ID.test(id)) throw new UsageError(command, `<id>: expected a campaign id (1..128 of A-Z a-z 0-9 . _ : @ + = ~ -), got ${JSON.stringify(id)}`);
  return id;
}

/** '1%,10%,all' or '5,50,all' → the API's waves array. */
export function parseWaves(command: string, text: string): (number | string)[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.length > 100) throw new UsageError(command, '--waves: expected 1..100 comma-separated sizes');
  return parts.map((part) => {
    if (part === 'all') return 'all';
    if (/^\d{1,3}(\.\d{1,3})?%$/.test(part)) return part;
    if (/^[1-9]\d{0,8}$/.test(part)) return Number(part);
    throw new UsageError(command, `--waves: ${JSON.stringify(part)} is not a count, a percentage such as 10% or "all"`);
  });
}

function percentFlag(command: string, p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,3}(\.\d+)?$/.test(v) || Number(v) > 100) throw new UsageError(command, `--${name}: expected a percentage 0..100, got ${JSON.stringify(v)}`);
  return Number(v);
}

function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : [];
}

function summaryLine(c: CampaignView): string {
  const d = c.devices;
  return `campaign ${c.id}: ${c.state}${c.stateReason ? ` (${c.stateReason})` : ''}; devices ${d.succeeded}/${d.total} succeeded, ${d.failed} failed, ${d.inFlight} in flight`;
}

const createOptions = {
  ...API_OPTION,
  firmware: { type: 'string' },
  name: { type: 'string' },
  id: { type: 'string' },
  model: { type: 'string' },
  'from-version': { type: 'string' },
  tag: { type: 'string', multiple: true },
  device: { type: 'string', multiple: true },
  waves: { type: 'string' },
  'success-threshold': { type: 'string' },
  'error-threshold': { type: 'string' },
  'max-in-flight': { type: 'string' },
  approval: { type: 'boolean' },
  'full-image': { type: 'boolean' },
  delivery: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

const DELIVERIES = ['lwm2m-pull', 'lwm2m-push', 'https-pull'];

export const campaignCreate: Command = {
  name: 'campaign create',
  summary: 'create a firmware update campaign (a draft)',
  help: `Usage: rootline campaign create --firmware <id> [options]

Creates a draft campaign; start it with 'rootline campaign start <id>'.
  --firmware <id>            the firmware image to roll out (required)
  --name <text>              a name (default: "<model> <version>" of the firmware)
  --id <id>                  choose the campaign id (default: a UUID)
Target (all given criteria must hold):
  --model <m>                device model (default: the firmware's model)
  --from-version <range>     SemVer range of the devices' current version: ">=1.0.0 <2", "^1.4"
  --tag <t>                  the device carries this tag (repeatable)
  --device <endpoint>        only these devices (repeatable)
Rollout:
  --waves <sizes>            cumulative wave sizes: 1%,10%,all or 5,50,all (default all)
  --success-threshold <p>    percent of a wave that must succeed before the next (default 90)
  --error-threshold <p>      percent failed above which the campaign pauses itself (default 20)
  --max-in-flight <n>        devices updating at once (default 50)
  --approval                 require 'rootline campaign approve' before it can start
  --full-image               always send the full image, never a delta
  --delivery <method>        lwm2m-pull (Package URI, CoAPs Block2), lwm2m-push (Block1 write of
                             /5/0/0) or https-pull (Package URI to the HTTPS package listener);
                             default: the server's (serve setting fotaDelivery)
  --json                     print the campaign as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, createOptions);
    const firmwareId = str(p, 'firmware');
    if (firmwareId === undefined) throw new UsageError(this.name, 'missing --firmware <id>');
    if (!/^[A-Za-z0-9-]{1,64}$/.test(firmwareId)) throw new UsageError(this.name, `--firmware: expected a firmware id, got ${JSON.stringify(firmwareId)}`);
    const id = str(p, 'id');
    if (id !== undefined) checkId(this.name, id);
    const target: Record<string, unknown> = {};
    const model = str(p, 'model');
    const range = str(p, 'from-version');
    if (model !== undefined) target.model = model;
    if (range !== undefined) target.versionRange = range;
    const tags = list(p, 'tag');
    for (const t of tags) if (!TAG.test(t)) throw new UsageError(this.name, `--tag: expected 1..64 of A-Z a-z 0-9 . _ : = -, got ${JSON.stringify(t)}`);
    if (tags.length > 0) target.tags = [...new Set(tags)];
    const devices = list(p, 'device');
    for (const d of devices) if (!ENDPOINT.test(d)) throw new UsageError(this.name, `--device: expected an endpoint name, got ${JSON.stringify(d)}`);
    if (devices.length > 0) target.endpoints = [...new Set(devices)];

    const body: Record<string, unknown> = { firmwareId, target };
    if (id !== undefined) body.id = id;
    const waves = str(p, 'waves');
    if (waves !== undefined) body.waves = parseWaves(this.name, waves);
    const success = percentFlag(this.name, p, 'success-threshold');
    const error = percentFlag(this.name, p, 'error-threshold');
    const inFlight = intFlag(this.name, p, 'max-in-flight', 1, 100_000);
    if (success !== undefined) body.successThreshold = success;
    if (error !== undefined) body.errorThreshold = error;
    if (inFlight !== undefined) body.maxInFlight = inFlight;
    if (p.values.approval === true) body.requiresApproval = true;
    if (p.values['full-image'] === true) body.packagePolicy = 'full';
    const delivery = str(p, 'delivery');
    if (delivery !== undefined) {
      if (!DELIVERIES.includes(delivery)) throw new UsageError(this.name, `--delivery: expected one of ${DELIVERIES.join(', ')}, got ${JSON.stringify(delivery)}`);
      body.delivery = delivery;
    }

    const api = client(this.name, str(p, 'api'), io);
    let name = str(p, 'name');
    if (name === undefined) {
      const fw = await api.request<{ model: string; version: string }>('GET', `/firmware/${encodeURIComponent(firmwareId)}`);
      name = `${fw.model} ${fw.version}`;
    }
    body.name = name;
    const c = await api.request<CampaignView>('POST', '/campaigns', body);
    if (p.values.json === true) writeJson(io, c);
    else io.stdout.write(`created campaign ${c.id} (${c.state}): ${c.name}${c.spec.requiresApproval ? '; approve it before it can start' : ''}\n`);
    return 0;
  },
};

const listOptions = { ...API_OPTION, state: { type: 'string' }, limit: { type: 'string' }, after: { type: 'string' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const campaignList: Command = {
  name: 'campaign list',
  summary: 'list campaigns',
  help: `Usage: rootline campaign list [options]

Lists campaigns ordered by id.
  --state <s>            only this state (${STATES.join(', ')})
  --limit <n>            page size 1..1000 (default 100)
  --after <id>           start after this id (the "next" of the previous page)
  --json                 print the API response as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, listOptions);
    const query = new URLSearchParams();
    const state = str(p, 'state');
    if (state !== undefined) {
      if (!STATES.includes(state)) throw new UsageError(this.name, `--state: expected one of ${STATES.join(', ')}, got ${JSON.stringify(state)}`);
      query.set('state', state);
    }
    const after = str(p, 'after');
    if (after !== undefined) query.set('after', checkId(this.name, after));
    const limit = intFlag(this.name, p, 'limit', 1, 1000);
    if (limit !== undefined) query.set('limit', String(limit));
    const qs = query.toString();
    const page = await client(this.name, str(p, 'api'), io).request<{ campaigns: CampaignView[]; next: string | null }>('GET', `/campaigns${qs ? `?${qs}` : ''}`);
    if (p.values.json === true) {
      writeJson(io, page);
      return 0;
    }
    const rows = [
      ['ID', 'STATE', 'SUCCEEDED', 'FAILED', 'TOTAL', 'NAME'],
      ...page.campaigns.map((c) => [c.id, c.state, String(c.devices.succeeded), String(c.devices.failed), String(c.devices.total), c.name]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) io.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
    if (page.next !== null) io.stdout.write(`(more: rootline campaign list --after ${page.next})\n`);
    return 0;
  },
};

const oneOptions = { ...API_OPTION, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const campaignShow: Command = {
  name: 'campaign show',
  summary: 'show a campaign with its progress per wave',
  help: `Usage: rootline campaign show <id> [--json] [--api <url>]

Shows a campaign: state, target, thresholds and device counts per wave.
  --json                 print the campaign as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, oneOptions, ['id']);
    const id = checkId(this.name, p.positionals[0]!);
    const c = await client(this.name, str(p, 'api'), io).request<CampaignView>('GET', `/campaigns/${encodeURIComponent(id)}`);
    if (p.values.json === true) {
      writeJson(io, c);
      return 0;
    }
    const lines = [
      `id:          ${c.id}`,
      `name:        ${c.name}`,
      `state:       ${c.state}${c.stateReason ? ` (${c.stateReason})` : ''}`,
      `firmware:    ${c.firmwareId}`,
      `target:      ${JSON.stringify(c.spec.target)}`,
      `waves:       ${c.spec.waves.join(', ')}; success ${c.spec.successThreshold} %, error ${c.spec.errorThreshold} %, max in flight ${c.spec.maxInFlight}`,
      `created:     ${c.createdAt} by ${c.createdBy}`,
      `devices:     ${c.devices.total} total, ${c.devices.succeeded} succeeded, ${c.devices.failed} failed, ${c.devices.inFlight} in flight, ${c.devices.pending + c.devices.retryWait} waiting, ${c.devices.skipped} skipped, ${c.devices.cancelled} cancelled`,
      ...c.waves.map((w) => `  wave ${w.wave}:    ${w.total} devices, ${w.succeeded} succeeded, ${w.failed} failed, ${w.inFlight} in flight, ${w.pending + w.retryWait} waiting`),
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

const devicesOptions = { ...API_OPTION, status: { type: 'string' }, limit: { type: 'string' }, after: { type: 'string' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const campaignDevices: Command = {
  name: 'campaign devices',
  summary: "list a campaign's devices and where each stands",
  help: `Usage: rootline campaign devices <id> [options]

Lists the campaign's devices in rollout order: wave, status, attempt, LwM2M Object 5 state and
Update Result, download progress, versions and failure.
  --status <s>           only this status (${DEVICE_STATUSES.join(', ')})
  --limit <n>            page size 1..1000 (default 100)
  --after <position>     start after this position (the "next" of the previous page)
  --json                 print the API response as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, devicesOptions, ['id']);
    const id = checkId(this.name, p.positionals[0]!);
    const query = new URLSearchParams();
    const status = str(p, 'status');
    if (status !== undefined) {
      if (!DEVICE_STATUSES.includes(status)) throw new UsageError(this.name, `--status: expected one of ${DEVICE_STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
      query.set('status', status);
    }
    const limit = intFlag(this.name, p, 'limit', 1, 1000);
    const after = intFlag(this.name, p, 'after', 0, Number.MAX_SAFE_INTEGER);
    if (limit !== undefined) query.set('limit', String(limit));
    if (after !== undefined) query.set('after', String(after));
    const qs = query.toString();
    const page = await client(this.name, str(p, 'api'), io).request<{ devices: CampaignDevice[]; next: number | null }>('GET', `/campaigns/${encodeURIComponent(id)}/devices${qs ? `?${qs}` : ''}`);
    if (p.values.json === true) {
      writeJson(io, page);
      return 0;
    }
    const dash = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));
    const rows = [
      ['ENDPOINT', 'WAVE', 'STATUS', 'ATTEMPT', 'STATE', 'RESULT', 'PROGRESS', 'FROM', 'REPORTED', 'FAILURE'],
      ...page.devices.map((d) => [d.endpoint, String(d.wave), d.status, String(d.attempt), dash(d.fwState), dash(d.updateResult), d.progress === null ? '-' : `${d.progress}%`, dash(d.fromVersion), dash(d.reportedVersion), dash(d.failure)]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) io.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
    if (page.next !== null) io.stdout.write(`(more: rootline campaign devices ${id} --after ${page.next})\n`);
    return 0;
  },
};

const ACTIONS = [
  { action: 'approve', summary: 'approve a campaign that requires approval', reason: false },
  { action: 'start', summary: 'start a campaign: select devices, plan waves, roll out', reason: false },
  { action: 'pause', summary: 'pause a running campaign', reason: true },
  { action: 'resume', summary: 'resume a paused campaign', reason: false },
  { action: 'cancel', summary: 'cancel a campaign', reason: true },
] as const;

function actionCommand(spec: (typeof ACTIONS)[number]): Command {
  const options = { ...oneOptions, ...(spec.reason ? { reason: { type: 'string' } } : {}) } as const satisfies OptionSpec;
  return {
    name: `campaign ${spec.action}`,
    summary: spec.summary,
    help: `Usage: rootline campaign ${spec.action} <id>${spec.reason ? ' [--reason <text>]' : ''} [--json] [--api <url>]

${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.
${spec.reason ? '  --reason <text>        why, for the timeline and the audit log\n' : ''}  --json                 print the campaign as JSON
${API_HELP}
`,
    async run(args, io) {
      const p = parseCommandArgs(this.name, args, options, ['id']);
      const id = checkId(this.name, p.positionals[0]!);
      const reason = spec.reason ? str(p, 'reason') : undefined;
      // eslint-disable-next-line no-control-regex
      if (reason !== undefined && (reason.length === 0 || reason.length > 1024 || /[\u0000-\u001f\u007f-\u009f]/.test(reason))) {
        throw new UsageError(this.name, '--reason: expected 1..1024 characters without control characters');
      }
      const qs = reason === undefined ? '' : `?${new URLSearchParams({ reason })}`;
      const c = await client(this.name, str(p, 'api'), io).request<CampaignView>('POST', `/campaigns/${encodeURIComponent(id)}/${spec.action}${qs}`);
      if (p.values.json === true) writeJson(io, c);
      else io.stdout.write(`${summaryLine(c)}\n`);
      return 0;
    },
  };
}

export const CAMPAIGN_COMMANDS: readonly Command[] = [campaignCreate, campaignList, campaignShow, campaignDevices, ...ACTIONS.map(actionCommand)];
