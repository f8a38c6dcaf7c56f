import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { openStore, parseStoreUrl } from '../../src/store/index.js';

test('parseStoreUrl: sqlite forms, plain paths, file: URLs and postgres URLs', () => {
  assert.deepEqual(parseStoreUrl('sqlite:./data/rootline.db'), { kind: 'sqlite', file: './data/rootline.db' });
  assert.deepEqual(parseStoreUrl('sqlite:///var/lib/rootline.db'), { kind: 'sqlite', file: '/var/lib/rootline.db' });
  assert.deepEqual(parseStoreUrl('sqlite::memory:'), { kind: 'sqlite', file: ':memory:' });
  assert.deepEqual(parseStoreUrl('data/rootline.db'), { kind: 'sqlite', file: 'data/rootline.db' });
  assert.deepEqual(parseStoreUrl('/abs/x.db'), { kind: 'sqlite', file: '/abs/x.db' });
  assert.deepEqual(parseStoreUrl('file:///tmp/a%20b.db'), { kind: 'sqlite', file: '/tmp/a b.db' });
  assert.deepEqual(parseStoreUrl('postgres://u:p@db:5432/rootline'), { kind: 'postgres', connectionString: 'postgres://u:p@db:5432/rootline' });
  assert.deepEqual(parseStoreUrl('postgresql://db/rootline'), { kind: 'postgres', connectionString: 'postgresql://db/rootline' });
  for (const bad of ['', 'sqlite:', 'mysql://db/x', 'redis://localhost']) {
    assert.throws(() => parseStoreUrl(bad), { code: 'ERR_INVALID_ARGUMENT' }, bad);
  }
  assert.throws(() => parseStoreUrl(42 as never), { code: 'ERR_INVALID_ARGUMENT' });
});

test('openStore: a sqlite: URL and a file: URL open the same database', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-open-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'sub', 'rootline.db');
  const a = await openStore(`sqlite:${file}`);
  assert.equal(a.kind, 'sqlite');
  await a.devices.create({ endpoint: 'shared' });
  await a.close();
  assert.ok(existsSync(file));
  const b = await openStore(pathToFileURL(file).href);
  try {
    assert.equal((await b.devices.get('shared'))?.endpoint, 'shared');
  } finally {
    await b.close();
  }
});
