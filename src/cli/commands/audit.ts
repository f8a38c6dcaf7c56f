/**
 * `rootline audit verify` checks the hash chain by opening the store directly (it must work when
 * the server is down, and must not trust a server to vouch for its own log); `rootline audit
 * list` reads records through the API.
 */
import { existsSync } from 'node:fs';
import { loadConfig, type ConfigKey } from '../../server/config.js';
import { openStore } from '../../store/index.js';
import { ApiClient, resolveApiUrl } from '../api-client.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { InputFileError, UsageError } from '../errors.js';

const verifyOptions = {
  data: { type: 'string' },
  store: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

export const auditVerify: Command = {
  name: 'audit verify',
  summary: 'verify the audit log hash chain (opens the store directly)',
  help: `Usage: rootline audit verify [--data <dir> | --store <url>] [--config <file>] [--json]

Walks the whole audit log and checks every link of its hash chain. Prints
"audit log OK: <n> records, last hash <hash>" and exits 0, or names the first broken record
and exits 1. Works with the server stopped.
  --data <dir>           data directory whose SQLite store to check (default ./data; env ROOTLINE_DATA)
  --store <url>          store URL instead (sqlite:<file> or postgres://...; env ROOTLINE_STORE_URL)
  --config <file>        take data/storeUrl from this config file
  --json                 print the verification result as JSON
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, verifyOptions);
    const flags: Partial<Record<ConfigKey, string>> = {};
    const data = str(p, 'data');
    const storeUrl = str(p, 'store');
    if (data !== undefined && storeUrl !== undefined) throw new UsageError(this.name, 'give --data or --store, not both');
    if (data !== undefined) flags.dataDir = data;
    if (storeUrl !== undefined) flags.storeUrl = storeUrl;
    const configFile = str(p, 'config');
    const { config } = loadConfig({ ...(configFile !== undefined ? { configFile } : {}), env: io.env, flags, cwd: io.cwd });
    if (config.storeUrl.startsWith('sqlite:')) {
      const file = config.storeUrl.slice('sqlite:'.length);
      // Opening a missing SQLite file would create an empty database and report "OK: 0 records".
      if (!existsSync(file)) throw new InputFileError(`no rootline database at ${file}`);
    }
    // No migration: verifying must not change the database it vouches for.
    const store = await openStore(config.storeUrl, { migrate: false });
    try {
      const result = await store.audit.verify();
      if (p.values.json === true) writeJson(io, result);
      if (result.ok) {
        if (p.values.json !== true) io.stdout.write(`audit log OK: ${result.count} records, last hash ${result.lastHash}\n`);
        return 0;
      }
      io.stderr.write(`rootline: audit log BROKEN at seq ${result.brokenAt}: ${result.reason} (${result.count} records verified before it)\n`);
      return 1;
    } finally {
      await store.close();
    }
  },
};

const listOptions = {
  api: { type: 'string' },
  after: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

interface AuditRecordView {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  outcome: string;
}

export const auditList: Command = {
  name: 'audit list',
  summary: 'list audit records through the API',
  help: `Usage: rootline audit list [--after <seq>] [--limit <n>] [--json] [--api <url>]

Lists audit records oldest first.
  --after <seq>          only records after this sequence number
  --limit <n>            page size 1..1000 (default 100)
  --json                 print the API response as JSON
  --api <url>            rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, listOptions);
    const query = new URLSearchParams();
    const after = intFlag(this.name, p, 'after', 0, Number.MAX_SAFE_INTEGER);
    const limit = intFlag(this.name, p, 'limit', 1, 1000);
    if (after !== undefined) query.set('after', String(after));
    if (limit !== undefined) query.set('limit', String(limit));
    const qs = query.toString();
    const api = new ApiClient(resolveApiUrl(this.name, str(p, 'api'), io.env), io.fetch);
    const page = await api.request<{ records: AuditRecordView[]; next: number | null }>('GET', `/audit${qs ? `?${qs}` : ''}`);
    if (p.values.json === true) {
      writeJson(io, page);
      return 0;
    }
    for (const r of page.records) io.stdout.write(`${r.seq}\t${r.at}\t${r.actor}\t${r.action}\t${r.subject}\t${r.outcome}\n`);
    if (page.next !== null) io.stdout.write(`(more: rootline audit list --after ${page.next})\n`);
    return 0;
  },
};

export const AUDIT_COMMANDS: readonly Command[] = [auditVerify, auditList];
