/**
 * The fleet simulator against a real LwM2M server on loopback (rootline serve's API and store,
 * the LwM2M server on a CoAPs listener): 20 devices provisioned through the API, all registered,
 * and the summary checked against what the server's registry and observations saw.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContentFormat } from '../../src/coap/content-format.js';
import type { NotificationEvent } from '../../src/lwm2m/server/index.js';
import { Fleet, generateCredentials, provisionCredentials, SimProvisioningError, type FleetProgress } from '../../src/sim/index.js';
import { startLwm2mServe } from './lwm2m-serve.js';

const DEVICES = 20;
const OBSERVED = 5;
const READS = 3;

test('20 simulated devices register over DTLS-PSK; summary agrees with the server registry and its notifications', async (t) => {
  const serve = await startLwm2mServe();
  t.after(() => serve.close());
  const creds = generateCredentials('simtest', DEVICES);
  assert.equal(new Set(creds.map((c) => c.identity)).size, DEVICES);
  await provisionCredentials(creds, { api: serve.api, model: 'TH-9', firmwareVersion: '2.1.0' });
  // Provisioned through the API: the store holds each device with its model and PSK binding.
  const stored = await serve.server.store.devices.get(creds[7]!.endpoint);
  assert.equal(stored?.model, 'TH-9');
  assert.equal((await serve.server.store.devices.findCredential('psk', creds[7]!.identity))?.endpoint, creds[7]!.endpoint);
  // Creating the same device twice is refused by the API, and the sim reports it typed.
  await assert.rejects(provisionCredentials(creds.slice(0, 1), { api: serve.api, model: 'TH-9', firmwareVersion: '2.1.0' }), (err: unknown) => err instanceof SimProvisioningError && err.status === 409 && !err.message.includes(Buffer.from(creds[0]!.key).toString('hex')));

  const registeredOnServer = new Set<string>();
  serve.lwm2m.on('registered', (e) => registeredOnServer.add(e.registration.endpoint));
  const fleet = new Fleet({ server: serve.coaps, credentials: creds, model: 'TH-9', firmwareVersion: '2.1.0', rate: 200, clockTickMs: 200, coap: { ackTimeoutMs: 1000, maxRetransmit: 4 } });
  const progress: FleetProgress[] = [];
  fleet.on('progress', (p) => progress.push(p));
  t.after(() => fleet.stop());
  await fleet.start();

  const s = fleet.summary();
  assert.equal(s.devices, DEVICES);
  assert.equal(s.registered, DEVICES, JSON.stringify(s.failedByReason));
  assert.equal(s.failed, 0);
  assert.deepEqual(s.failedByReason, {});
  assert.equal(s.handshakeMs.count, DEVICES);
  assert.equal(s.registrationMs.count, DEVICES);
  // The handshake is part of the registration time, sample for sample.
  assert.ok(s.handshakeMs.p50 <= s.registrationMs.p50 && s.handshakeMs.max <= s.registrationMs.max, JSON.stringify(s));
  assert.ok(s.handshakeMs.p50 > 0);
  assert.equal(s.stillRegistered, DEVICES);

  // The server's registry holds exactly the fleet, each bound to its own PSK identity.
  assert.deepEqual([...registeredOnServer].sort(), creds.map((c) => c.endpoint).sort());
  assert.deepEqual(fleet.registeredEndpoints().sort(), creds.map((c) => c.endpoint).sort());
  for (const c of creds) {
    const reg = await serve.lwm2m.registration(c.endpoint);
    assert.equal(reg?.security, 'psk', c.endpoint);
    assert.equal(reg?.lifetime, 300);
    assert.match(reg.objectLinks, /<\/3\/0>/);
  }

  // Reads reach the devices' Device object: the fleet's model and firmware version.
  for (const c of creds.slice(0, READS)) {
    const r = await serve.lwm2m.read(c.endpoint, '/3/0/1', { format: ContentFormat.TextPlain });
    assert.deepEqual(r.node, { kind: 'resource', id: 1, multiple: false, value: { type: 'string', value: 'TH-9' } });
  }

  // Observe /3/0/13 on some devices: their clocks tick, notifications arrive.
  const received = new Map<string, number>();
  const onNote = (n: NotificationEvent): void => void received.set(n.endpoint, (received.get(n.endpoint) ?? 0) + 1);
  serve.lwm2m.on('notification', onNote);
  for (const c of creds.slice(0, OBSERVED)) await serve.lwm2m.observe(c.endpoint, '/3/0/13', { attributes: { pmin: 0 } });
  const total = (): number => [...received.values()].reduce((a, b) => a + b, 0);
  // Bounded wait for every observed device to have notified at least twice (ticks every 200 ms).
  for (let i = 0; i < 300 && [...received.values()].filter((n) => n >= 2).length < OBSERVED; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal([...received.values()].filter((n) => n >= 2).length, OBSERVED, JSON.stringify([...received]));
  assert.deepEqual([...received.keys()].sort(), creds.slice(0, OBSERVED).map((c) => c.endpoint).sort(), 'only observed devices notify');

  // De-registering every device puts each one's last datagram behind its notifications.
  const { deregistered } = await fleet.stop({ deregister: true });
  assert.equal(deregistered, DEVICES);
  const after = fleet.summary();
  assert.equal(after.notificationsSent, total(), 'every notification the devices sent reached the server');
  // Each Read and each Observe registration was answered outside the clock tick. At least: serve
  // reads on its own too (the firmware delivery driver reads /3/0/3 after a registration).
  assert.ok(after.readsAnswered >= READS + OBSERVED, `${after.readsAnswered} reads answered`);
  for (const c of creds) assert.equal(await serve.lwm2m.registration(c.endpoint), undefined, c.endpoint);
  assert.ok(progress.length === 0 || progress.every((p) => p.registered <= DEVICES && p.failed === 0));
});

test('a device whose PSK the server does not know fails with a typed reason, the others register', async (t) => {
  const serve = await startLwm2mServe();
  t.after(() => serve.close());
  const creds = generateCredentials('simbad', 3);
  await provisionCredentials(creds.slice(0, 2), { api: serve.api, model: 'TH-9', firmwareVersion: '2.1.0' });
  const fleet = new Fleet({ server: serve.coaps, credentials: creds, rate: 100, clockTickMs: 0, coap: { ackTimeoutMs: 500, maxRetransmit: 1 }, dtlsRetransmit: { initialMs: 200, maxRetransmissions: 1 } });
  t.after(() => fleet.stop());
  await fleet.start();
  const s = fleet.summary();
  assert.equal(s.registered, 2);
  assert.equal(s.failed, 1);
  assert.equal(Object.values(s.failedByReason).reduce((a, b) => a + b, 0), 1);
  assert.match(Object.keys(s.failedByReason)[0]!, /^ERR_DTLS_/, JSON.stringify(s.failedByReason));
  assert.equal(s.handshakeMs.count, 2);
  assert.deepEqual(fleet.registeredEndpoints().sort(), creds.slice(0, 2).map((c) => c.endpoint).sort());
});

test('the clock ticks exactly the observed devices: after a cancel it stops, a new Observe or an Observe-Composite starts it again', async (t) => {
  const serve = await startLwm2mServe();
  t.after(() => serve.close());
  const creds = generateCredentials('simwatch', 4);
  await provisionCredentials(creds, { api: serve.api, model: 'TH-9', firmwareVersion: '2.1.0' });
  const fleet = new Fleet({ server: serve.coaps, credentials: creds, model: 'TH-9', rate: 100, clockTickMs: 50, coap: { ackTimeoutMs: 1000, maxRetransmit: 4 } });
  t.after(() => fleet.stop());
  await fleet.start();
  assert.equal(fleet.summary().registered, 4);
  const received = new Map<string, number>();
  serve.lwm2m.on('notification', (n: NotificationEvent) => void received.set(n.endpoint, (received.get(n.endpoint) ?? 0) + 1));
  const seen = (ep: string): number => received.get(ep) ?? 0;
  const waitFor = async (what: string, ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(ok(), `${what}: ${JSON.stringify([...received])}`);
  };
  const [a, b, c] = creds.map((x) => x.endpoint) as [string, string, string];

  // A plain Read is not an observation: the device is looked at by the next tick and dropped.
  await serve.lwm2m.read(c, '/3/0/1', { format: ContentFormat.TextPlain });
  const obsA = await serve.lwm2m.observe(a, '/3/0/13', { attributes: { pmin: 0 } });
  await waitFor('device a notifies', () => seen(a) >= 3);

  // Cancelled: the device stops notifying (its scheduler lets the path go at the next change).
  await obsA.cancel();
  await waitFor('device a sees the cancel', () => fleet.device(a)?.observing === false);
  const sentAfterCancel = fleet.counters.notificationsSent;
  const before = seen(a);
  // Ten ticks: a device the clock still ticked would send on each.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(fleet.counters.notificationsSent, sentAfterCancel, 'no notification after the cancel');
  assert.equal(seen(a), before);

  // Observed again: the read that starts the new observation puts it back under the clock.
  await serve.lwm2m.observe(a, '/3/0/13', { attributes: { pmin: 0 } });
  await waitFor('device a notifies again', () => seen(a) >= before + 3);
  // Observe-Composite (a FETCH, read through the same tree) is ticked too.
  await serve.lwm2m.observeComposite(b, ['/3/0/13']);
  await waitFor('device b notifies (composite)', () => seen(b) >= 3);
  assert.equal(seen(c), 0, 'the device that was only read never notifies');
  assert.equal(seen(creds[3]!.endpoint), 0);
});
