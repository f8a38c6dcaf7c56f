/** The JSON view of LwM2M nodes for the HTTP API: shapes, typed reading, round trips, fuzzing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { lwm2mValue as v, multipleResource, objectInstance, singleResource } from '../../../src/lwm2m/model/node.js';
import { parsePath } from '../../../src/lwm2m/model/path.js';
import { ObjectRegistry } from '../../../src/lwm2m/model/registry.js';
import { nodeFromJson, nodeToJson } from '../../../src/lwm2m/server/index.js';

const registry = new ObjectRegistry();

test('nodeToJson: typed values (hex opaque, big integers as strings, objlnk "o:i")', () => {
  const inst = objectInstance(0, [
    singleResource(0, v.string('ACME')),
    singleResource(13, v.time(1700000000)),
    multipleResource(11, [[0, v.integer(0)], [3, v.integer(2n ** 62n)]]),
  ]);
  assert.deepEqual(nodeToJson(inst), {
    kind: 'instance', id: 0, resources: [
      { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' },
      { kind: 'singleResource', id: 13, type: 'time', value: 1700000000 },
      { kind: 'multiResource', id: 11, type: 'integer', values: { 0: 0, 3: '4611686018427387904' } },
    ],
  });
  assert.deepEqual(nodeToJson(singleResource(5, v.opaque(new Uint8Array([1, 0xab])))), { kind: 'singleResource', id: 5, type: 'opaque', value: '01ab' });
  assert.deepEqual(nodeToJson(singleResource(10, v.objlnk(3, 0))), { kind: 'singleResource', id: 10, type: 'objlnk', value: '3:0' });
});

test('nodeFromJson: the object model decides types; nodeToJson output reads back', () => {
  assert.deepEqual(nodeFromJson(registry, parsePath('/3/0/13'), 1700000001), { kind: 'resource', id: 13, multiple: false, value: v.time(1700000001) });
  assert.deepEqual(nodeFromJson(registry, parsePath('/1/0/1'), { value: 600 }), { kind: 'resource', id: 1, multiple: false, value: v.unsigned(600) });
  assert.deepEqual(nodeFromJson(registry, parsePath('/3/0/11/2'), 5), { kind: 'resourceInstance', id: 2, value: v.integer(5) });
  const inst = objectInstance(0, [singleResource(14, v.string('+01:00')), singleResource(13, v.time(5)), multipleResource(11, [[0, v.integer(1)]])]);
  assert.deepEqual(nodeFromJson(registry, parsePath('/3/0'), nodeToJson(inst)), inst);
  assert.deepEqual(nodeFromJson(registry, parsePath('/3/0'), { resources: { 14: '+02:00' } }), objectInstance(0, [singleResource(14, v.string('+02:00'))]));
  for (const [path, body] of [['/3/0/13', 'soon'], ['/3/0/14', 5], ['/1/0/1', -1], ['/3/0/4', 1], ['/3/0/11', 5], ['/3/0', { resources: 5 }], ['/3', {}], ['/3/0/0', { values: { 0: 'x' } }]] as const) {
    assert.throws(() => nodeFromJson(registry, parsePath(path), body), (err: unknown) => ['ERR_LWM2M_BAD_VALUE', 'ERR_LWM2M_BAD_PATH'].includes((err as { code: string }).code), `${path} ${JSON.stringify(body)}`);
  }
});

test('fuzz: nodeFromJson throws only typed errors', () => {
  const path = fc.constantFrom('/3/0', '/3/0/0', '/3/0/11', '/3/0/11/1', '/1/0', '/1/0/1', '/5/0/1', '/99/1/2', '/3/0/13');
  fc.assert(fc.property(path, fc.jsonValue(), (p, body) => {
    try {
      nodeFromJson(registry, parsePath(p), body);
    } catch (err) {
      assert.ok(['ERR_LWM2M_BAD_VALUE', 'ERR_LWM2M_BAD_PATH'].includes((err as { code?: string }).code ?? ''), String(err));
    }
  }), { numRuns: 3000 });
});
