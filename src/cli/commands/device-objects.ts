/**
 * `rootline device read|write|exec|observe|bootstrap`: LwM2M operations on a registered device
 * and its bootstrap configuration, through a running server's API (so they get the API's
 * validation, audit records and secret sealing). Arguments are checked here first so a typo
 * fails with exit 2 and the flag's name before any request is made.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiClient, resolveApiUrl } from '../api-client.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { ApiUnreachableError, InputFileError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

const API_OPTION = { api: { type: 'string' } } as const satisfies OptionSpec;
const TIMEOUT_OPTION = { timeout: { type: 'string' } } as const satisfies OptionSpec;
const TIMEOUT_HELP = `  --timeout <s>          wait at most s seconds (1..86400, default 60) for a sleeping queue-mode device`;
const API_HELP = `  --api <url>            rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)`;
const ENDPOINT = /^[A-Za-z0-9._:@+=~-]{1,128}$/;
const FORMATS = ['tlv', 'senml-json', 'senml-cbor', 'lwm2m-cbor', 'text'] as const;

function checkEndpoint(command: string, endpoint: string): string {
  if (!ENDPOINT.test(endpoint)) throw new UsageError(command, `<endpoint>: expected 1..128 of A-Z a-z 0-9 . _ : @ + = ~ -, got ${JSON.stringify(endpoint)}`);
  return endpoint;
}

/** An LwM2M path with `min`..`max` ids, leading slash optional: '3/0/13' → '/3/0/13'. */
function checkPath(command: string, text: string, min: number, max: number): string {
  const path = text.startsWith('/') ? text : `/${text}`;
  const ids = path.split('/').slice(1);
  if (!/^(\/(0|[1-9][0-9]{0,4})){1,4}$/.test(path) || ids.length < min || ids.length > max || ids.some((id) => Number(id) > 65534)) {
    const what = min === max ? `${min} ids` : `${min}..${max} ids`;
    throw new UsageError(command, `<path>: expected an LwM2M path of ${what} 0..65534 like /3/0/13, got ${JSON.stringify(text)}`);
  }
  return path;
}

/** `timeout=<s>` for the query string when --timeout was given. */
function timeoutQuery(command: string, p: Parameters<typeof intFlag>[1]): string[] {
  const s = intFlag(command, p, 'timeout', 1, 86400);
  return s === undefined ? [] : [`timeout=${s}`];
}

function queryOf(parts: string[]): string {
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function client(command: string, api: string | undefined, io: CliIo): ApiClient {
  return new ApiClient(resolveApiUrl(command, api, io.env), io.fetch);
}

function deviceUrl(endpoint: string): string {
  return `/devices/${encodeURIComponent(endpoint)}`;
}

function readJsonFile(flag: string, file: string, io: CliIo): unknown {
  let text: string;
  try {
    text = readFileSync(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    throw new InputFileError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputFileError(`${flag}: ${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

interface JsonNode {
  kind: string;
  id: number;
  type?: string;
  value?: unknown;
  values?: Record<string, unknown>;
  resources?: JsonNode[];
  instances?: JsonNode[];
}

/** Human-readable lines for a node: one `path = value` per resource (instance). */
function nodeLines(node: JsonNode, prefix: string): string[] {
  switch (node.kind) {
    case 'object':
      return (node.instances ?? []).flatMap((i) => nodeLines(i, `${prefix}/${i.id}`));
    case 'instance':
      return (node.resources ?? []).flatMap((r) => nodeLines(r, `${prefix}/${r.id}`));
    case 'multiResource':
      return Object.entries(node.values ?? {}).map(([ri, v]) => `${prefix}/${ri} = ${JSON.stringify(v)}`);
    default:
      return [`${prefix} = ${JSON.stringify(node.value)}`];
  }
}

/** The path a read node's lines start from: the object/instance prefix above the node itself. */
function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

const readOptions = { ...API_OPTION, ...TIMEOUT_OPTION, format: { type: 'string' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const deviceRead: Command = {
  name: 'device read',
  summary: 'LwM2M Read of a path on a registered device',
  help: `Usage: rootline device read <endpoint> <path> [--format F] [--json] [--api <url>]

Reads an object, instance, resource or resource instance (e.g. /3/0 or /3/0/13) and prints one
"path = value" line per resource.
  --format <f>           ask the device for tlv, senml-json, senml-cbor, lwm2m-cbor or text
                         (default: what the device prefers; text for a single resource only)
  --json                 print the API answer {endpoint, path, format, node} as JSON
${TIMEOUT_HELP}
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, readOptions, ['endpoint', 'path']);
    const endpoint = checkEndpoint(this.name, p.positionals[0]!);
    const path = checkPath(this.name, p.positionals[1]!, 1, 4);
    const format = str(p, 'format');
    if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) throw new UsageError(this.name, `--format: expected one of ${FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
    const r = await client(this.name, str(p, 'api'), io).request<{ path: string; format: number; node: JsonNode }>('GET', `${deviceUrl(endpoint)}/objects${path}${queryOf([...(format !== undefined ? [`format=${format}`] : []), ...timeoutQuery(this.name, p)])}`);
    if (p.values.json === true) writeJson(io, r);
    else io.stdout.write(`${nodeLines(r.node, r.node.kind === 'object' ? path : `${parentOf(r.path)}/${r.node.id}`).join('\n')}\n`);
    return 0;
  },
};

const writeOptions = { ...API_OPTION, ...TIMEOUT_OPTION, mode: { type: 'string' } } as const satisfies OptionSpec;

export const deviceWrite: Command = {
  name: 'device write',
  summary: 'LwM2M Write of a value (or @file.json) to a path',
  help: `Usage: rootline device write <endpoint> <path> <value | @file.json> [--mode replace|update] [--api <url>]

Writes an instance, resource or resource instance. The value is JSON when it parses as JSON
(600, true, "text", {"values": {"0": 1}}), otherwise the text itself; @file.json reads the body
from a file, e.g. {"resources": {"14": "+02:00", "15": "Europe/Berlin"}} for an instance.
Opaque values are hex, object links "objectId:instanceId".
  --mode <m>             replace (default) or update (partial update of an instance)
${TIMEOUT_HELP}
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, writeOptions, ['endpoint', 'path', 'value']);
    const endpoint = checkEndpoint(this.name, p.positionals[0]!);
    const path = checkPath(this.name, p.positionals[1]!, 2, 4);
    const raw = p.positionals[2]!;
    const mode = str(p, 'mode') ?? 'replace';
    if (mode !== 'replace' && mode !== 'update') throw new UsageError(this.name, `--mode: expected replace or update, got ${JSON.stringify(mode)}`);
    let body: unknown;
    if (raw.startsWith('@')) body = readJsonFile('<value>', raw.slice(1), io);
    else {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    if (body === null || Array.isArray(body)) throw new UsageError(this.name, '<value>: expected a value or an object, not null or an array');
    await client(this.name, str(p, 'api'), io).request('PUT', `${deviceUrl(endpoint)}/objects${path}${queryOf([`mode=${mode}`, ...timeoutQuery(this.name, p)])}`, body);
    io.stdout.write(`wrote ${path} on ${endpoint}\n`);
    return 0;
  },
};

const execOptions = { ...API_OPTION, ...TIMEOUT_OPTION, args: { type: 'string' } } as const satisfies OptionSpec;
// The API's pattern (src/api/lwm2m-schemas.ts): printable ASCII but the quote inside values.
const EXEC_ARGS = /^[0-9](='[\x20-\x26\x28-\x7e]*')?(,[0-9](='[\x20-\x26\x28-\x7e]*')?)*$/;

export const deviceExec: Command = {
  name: 'device exec',
  summary: 'LwM2M Execute of a resource (e.g. /3/0/4 Reboot)',
  help: `Usage: rootline device exec <endpoint> <path> [--args A] [--api <url>]

Executes a resource /object/instance/resource.
  --args <a>             Execute arguments (Core §5.4.4), e.g. 0='reason',1
${TIMEOUT_HELP}
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, execOptions, ['endpoint', 'path']);
    const endpoint = checkEndpoint(this.name, p.positionals[0]!);
    const path = checkPath(this.name, p.positionals[1]!, 3, 3);
    const execArgs = str(p, 'args');
    if (execArgs !== undefined && (execArgs.length > 1024 || !EXEC_ARGS.test(execArgs))) throw new UsageError(this.name, `--args: expected digits with optional quoted values like 0='x',1`);
    await client(this.name, str(p, 'api'), io).request('POST', `${deviceUrl(endpoint)}/objects${path}${queryOf(timeoutQuery(this.name, p))}`, execArgs !== undefined ? { args: execArgs } : {});
    io.stdout.write(`executed ${path} on ${endpoint}\n`);
    return 0;
  },
};

const observeOptions = { ...API_OPTION, ...TIMEOUT_OPTION, count: { type: 'string' }, duration: { type: 'string' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const deviceObserve: Command = {
  name: 'device observe',
  summary: 'LwM2M Observe of a path; prints each notification',
  help: `Usage: rootline device observe <endpoint> <path> [--count N] [--duration S] [--json] [--api <url>]

Observes a path and prints its current value, then each notification (read from the server's
event stream /api/v1/events), until --count values (the current one counts), --duration seconds,
or SIGINT; then cancels the observation.
  --count <n>            stop after n values (1..1000000)
  --duration <s>         stop after s seconds (1..604800)
  --json                 one line of JSON per value: {path, node}
${TIMEOUT_HELP}
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, observeOptions, ['endpoint', 'path']);
    const endpoint = checkEndpoint(this.name, p.positionals[0]!);
    const path = checkPath(this.name, p.positionals[1]!, 1, 4);
    const count = intFlag(this.name, p, 'count', 1, 1_000_000);
    const duration = intFlag(this.name, p, 'duration', 1, 604_800);
    const timeoutSuffix = queryOf(timeoutQuery(this.name, p));
    const base = resolveApiUrl(this.name, str(p, 'api'), io.env);
    const api = new ApiClient(base, io.fetch);
    const print = (node: JsonNode): void => {
      if (p.values.json === true) io.stdout.write(`${JSON.stringify({ path, node })}\n`);
      else io.stdout.write(`${nodeLines(node, node.kind === 'object' ? path : `${parentOf(path)}/${node.id}`).join('\n')}\n`);
    };

    // The stream is opened before the observation, so no notification can slip between them.
    const abort = new AbortController();
    const url = new URL(`${base.pathname.replace(/\/$/, '')}/api/v1/events?topics=lwm2m`, base);
    let res: Response;
    try {
      res = await io.fetch(url, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    } catch (err) {
      throw new ApiUnreachableError(`cannot reach the rootline API at ${base.origin}; is \`rootline serve\` running?`, { cause: err });
    }
    if (res.status !== 200 || res.body === null) {
      abort.abort();
      throw new ApiUnreachableError(`${base.origin} refused the event stream (HTTP ${res.status})`);
    }
    const reader = res.body.getReader();
    let obs: { id: string; initial: { node: JsonNode } };
    try {
      obs = await api.request('POST', `${deviceUrl(endpoint)}/observations${timeoutSuffix}`, { path });
    } catch (err) {
      abort.abort();
      throw err;
    }
    let seen = 1;
    print(obs.initial.node);
    const stop = (): void => abort.abort();
    const timer = duration !== undefined ? setTimeout(stop, duration * 1000) : undefined;
    if (io.shutdown !== undefined) io.shutdown.addEventListener('abort', stop, { once: true });
    else {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
    try {
      const decoder = new TextDecoder();
      let buffer = '';
      while (count === undefined || seen < count) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch {
          break; // aborted: --duration or a signal
        }
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1 && (count === undefined || seen < count); end = buffer.indexOf('\n\n')) {
          const data = buffer.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
          buffer = buffer.slice(end + 2);
          if (data === undefined) continue;
          const event = JSON.parse(data.slice(6)) as { type: string; data: { observationId?: string; node?: JsonNode } };
          if (event.type !== 'lwm2m.notification' || event.data.observationId !== obs.id || event.data.node === undefined) continue;
          seen++;
          print(event.data.node);
        }
      }
    } finally {
      clearTimeout(timer);
      io.shutdown?.removeEventListener('abort', stop);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      abort.abort();
    }
    // The device may have gone meanwhile (de-registered: the observation went with it).
    await api.request('DELETE', `${deviceUrl(endpoint)}/observations${path}`).catch(() => undefined);
    return 0;
  },
};

const bootstrapOptions = { ...API_OPTION, file: { type: 'string' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const deviceBootstrap: Command = {
  name: 'device bootstrap',
  summary: "set or show a device's LwM2M bootstrap configuration",
  help: `Usage: rootline device bootstrap set <endpoint> --file cfg.json [--json] [--api <url>]
       rootline device bootstrap show <endpoint> [--json] [--api <url>]

set: stores the configuration the bootstrap server writes into the device, e.g.
  {"servers": [{"shortServerId": 1, "uri": "coaps://10.0.0.1:5684", "securityMode": "psk",
                "pskIdentity": "dev-1", "pskKey": "00112233...", "lifetime": 300}]}
PSK keys and private keys are sealed by the server and never shown again.
show: the configuration without secrets (hasPskKey / hasClientPrivateKey instead).
  --file <f>             the configuration as JSON (set)
  --json                 print the stored configuration as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, bootstrapOptions, ['set|show', 'endpoint']);
    const action = p.positionals[0]!;
    if (action !== 'set' && action !== 'show') throw new UsageError(this.name, `expected set or show, got ${JSON.stringify(action)}`);
    const endpoint = checkEndpoint(this.name, p.positionals[1]!);
    const file = str(p, 'file');
    if (action === 'set' && file === undefined) throw new UsageError(this.name, 'set needs --file <cfg.json>');
    if (action === 'show' && file !== undefined) throw new UsageError(this.name, '--file is for set only');
    const api = client(this.name, str(p, 'api'), io);
    const view =
      action === 'set'
        ? await api.request<BootstrapView>('PUT', `${deviceUrl(endpoint)}/bootstrap`, readJsonFile('--file', file!, io))
        : await api.request<BootstrapView>('GET', `${deviceUrl(endpoint)}/bootstrap`);
    if (p.values.json === true) {
      writeJson(io, view);
      return 0;
    }
    const lines = [`endpoint: ${view.endpoint}`, `updated:  ${view.updatedAt}`, `delete:   ${view.delete.join(' ')}`];
    for (const s of view.servers) lines.push(`server ${String(s.shortServerId)}: ${String(s.uri)} (${String(s.securityMode)}${s.pskIdentity !== undefined ? ` identity ${String(s.pskIdentity)}` : ''}${s.hasPskKey === true || s.hasClientPrivateKey === true ? ', secret sealed' : ''})`);
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

interface BootstrapView {
  endpoint: string;
  updatedAt: string;
  delete: string[];
  servers: Record<string, unknown>[];
}

export const DEVICE_OBJECT_COMMANDS: readonly Command[] = [deviceRead, deviceWrite, deviceExec, deviceObserve, deviceBootstrap];
