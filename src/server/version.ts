/**
 * The package version, read from package.json at run time so `rootline --version`, the health
 * route and the OpenAPI document always agree with what was installed. The file is found by
 * walking up from this module, which works from src/ (tsx) and from dist/src/ (built) alike.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'rootline' && typeof pkg.version === 'string') {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // No package.json at this level (or not ours): keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json of rootline not found above the installed code');
    dir = parent;
  }
}
