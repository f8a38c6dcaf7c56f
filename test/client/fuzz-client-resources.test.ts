/**
 * Fuzzing the device side: random and mutated Read / Write / Write-Attributes / Execute / Create /
 * Delete / composite requests against the SDK's object tree bound to a CoAP endpoint. Every answer
 * must be 2.xx or 4.xx (4.00 / 4.04 / 4.05 / 4.06 / 4.15 for what it cannot serve), never 5.00.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ClientResources } from '../../src/client/client-resources.js';
import { addConnectivityInstance, addDeviceInstance, addServerInstance, FirmwareUpdateObject, ObjectTree } from '../../src/client/index.js';
import { encodeComposite, encodeNode } from '../../src/lwm2m/codec/content-format.js';
import { lwm2mValue as v, objectInstance, singleResource } from '../../src/lwm2m/model/node.js';
import { makePath } from '../../src/lwm2m/model/path.js';
import { ObjectRegistry } from '../../src/lwm2m/model/registry.js';
import { udpEndpoint } from '../lwm2m/server/helpers.js';

test('fuzz: the SDK answers malformed management requests with 2.xx/4.xx only', async (t) => {
  const registry = new ObjectRegistry();
  const tree = new ObjectTree(registry);
  addDeviceInstance(tree, { manufacturer: 'ACME', modelNumber: 'M', serialNumber: 'S', firmwareVersion: '1' });
  addConnectivityInstance(tree);
  addServerInstance(tree, 0, { shortServerId: 1, lifetime: 300, binding: 'U' });
  new FirmwareUpdateObject(tree);
  tree.defineObject(9);
  const dev = await udpEndpoint(t);
  const resources = new ClientResources(dev.endpoint, tree, { who: 'server', codec: { registry }, defaultFormat: 112, lwm2mVersion: '1.1' });
  t.after(() => resources.close());
  const srv = await udpEndpoint(t);
  const codec = { registry };
  const valid = [
    ...[11542, 110, 112, 11544].map((f) => encodeNode(f, makePath(3, 0), objectInstance(0, [singleResource(14, v.string('+01:00')), singleResource(13, v.time(5))]), codec)),
    ...[110, 112, 11544].map((f) => encodeComposite(f, [{ path: makePath(3, 0, 14), value: v.string('x') }], codec)),
    ...[110, 112, 11544].map((f) => encodeComposite(f, [{ path: makePath(3, 0) }, { path: makePath(1, 0, 1) }], codec)),
    encodeNode(11542, makePath(9), { kind: 'object', id: 9, instances: new Map([[3, objectInstance(3, [singleResource(0, v.string('p'))])]]) }, codec),
  ];
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat({ max: 6 })).map(([b, at, by, cut]) => {
      const out = Uint8Array.from(b.slice(0, Math.max(0, b.length - cut)));
      if (out.length > 0 && by !== 1) out[at % out.length] = (out[at % out.length]! + by) & 0xff;
      return out;
    }),
    fc.constantFrom(...valid),
  );
  const path = fc.constantFrom('/', '/3', '/3/0', '/3/0/13', '/3/0/11', '/3/0/11/0', '/3/0/4', '/3/0/0', '/1/0/1', '/0/0', '/5/0/1', '/5/0/2', '/9', '/9/3', '/4/0/4/7', '/77', '/3/0/99');
  const method = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'FETCH', 'iPATCH');
  const format = fc.constantFrom(undefined, 0, 40, 42, 110, 112, 11542, 11543, 11544, 60);
  const query = fc.array(fc.oneof(fc.constantFrom('pmin=1', 'pmax=0', 'gt=5', 'lt=9', 'st=0', 'st=1', 'pmin', 'epmin=2', 'x=1', 'pmax=abc'), fc.string({ maxLength: 10 })), { maxLength: 4 });
  await fc.assert(fc.asyncProperty(method, path, format, format, query, payload, async (m, p, cf, accept, q, body) => {
    const res = await srv.endpoint.request(dev.key, { method: m as 'GET', path: p, query: q, payload: m === 'GET' || m === 'DELETE' ? new Uint8Array(0) : body, ...(cf !== undefined ? { contentFormat: cf } : {}), ...(accept !== undefined ? { accept } : {}) });
    assert.ok(res.code >> 5 === 2 || res.code >> 5 === 4, `${m} ${p} cf=${cf} accept=${accept} ${q.join('&')} → ${res.codeText} ${Buffer.from(res.payload).toString().slice(0, 120)}`);
  }), { numRuns: 400 });
  const alive = await srv.endpoint.request(dev.key, { method: 'GET', path: '/3/0/0', accept: 0 });
  assert.equal(alive.codeText, '2.05');
});
