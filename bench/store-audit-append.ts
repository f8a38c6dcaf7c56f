// Audit append microbenchmark (src/store, SQLite): CPU per record when C concurrent chains each
// await their own appends, one after another — the shape of serve's onboarding, where every
// device's handler awaits its audit records while other devices' handlers run.
//   AUDIT_CHAINS=64          concurrent chains
//   AUDIT_RECORDS=20000      records in all (after a warm-up of 2,000)
//   AUDIT_HOP=immediate      what a chain awaits between two appends: `immediate` (one
//                            setImmediate, standing for the I/O a handler waits for between
//                            two audited decisions) or `none` (append after append)
//   AUDIT_WINDOW=microtask   the store's auditCommitWindow (microtask | turn)
//   AUDIT_DROP_INDEXES=      comma-separated audit_log indexes dropped after opening (experiments)
// Prints CPU µs per record (user + system of this process, process.cpuUsage), records per CPU
// second, and distinct `at` stamps per record — a lower bound of transactions per record (every
// group commit stamps one time; two groups in the same millisecond count once).
// Run: npx tsx bench/store-audit-append.ts   (one line of JSON)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../src/store/sqlite/store.js';
import type { AuditEntry } from '../src/store/types.js';

const CHAINS = Number(process.env.AUDIT_CHAINS ?? 64);
const RECORDS = Number(process.env.AUDIT_RECORDS ?? 20_000);
const HOP = process.env.AUDIT_HOP ?? 'immediate';
const WINDOW = (process.env.AUDIT_WINDOW ?? 'microtask') as 'microtask' | 'turn';
const DROP = (process.env.AUDIT_DROP_INDEXES ?? '').split(',').filter((s) => s !== '');

const dir = mkdtempSync(join(tmpdir(), 'rootline-audit-bench-'));
const file = join(dir, 'rootline.db');
const store = await openSqliteStore({ file, auditCommitWindow: WINDOW });
if (DROP.length > 0) {
  const db = new Database(file);
  for (const name of DROP) db.exec(`DROP INDEX ${name}`);
  db.close();
}

const hop = HOP === 'immediate' ? (): Promise<void> => new Promise((resolve) => setImmediate(resolve)) : (): Promise<void> => Promise.resolve();
function entry(chain: number, i: number): AuditEntry {
  return {
    actor: `pledge:SN-${chain}`,
    action: i % 2 === 0 ? 'registrar.voucher.request' : 'est.enroll',
    subject: `urn:dev:${chain}-${i}`,
    outcome: 'success',
    details: { endpoint: `urn:dev:${chain}`, serial: `SN-${chain}-${i}`, fingerprint: 'ab'.repeat(32), status: true },
  };
}
async function run(records: number): Promise<void> {
  const per = Math.ceil(records / CHAINS);
  await Promise.all(
    Array.from({ length: CHAINS }, async (_, c) => {
      for (let i = 0; i < per; i++) {
        await hop();
        await store.audit.append(entry(c, i));
      }
    }),
  );
}
await run(2000);
const t0 = process.cpuUsage();
const w0 = process.hrtime.bigint();
await run(RECORDS);
const cpu = process.cpuUsage(t0);
const wall = Number(process.hrtime.bigint() - w0) / 1e6;
const v = await store.audit.verify();
await store.close();
// Transactions: count distinct `at` stamps of the measured records (one per group commit; two
// groups in the same millisecond would count once, so this is a lower bound).
const db = new Database(file, { readonly: true });
const rows = db.prepare('SELECT count(*) AS n, count(DISTINCT at) AS tx FROM audit_log WHERE seq > 2000').get() as { n: number; tx: number };
db.close();
rmSync(dir, { recursive: true, force: true });
const us = (cpu.user + cpu.system) / rows.n;
process.stdout.write(
  `${JSON.stringify({ bench: 'store-audit-append', chains: CHAINS, hop: HOP, window: WINDOW, dropped: DROP, records: rows.n, cpu_us_per_record: Number(us.toFixed(1)), user_us: Number((cpu.user / rows.n).toFixed(1)), sys_us: Number((cpu.system / rows.n).toFixed(1)), records_per_cpu_s: Math.round(1e6 / us), wall_ms: Math.round(wall), distinct_at_per_record: Number((rows.tx / rows.n).toFixed(3)), verified: v.ok })}\n`,
);
