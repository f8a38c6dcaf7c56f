/**
 * A benchmark compiled with tsc into dist/ (the same output `npm run build` gives for src/), so
 * it runs as `rootline serve` does rather than under tsx (whose keepNames wrapper costs CPU and
 * memory per closure). The tsconfig is written inside the repository (dist/ is ignored by git) so
 * tsc finds node_modules/@types; incremental builds keep repeated runs short.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Called from the sources (bench/lib/), never from the compiled copy in dist/.
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Compiles `files` (repository-relative; the bench first) under the name `name` and returns the
 * compiled path of the first; `say` gets one line with the time it took.
 */
export function compileBench(name: string, files: readonly string[], say: (line: string) => void, runtimeHint: string): string {
  const dist = join(REPO_ROOT, 'dist');
  mkdirSync(dist, { recursive: true });
  const config = join(dist, `.bench-${name}.tsconfig.json`);
  writeFileSync(config, JSON.stringify({
    extends: join(REPO_ROOT, 'tsconfig.json'),
    compilerOptions: { noEmit: false, outDir: dist, rootDir: REPO_ROOT, incremental: true, tsBuildInfoFile: join(dist, `.bench-${name}.tsbuildinfo`) },
    include: [],
    files: files.map((f) => join(REPO_ROOT, f)),
  }));
  const t = performance.now();
  try {
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { stdio: 'inherit' });
  } finally {
    rmSync(config, { force: true });
  }
  say(`bench:${name}: compiled with tsc into dist/ in ${((performance.now() - t) / 1000).toFixed(1)} s (${runtimeHint} runs the sources under tsx instead)`);
  return join(dist, files[0]!.replace(/\.ts$/, '.js'));
}
