// Compares two V8 heap snapshots (v8.writeHeapSnapshot) by what holds the memory: self size and
// count per node type and constructor name, largest growth first — so a benchmark can say what
// each registered device costs. Also runnable on its own:
//   node --import tsx bench/lib/heapsnapshot-diff.ts <before.heapsnapshot> <after.heapsnapshot> [per=N] [top=30]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  /** `type:name`, e.g. `object:DtlsSession`, `string:(strings)`, `hidden:system / Map`. */
  group: string;
  count: number;
  bytes: number;
}

/** Self size and count per group (strings, code and numbers collapsed by type). */
export function heapGroups(file: string): Map<string, HeapGroup> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const fType = fields.indexOf('type');
  const fName = fields.indexOf('name');
  const fSize = fields.indexOf('self_size');
  const out = new Map<string, HeapGroup>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + fType]!]!;
    const name = type === 'object' || type === 'closure' || type === 'hidden' || type === 'native' ? s.strings[s.nodes[i + fName]!]! : '';
    const key = name === '' ? `${type}` : `${type}:${name.length > 60 ? `${name.slice(0, 57)}...` : name}`;
    let g = out.get(key);
    if (g === undefined) out.set(key, (g = { group: key, count: 0, bytes: 0 }));
    g.count++;
    g.bytes += s.nodes[i + fSize]!;
  }
  return out;
}

/** after − before per group, largest byte growth first. */
export function heapDiff(before: string, after: string, top = 30): { total: number; groups: HeapGroup[] } {
  const a = heapGroups(before);
  const b = heapGroups(after);
  const diff: HeapGroup[] = [];
  let total = 0;
  for (const [k, g] of b) {
    const old = a.get(k);
    const d = { group: k, count: g.count - (old?.count ?? 0), bytes: g.bytes - (old?.bytes ?? 0) };
    total += d.bytes;
    diff.push(d);
  }
  for (const [k, g] of a) if (!b.has(k)) {
    diff.push({ group: k, count: -g.count, bytes: -g.bytes });
    total -= g.bytes;
  }
  diff.sort((x, y) => y.bytes - x.bytes);
  return { total, groups: diff.slice(0, top) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [before, after, perArg, topArg] = process.argv.slice(2);
  if (before === undefined || after === undefined) {
    process.stderr.write('usage: heapsnapshot-diff.ts <before> <after> [per=N] [top]\n');
    process.exit(2);
  }
  const per = Number(perArg ?? 1) || 1;
  const { total, groups } = heapDiff(before, after, Number(topArg ?? 30));
  console.log(`heap growth ${total} B in total, ${(total / per).toFixed(0)} B per unit (${per} units)`);
  for (const g of groups) console.log(`${(g.bytes / per).toFixed(1).padStart(9)} B ${(g.count / per).toFixed(2).padStart(7)} ×  ${g.group}`);
}
