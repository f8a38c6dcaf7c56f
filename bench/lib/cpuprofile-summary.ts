// Summarises a V8 .cpuprofile (from node --cpu-prof): self time per function, heaviest first,
// so a benchmark can say where its server's CPU goes. Also runnable on its own:
//   node --import tsx bench/lib/cpuprofile-summary.ts <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FrameShare {
  frame: string;
  selfPct: number;
}

const repo = resolve(import.meta.dirname, '../..');

/** Self-time share of each function (merged across call sites), sorted, top `top`. */
export function summariseCpuProfile(file: string, top = 25): { total: FrameShare[]; byFile: FrameShare[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Weigh each sample by its time delta: samples are not evenly spaced under load.
  const selfMicros = new Map<number, number>();
  p.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  let total = 0;
  const perFrame = new Map<string, number>();
  const perFile = new Map<string, number>();
  for (const [id, us] of selfMicros) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') continue;
    total += us;
    const url = n.callFrame.url.startsWith('file://') ? relative(repo, new URL(n.callFrame.url).pathname) : n.callFrame.url;
    const name = `${n.callFrame.functionName || '(anonymous)'} ${url}`.trim();
    perFrame.set(name, (perFrame.get(name) ?? 0) + us);
    const fileKey = url || n.callFrame.functionName;
    perFile.set(fileKey, (perFile.get(fileKey) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>): FrameShare[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([frame, us]) => ({ frame, selfPct: (100 * us) / total }));
  return { total: sorted(perFrame), byFile: sorted(perFile) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: cpuprofile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const { total, byFile } = summariseCpuProfile(file, Number(process.argv[3] ?? 25));
  console.log('self %  function');
  for (const f of total) console.log(`${f.selfPct.toFixed(1).padStart(6)}  ${f.frame}`);
  console.log('\nself %  file');
  for (const f of byFile) console.log(`${f.selfPct.toFixed(1).padStart(6)}  ${f.frame}`);
}
