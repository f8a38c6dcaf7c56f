/**
 * `rootline device add|list|show|remove`: the device registry through a running server's API.
 * Arguments are checked here as well as by the API, so a typo fails fast with exit 2 and the
 * flag's name, before any request is made.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiClient, resolveApiUrl } from '../api-client.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { InputFileError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

interface CredentialView {
  kind: string;
  lookup: string;
  createdAt: string;
}

interface DeviceView {
  endpoint: string;
  model: string | null;
  firmwareVersion: string | null;
  tags: string[];
  ownershipState: string;
  attributes: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  credentials?: CredentialView[];
  /** LwM2M registration facts (present when the server runs an LwM2M server). */
  registered?: boolean;
  lastRegistration?: { at: string; lifetime: number; binding: string; lwm2mVersion: string; queueMode: boolean; expiresAt: string } | null;
  objects?: { id: number; instances: number[] }[];
}

const API_OPTION = { api: { type: 'string' } } as const satisfies OptionSpec;
const API_HELP = `  --api <url>            rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)`;

// Mirrors the API's endpoint rule (src/api/schemas.ts) so a bad name is a usage error here.
const ENDPOINT = /^[A-Za-z0-9._:@+=~-]{1,128}$/;

function checkEndpoint(command: string, endpoint: string): string {
  if (!ENDPOINT.test(endpoint)) throw new UsageError(command, `<endpoint>: expected 1..128 of A-Z a-z 0-9 . _ : @ + = ~ -, got ${JSON.stringify(endpoint)}`);
  return endpoint;
}

function client(command: string, api: string | undefined, io: CliIo): ApiClient {
  return new ApiClient(resolveApiUrl(command, api, io.env), io.fetch);
}

function readPem(flag: string, file: string, io: CliIo): string {
  try {
    return readFileSync(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    throw new InputFileError(`--${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

const addOptions = {
  ...API_OPTION,
  'psk-identity': { type: 'string' },
  'psk-key': { type: 'string' },
  rpk: { type: 'string' },
  cert: { type: 'string' },
  'cert-subject': { type: 'string' },
  model: { type: 'string' },
  'firmware-version': { type: 'string' },
  tag: { type: 'string', multiple: true },
  'allow-nosec': { type: 'boolean' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

export const deviceAdd: Command = {
  name: 'device add',
  summary: 'register a device, with a PSK, raw public key or certificate',
  help: `Usage: rootline device add <endpoint> [credential] [options]

Registers a device with the running server. At most one credential:
  --psk-identity <id> --psk-key <hex>   DTLS pre-shared key (1..64 bytes as hex); sealed by the
                                        server, never shown again
  --rpk <pem-file>                      raw public key (PEM "PUBLIC KEY", EC P-256 or Ed25519)
  --cert <pem-file>                     device certificate (bound by its subject common name)
  --cert-subject <cn>                   certificate subject common name, without the certificate

Options:
  --model <m>            device model
  --firmware-version <v> installed firmware version
  --tag <t>              a tag (repeatable)
  --allow-nosec          let the device register over plain CoAP without DTLS (attribute
                         lwm2mNoSec; for lab devices only: anyone can then claim its name)
  --json                 print the created device as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, addOptions, ['endpoint']);
    const endpoint = checkEndpoint(this.name, p.positionals[0]!);
    const identity = str(p, 'psk-identity');
    const key = str(p, 'psk-key');
    const rpk = str(p, 'rpk');
    const cert = str(p, 'cert');
    const subject = str(p, 'cert-subject');
    const given = [identity !== undefined || key !== undefined, rpk !== undefined, cert !== undefined, subject !== undefined].filter(Boolean).length;
    if (given > 1) throw new UsageError(this.name, 'give one credential: --psk-identity/--psk-key, --rpk, --cert or --cert-subject');

    const body: Record<string, unknown> = { endpoint };
    if (identity !== undefined || key !== undefined) {
      if (identity === undefined) throw new UsageError(this.name, '--psk-key needs --psk-identity');
      if (key === undefined) throw new UsageError(this.name, '--psk-identity needs --psk-key');
      if (identity.length === 0 || identity.length > 128) throw new UsageError(this.name, '--psk-identity: expected 1..128 characters');
      if (!/^([0-9a-fA-F]{2}){1,64}$/.test(key)) throw new UsageError(this.name, '--psk-key: expected 1..64 bytes as hex (an even number of 0-9 a-f digits)');
      body.credentials = { psk: { identity, key } };
    } else if (rpk !== undefined) {
      body.credentials = { rpk: { publicKey: readPem('rpk', rpk, io) } };
    } else if (cert !== undefined) {
      body.credentials = { x509: { certificate: readPem('cert', cert, io) } };
    } else if (subject !== undefined) {
      body.credentials = { x509: { subject } };
    }
    const model = str(p, 'model');
    const firmware = str(p, 'firmware-version');
    const tags = p.values.tag;
    if (model !== undefined) body.model = model;
    if (firmware !== undefined) body.firmwareVersion = firmware;
    if (Array.isArray(tags)) body.tags = tags;
    // The LwM2M server refuses NoSec registrations unless this attribute is set (DESIGN §3).
    if (p.values['allow-nosec'] === true) body.attributes = { lwm2mNoSec: true };

    const device = await client(this.name, str(p, 'api'), io).request<DeviceView>('POST', '/devices', body);
    if (p.values.json === true) writeJson(io, device);
    else io.stdout.write(`added ${device.endpoint}${device.credentials?.[0] ? ` (${device.credentials[0].kind} ${device.credentials[0].lookup})` : ''}\n`);
    return 0;
  },
};

const listOptions = {
  ...API_OPTION,
  search: { type: 'string' },
  model: { type: 'string' },
  tag: { type: 'string' },
  state: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

export const deviceList: Command = {
  name: 'device list',
  summary: 'list devices',
  help: `Usage: rootline device list [options]

Lists devices ordered by endpoint name, one page at a time.
  --search <s>           endpoint names containing s
  --model <m>            only this model
  --tag <t>              only devices with this tag
  --state <s>            only this ownership state (RESET, RFOTM, RFPRO, RFNOP, SRESET, DECOMMISSIONED)
  --limit <n>            page size 1..1000 (default 100)
  --after <endpoint>     start after this endpoint (the "next" of the previous page)
  --json                 print the API response as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, listOptions);
    const query = new URLSearchParams();
    for (const name of ['search', 'model', 'tag', 'state', 'after'] as const) {
      const v = str(p, name);
      if (v !== undefined) query.set(name, v);
    }
    const limit = intFlag(this.name, p, 'limit', 1, 1000);
    if (limit !== undefined) query.set('limit', String(limit));
    const qs = query.toString();
    const page = await client(this.name, str(p, 'api'), io).request<{ devices: DeviceView[]; next: string | null }>('GET', `/devices${qs ? `?${qs}` : ''}`);
    if (p.values.json === true) {
      writeJson(io, page);
      return 0;
    }
    const rows = [['ENDPOINT', 'MODEL', 'FIRMWARE', 'STATE', 'TAGS'], ...page.devices.map((d) => [d.endpoint, d.model ?? '-', d.firmwareVersion ?? '-', d.ownershipState, d.tags.join(',') || '-'])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) io.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
    if (page.next !== null) io.stdout.write(`(more: rootline device list --after ${page.next})\n`);
    return 0;
  },
};

const oneOptions = { ...API_OPTION, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const deviceShow: Command = {
  name: 'device show',
  summary: 'show one device and its credentials (never secrets)',
  help: `Usage: rootline device show <endpoint> [--json] [--api <url>]

Shows a device with its credentials: kind and lookup only, never a key.
  --json                 print the device as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, oneOptions, ['endpoint']);
    const endpoint = checkEndpoint(this.name, p.positionals[0]!);
    const d = await client(this.name, str(p, 'api'), io).request<DeviceView>('GET', `/devices/${encodeURIComponent(endpoint)}`);
    if (p.values.json === true) {
      writeJson(io, d);
      return 0;
    }
    const lines = [
      `endpoint:          ${d.endpoint}`,
      `model:             ${d.model ?? '-'}`,
      `firmware version:  ${d.firmwareVersion ?? '-'}`,
      `ownership state:   ${d.ownershipState}`,
      `tags:              ${d.tags.join(', ') || '-'}`,
      `created:           ${d.createdAt}`,
      `updated:           ${d.updatedAt}`,
      (d.credentials ?? []).length === 0 ? 'credentials:       -' : 'credentials:',
      ...(d.credentials ?? []).map((c) => `  ${c.kind.padEnd(5)} ${c.lookup}  (added ${c.createdAt})`),
    ];
    if (d.registered !== undefined) {
      const r = d.lastRegistration;
      lines.push(`registered:        ${d.registered ? 'yes' : 'no'}${r ? ` (since ${r.at}, lifetime ${r.lifetime} s, binding ${r.binding}, LwM2M ${r.lwm2mVersion}${r.queueMode ? ', queue mode' : ''}, expires ${r.expiresAt})` : ''}`);
      if (d.objects !== undefined && d.objects.length > 0) lines.push(`objects:           ${d.objects.map((o) => (o.instances.length > 0 ? o.instances.map((i) => `/${o.id}/${i}`).join(' ') : `/${o.id}`)).join(' ')}`);
    }
    if (Object.keys(d.attributes).length > 0) lines.push(`attributes:        ${JSON.stringify(d.attributes)}`);
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

export const deviceRemove: Command = {
  name: 'device remove',
  summary: 'remove a device and its credentials',
  help: `Usage: rootline device remove <endpoint> [--api <url>]

Removes a device and every credential bound to it.
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, API_OPTION, ['endpoint']);
    const endpoint = checkEndpoint(this.name, p.positionals[0]!);
    await client(this.name, str(p, 'api'), io).request('DELETE', `/devices/${encodeURIComponent(endpoint)}`);
    io.stdout.write(`removed ${endpoint}\n`);
    return 0;
  },
};

export const DEVICE_COMMANDS: readonly Command[] = [deviceAdd, deviceList, deviceShow, deviceRemove];
