/**
 * The device SDK against the LwM2M server over DTLS-PSK on loopback: register, Read /3/0 in every
 * content format, Discover, Observe /3/0/13 with notifications, Write, Write-Attributes, Execute,
 * Create/Delete, Read-/Write-Composite, Send, De-register; and queue mode.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ContentFormat } from '../../src/coap/content-format.js';
import { addServerAccount, createLwm2mClient, type Lwm2mClient } from '../../src/client/index.js';
import { lwm2mValue as v, objectInstance, singleResource, type Lwm2mNode, type ObjectInstanceNode } from '../../src/lwm2m/model/node.js';
import { formatPath } from '../../src/lwm2m/model/path.js';
import type { NotificationEvent } from '../../src/lwm2m/server/index.js';
import { nextEvent } from '../lwm2m/server/helpers.js';
import { startPskServer, type PskServer } from './helpers.js';

const KEY = new Uint8Array(Buffer.from('00112233445566778899aabbccddeeff', 'hex'));

async function startClient(t: TestContext, server: PskServer, endpointName: string, extra: { queueMode?: boolean; clock?: () => number; onReboot?: () => void } = {}): Promise<Lwm2mClient> {
  await server.addDevice(endpointName, `${endpointName}-psk`, KEY);
  const client = createLwm2mClient({
    endpointName,
    device: { manufacturer: 'ACME', modelNumber: 'TH-1', serialNumber: 'SN-1', firmwareVersion: '1.0.0', batteryLevel: 87, ...(extra.clock ? { clock: extra.clock } : {}) },
    deviceActions: { reboot: () => extra.onReboot?.() },
    ...(extra.queueMode !== undefined ? { queueMode: extra.queueMode } : {}),
    coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } },
  });
  addServerAccount(client.tree, { uri: server.uri, security: { mode: 'psk', identity: `${endpointName}-psk`, key: KEY }, lifetime: 300 });
  t.after(() => client.close());
  return client;
}

function instance(node: Lwm2mNode): ObjectInstanceNode {
  assert.equal(node.kind, 'instance');
  return node as ObjectInstanceNode;
}

function valueOf(inst: ObjectInstanceNode, r: number): unknown {
  const res = inst.resources.get(r);
  assert.ok(res !== undefined && !res.multiple, `resource ${r}`);
  return res.value.value;
}

test('SDK ⇄ server over DTLS-PSK: register, read in every format, observe, write, execute, composite, Send, de-register', async (t) => {
  const server = await startPskServer(t);
  let now = 1_700_000_000;
  let reboots = 0;
  const client = await startClient(t, server, 'sdk-1', { clock: () => now, onReboot: () => reboots++ });
  const registered = nextEvent<{ registration: { endpoint: string; objectLinks: string; security: string } }>(server.lwm2m, 'registered');
  await client.start();
  const reg = (await registered).registration;
  assert.equal(reg.endpoint, 'sdk-1');
  assert.equal(reg.security, 'psk');
  assert.match(reg.objectLinks, /<\/3\/0>/);
  assert.doesNotMatch(reg.objectLinks, /<\/0\//, 'the Security object is never listed');
  assert.ok(client.location?.startsWith('/rd/'));

  // Read /3/0 in every multi-value content format (Core §7.4).
  for (const format of [ContentFormat.LwM2mTlv, ContentFormat.SenmlJson, ContentFormat.SenmlCbor, ContentFormat.LwM2mCbor]) {
    const r = await server.lwm2m.read('sdk-1', '/3/0', { format });
    assert.equal(r.format, format);
    const inst = instance(r.node);
    assert.equal(valueOf(inst, 0), 'ACME', `format ${format}`);
    assert.equal(valueOf(inst, 1), 'TH-1');
    assert.equal(Number(valueOf(inst, 13)), now);
    assert.equal(inst.resources.has(4), false, 'executable resources hold no value');
  }
  const single = await server.lwm2m.read('sdk-1', '/3/0/0', { format: ContentFormat.TextPlain });
  assert.deepEqual(single.node, { kind: 'resource', id: 0, multiple: false, value: v.string('ACME') });
  await assert.rejects(server.lwm2m.read('sdk-1', '/3/0/0', { format: ContentFormat.OctetStream }), { code: 'ERR_LWM2M_DEVICE_ERROR', coapCode: 134 });
  await assert.rejects(server.lwm2m.read('sdk-1', '/3/7'), { code: 'ERR_LWM2M_DEVICE_ERROR', codeText: '4.04' });
  await assert.rejects(server.lwm2m.read('sdk-1', '/0/1'), { code: 'ERR_LWM2M_DEVICE_ERROR', codeText: '4.01' }, 'the Security object is for the bootstrap server only');

  const links = await server.lwm2m.discover('sdk-1', '/3/0');
  assert.ok(links.some((l) => l.path !== undefined && formatPath(l.path) === '/3/0/13'));
  assert.equal(links.find((l) => l.path !== undefined && formatPath(l.path) === '/3/0/11')?.attributes.dim, 1);

  // Observe /3/0/13; a Write of the time notifies, and so does a device-side change.
  const notes: NotificationEvent[] = [];
  const obs = await server.lwm2m.observe('sdk-1', '/3/0/13', { format: ContentFormat.SenmlCbor, onNotify: (n) => notes.push(n) });
  assert.deepEqual(obs.initial.node, { kind: 'resource', id: 13, multiple: false, value: v.time(now) });
  const first = nextEvent<NotificationEvent>(server.lwm2m, 'notification');
  await server.lwm2m.write('sdk-1', '/3/0/13', v.time(now + 3600));
  assert.deepEqual((await first).node, { kind: 'resource', id: 13, multiple: false, value: v.time(now + 3600) });
  const second = nextEvent<NotificationEvent>(server.lwm2m, 'notification');
  now += 10;
  client.tree.set(3, 0, 13, v.time(now));
  assert.deepEqual((await second).node, { kind: 'resource', id: 13, multiple: false, value: v.time(now + 3600) });
  assert.equal(notes.length, 2);
  assert.deepEqual(server.lwm2m.observations('sdk-1').map((o) => o.id), [obs.id]);
  await obs.cancel();
  assert.deepEqual(server.lwm2m.observations('sdk-1'), []);

  // Write-Attributes: pmax makes the device notify without a change.
  const battery = await server.lwm2m.observe('sdk-1', '/3/0/9', { format: ContentFormat.TextPlain, attributes: { pmax: 1 } });
  const periodic = await nextEvent<NotificationEvent>(server.lwm2m, 'notification', (n) => n.observationId === battery.id);
  assert.deepEqual(periodic.node, battery.initial.node);
  await battery.cancel();
  const discovered = await server.lwm2m.discover('sdk-1', '/3/0/9');
  assert.equal(discovered[0]?.attributes.pmax, 1);
  await assert.rejects(server.lwm2m.writeAttributes('sdk-1', '/3/0/9', { pmin: 10, pmax: 5 }), { codeText: '4.00' });

  // Write (replace and partial update), refusal of read-only resources.
  await server.lwm2m.write('sdk-1', '/3/0/14', v.string('+02:00'));
  assert.deepEqual((await server.lwm2m.read('sdk-1', '/3/0/14')).node, { kind: 'resource', id: 14, multiple: false, value: v.string('+02:00') });
  await server.lwm2m.write('sdk-1', '/3/0', objectInstance(0, [singleResource(15, v.string('Europe/Berlin'))]), { mode: 'update' });
  assert.equal(valueOf(instance((await server.lwm2m.read('sdk-1', '/3/0')).node), 15), 'Europe/Berlin');
  assert.equal(valueOf(instance((await server.lwm2m.read('sdk-1', '/3/0')).node), 14), '+02:00', 'a partial update keeps the rest');
  await assert.rejects(server.lwm2m.write('sdk-1', '/3/0/0', v.string('EVIL')), { codeText: '4.05' });

  // Execute.
  const triggered = nextEvent(server.lwm2m, 'updated');
  await server.lwm2m.execute('sdk-1', '/1/0/8');
  await triggered;
  await server.lwm2m.execute('sdk-1', '/3/0/4');
  assert.equal(reboots, 1);
  await assert.rejects(server.lwm2m.execute('sdk-1', '/3/0/0'), { codeText: '4.05' });

  // Create / Delete on a multiple-instance object (Software Management, 9).
  client.tree.defineObject(9);
  const created = await server.lwm2m.create('sdk-1', 9, [objectInstance(1, [singleResource(0, v.string('app')), singleResource(1, v.string('2.0'))])]);
  assert.deepEqual(created, ['/9/1']);
  assert.equal(valueOf(instance((await server.lwm2m.read('sdk-1', '/9/1')).node), 0), 'app');
  await server.lwm2m.delete('sdk-1', '/9/1');
  await assert.rejects(server.lwm2m.read('sdk-1', '/9/1'), { codeText: '4.04' });

  // Composite operations.
  for (const format of [ContentFormat.SenmlJson, ContentFormat.SenmlCbor, ContentFormat.LwM2mCbor]) {
    const entries = await server.lwm2m.readComposite('sdk-1', ['/3/0/0', '/3/0/2', '/1/0/1'], { format });
    assert.deepEqual(entries.map((e) => [formatPath(e.path), e.value?.value]).sort((x, y) => String(x[0]).localeCompare(String(y[0]))), [['/1/0/1', 300], ['/3/0/0', 'ACME'], ['/3/0/2', 'SN-1']]);
  }
  await server.lwm2m.writeComposite('sdk-1', [{ path: { objectId: 3, instanceId: 0, resourceId: 14 }, value: v.string('-05:00') }, { path: { objectId: 1, instanceId: 0, resourceId: 1 }, value: v.unsigned(600) }]);
  assert.equal(Number((client.tree.get(1, 0, 1) as { value: number }).value), 600);
  assert.equal((client.tree.get(3, 0, 14) as { value: string }).value, '-05:00');

  // Observe-Composite (FETCH with Observe): a change of one listed path notifies with all of them.
  const comp = await server.lwm2m.observeComposite('sdk-1', ['/3/0/14', '/3/0/15'], { format: ContentFormat.SenmlJson });
  assert.deepEqual(comp.initial.entries?.map((e) => e.value?.value), ['-05:00', 'Europe/Berlin']);
  const compNote = nextEvent<NotificationEvent>(server.lwm2m, 'notification', (n) => n.observationId === comp.id);
  await server.lwm2m.write('sdk-1', '/3/0/15', v.string('Asia/Seoul'));
  assert.deepEqual((await compNote).entries?.map((e) => e.value?.value), ['-05:00', 'Asia/Seoul']);
  await comp.cancel();

  // Send.
  const sent = nextEvent<{ endpoint: string; entries: Array<{ path: object; value?: { value: unknown } }> }>(server.lwm2m, 'send');
  await client.send(['/3/0/0', '/3/0/13']);
  const s = await sent;
  assert.equal(s.endpoint, 'sdk-1');
  assert.deepEqual(s.entries.map((e) => e.value?.value), ['ACME', now + 3600]);

  // De-register.
  const gone = nextEvent<{ reason: string }>(server.lwm2m, 'deregistered');
  await client.deregister();
  assert.equal((await gone).reason, 'deregistered');
  await assert.rejects(server.lwm2m.read('sdk-1', '/3/0'), { code: 'ERR_LWM2M_NOT_REGISTERED' });
});

test('queue mode: requests wait until the device next talks, then are delivered in order', async (t) => {
  const server = await startPskServer(t, { queue: { awakeMs: 100 } });
  const client = await startClient(t, server, 'sleepy', { queueMode: true });
  const registered = nextEvent<{ registration: { queueMode: boolean } }>(server.lwm2m, 'registered');
  await client.start();
  assert.equal((await registered).registration.queueMode, true);
  while (await server.lwm2m.isAwake('sleepy')) await new Promise((r) => setTimeout(r, 20));
  const reads = [server.lwm2m.read('sleepy', '/3/0/0'), server.lwm2m.read('sleepy', '/3/0/1')];
  await new Promise((r) => setImmediate(r));
  assert.equal(server.lwm2m.queued('sleepy'), 2, 'held while the device sleeps');
  await client.update();
  const [a, b] = await Promise.all(reads);
  assert.deepEqual([a.node, b.node].map((n) => (n as { value: { value: unknown } }).value.value), ['ACME', 'TH-1']);
  assert.equal(server.lwm2m.queued('sleepy'), 0);
  // A de-registration fails what is still held.
  while (await server.lwm2m.isAwake('sleepy')) await new Promise((r) => setTimeout(r, 20));
  const held = server.lwm2m.read('sleepy', '/3/0/2').then(() => undefined, (err: unknown) => err);
  await new Promise((r) => setImmediate(r));
  await client.deregister();
  assert.equal(((await held) as { code?: string } | undefined)?.code, 'ERR_LWM2M_REQUEST_EXPIRED');
});
