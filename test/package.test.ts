import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
};

test('every exports entry has a source index and resolves through the built package', () => {
  // npm install builds dist/ (the prepare script); the exports map points there.
  assert.ok(existsSync(resolve(root, 'dist/src/index.js')), 'dist/ not built: run npm install or npm run build');
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue;
    const src = target.default.replace('./dist/', './').replace(/\.js$/, '.ts');
    assert.ok(existsSync(resolve(root, src)), `${subpath}: ${src} missing`);
    // Self-reference by package name goes through the exports map, as a user's import would.
    const name = subpath === '.' ? 'rootline' : `rootline/${subpath.slice(2)}`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(name)}); if (Object.keys(m).length === 0) process.exit(3);`], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  }
});

test('the bin prints the version from package.json', () => {
  const version = (JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { version: string }).version;
  const r = spawnSync(process.execPath, [resolve(root, pkg.bin.rootline!), '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(version.replace(/\./g, '\\.')));
});
