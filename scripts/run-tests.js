#!/usr/bin/env node
// Runs every test/**/*.test.ts file with node:test, TypeScript loaded through tsx.
//   npm test                      all tests
//   npm test -- test/crypto       only the files under (or matching) the given paths
//   npm test -- --coverage        with node's built-in coverage report
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const coverage = args.includes('--coverage');
const filters = args.filter((a) => !a.startsWith('--')).map((a) => resolve(root, a));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = walk(join(root, 'test'), []).sort();
if (filters.length > 0) files = files.filter((f) => filters.some((flt) => f.startsWith(flt)));
if (files.length === 0) {
  process.stderr.write('run-tests: no test files matched\n');
  process.exit(1);
}

const nodeArgs = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000'];
if (coverage) nodeArgs.push('--experimental-test-coverage');
if (!process.stdout.isTTY) nodeArgs.push('--test-reporter=spec');
const r = spawnSync(process.execPath, [...nodeArgs, ...files.map((f) => relative(root, f))], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
