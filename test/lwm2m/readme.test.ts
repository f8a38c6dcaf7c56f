/**
 * src/lwm2m/README.md's "Not done yet" list against the code: nothing listed there exists (each
 * item that can be checked in code is checked), and what exists (server, bootstrap server, client
 * SDK) is not listed as missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createLwm2mClient } from '../../src/client/index.js';
import { decodeNode, encodeNode } from '../../src/lwm2m/codec/content-format.js';
import { ObjectRegistry } from '../../src/lwm2m/model/registry.js';
import { parsePath } from '../../src/lwm2m/model/path.js';
import { lwm2mValue as v, singleResource } from '../../src/lwm2m/model/node.js';
import { createBootstrapServer, createLwm2mServer } from '../../src/lwm2m/server/index.js';

const readme = readFileSync(new URL('../../src/lwm2m/README.md', import.meta.url), 'utf8');

function notDone(): string {
  const start = readme.indexOf('\n## Not done yet\n');
  assert.ok(start >= 0, 'the README has a "Not done yet" section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

test('what exists is not listed as missing', () => {
  assert.equal(typeof createLwm2mServer, 'function');
  assert.equal(typeof createBootstrapServer, 'function');
  assert.equal(typeof createLwm2mClient, 'function');
  const section = notDone();
  const items = [...section.matchAll(/^- \*\*(.+?)\*\*/gm)].map((m) => m[1]!);
  assert.ok(items.length > 0, 'the section lists its items as "- **item**: ..."');
  for (const item of items) assert.doesNotMatch(item, /^(the )?(lwm2m )?(bootstrap )?(server|client)( sdk)?s?$/i, `"${item}" exists`);
  // Prose outside the list must not say so either.
  assert.doesNotMatch(section, /server, bootstrap server and client\.?\s*$/m);
  assert.doesNotMatch(readme, /client come later/);
});

test('what is listed as not done really is not', () => {
  const section = notDone();
  for (const key of ['11543', '33629', 'bv', 'bs', 'Block-wise notifications', 'Offline notification storage', 'OSCORE']) assert.ok(section.includes(key), `lists ${key}`);
  const path = parsePath('/3/0/0');
  const registry = new ObjectRegistry();
  assert.throws(() => decodeNode(11543, path, new TextEncoder().encode('{"e":[]}'), { registry }), { code: 'ERR_LWM2M_UNSUPPORTED_FORMAT' });
  assert.throws(() => encodeNode(11543, path, singleResource(0, v.string('x')), { registry }), { code: 'ERR_LWM2M_UNSUPPORTED_FORMAT' });
  assert.equal(registry.get(33629), undefined);
  assert.throws(() => decodeNode(110, path, new TextEncoder().encode('[{"bn":"/3/0/","n":"0","vs":"x","bv":1}]'), { registry }), { code: 'ERR_LWM2M_BAD_PAYLOAD' });
  assert.throws(() => decodeNode(110, path, new TextEncoder().encode('[{"bn":"/3/0/","n":"0","vs":"x","bs":1}]'), { registry }), { code: 'ERR_LWM2M_BAD_PAYLOAD' });
});
