/**
 * Notification attributes on the device side (Core 1.1 §5.1.2): pmin delays and coalesces, gt/lt
 * notify on crossing a threshold, st on a step, pmax without a change, attributes on an instance
 * apply to its resources, and Write-Attributes refuses inconsistent values. A raw CoAP endpoint
 * plays the server so the test sees exactly what the device sends.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ClientResources } from '../../src/client/client-resources.js';
import { addDeviceInstance, ObjectTree } from '../../src/client/index.js';
import { lwm2mValue as v } from '../../src/lwm2m/model/node.js';
import { ObjectRegistry } from '../../src/lwm2m/model/registry.js';
import { udpEndpoint } from '../lwm2m/server/helpers.js';

async function setup(t: TestContext) {
  const registry = new ObjectRegistry();
  const tree = new ObjectTree(registry);
  addDeviceInstance(tree, { manufacturer: 'ACME', modelNumber: 'M', serialNumber: 'S', firmwareVersion: '1', batteryLevel: 40 });
  const dev = await udpEndpoint(t);
  const resources = new ClientResources(dev.endpoint, tree, { who: 'server', codec: { registry }, defaultFormat: 112, lwm2mVersion: '1.1' });
  t.after(() => resources.close());
  const srv = await udpEndpoint(t);
  const attrs = async (path: string, query: string[]): Promise<string> => (await srv.endpoint.request(dev.key, { method: 'PUT', path, query })).codeText;
  /** Observes `path` (text/plain) and returns a function that waits for the next notified value. */
  const observe = async (path: string) => {
    const queue: number[] = [];
    const waiters: Array<(n: number) => void> = [];
    const obs = await srv.endpoint.observe(dev.key, { path, accept: 0 }, (res) => {
      const n = Number(Buffer.from(res.payload).toString());
      const w = waiters.shift();
      if (w) w(n);
      else queue.push(n);
    });
    t.after(() => obs.cancel());
    return { obs, next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise<number>((r) => waiters.push(r))) };
  };
  return { tree, attrs, observe, resources };
}

test('observing: false until the server observes a path, then true (a value change may then notify)', async (t) => {
  const { tree, observe, resources } = await setup(t);
  assert.equal(resources.observing, false);
  tree.set(3, 0, 9, v.integer(41));
  assert.equal(resources.observing, false, 'a change with nothing observed observes nothing');
  const o = await observe('/3/0/9');
  assert.equal(resources.observing, true);
  tree.set(3, 0, 9, v.integer(42));
  assert.equal(await o.next(), 42);
  assert.equal(resources.observing, true);
});

test('pmin: changes inside pmin are held back and coalesced into one notification of the latest value', async (t) => {
  const { tree, attrs, observe } = await setup(t);
  assert.equal(await attrs('/3/0/9', ['pmin=1']), '2.04');
  const o = await observe('/3/0/9');
  tree.set(3, 0, 9, v.integer(50));
  tree.set(3, 0, 9, v.integer(51));
  tree.set(3, 0, 9, v.integer(52));
  assert.equal(await o.next(), 52);
});

test('gt / lt notify on crossing, st on a large enough step; small moves stay quiet', async (t) => {
  const { tree, attrs, observe } = await setup(t);
  assert.equal(await attrs('/3/0/9', ['gt=50', 'lt=20']), '2.04');
  const a = await observe('/3/0/9');
  tree.set(3, 0, 9, v.integer(45));
  tree.set(3, 0, 9, v.integer(55));
  assert.equal(await a.next(), 55, '45 crossed nothing; 55 crossed gt=50');
  tree.set(3, 0, 9, v.integer(60));
  tree.set(3, 0, 9, v.integer(15));
  assert.equal(await a.next(), 15, '60 stayed above gt; 15 crossed both');
  await a.obs.cancel();
  assert.equal(await attrs('/3/0/9', ['gt', 'lt', 'st=10']), '2.04');
  const b = await observe('/3/0/9');
  tree.set(3, 0, 9, v.integer(20));
  tree.set(3, 0, 9, v.integer(26));
  assert.equal(await b.next(), 26, 'a step of 5 from 15 is below st=10; 11 is not');
});

test('pmax set on the instance applies to its resources: notifications come without a change', async (t) => {
  const { attrs, observe } = await setup(t);
  assert.equal(await attrs('/3/0', ['pmax=1']), '2.04');
  const o = await observe('/3/0/9');
  assert.equal(await o.next(), 40);
});

test('Write-Attributes refuses unknown names, bad numbers, st <= 0, pmax < pmin and lt >= gt with 4.00', async (t) => {
  const { attrs } = await setup(t);
  for (const q of [['foo=1'], ['pmin=-1'], ['pmin=abc'], ['st=0'], ['pmin=10', 'pmax=5'], ['gt=5', 'lt=9']]) {
    assert.equal(await attrs('/3/0/9', q), '4.00', q.join('&'));
  }
  assert.equal(await attrs('/3/0/77', ['pmin=1']), '4.04', 'only on what exists');
  assert.equal(await attrs('/0/0', ['pmin=1']), '4.01', 'never on the Security object');
});
