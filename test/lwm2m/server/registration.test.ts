/**
 * Registration interface (OMA LwM2M Core 1.1 §6.2): Register / Update / De-register, spec errors
 * for absurd parameters, the security binding with its audit records, lifetime expiry and a
 * registry that survives a server restart. Devices talk plain UDP here; which credential a peer
 * "authenticated with" is injected through identityOf (the DTLS version is in dtls-psk.test.ts).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { OptionNumber } from '../../../src/coap/options.js';
import { createLwm2mServer, NOSEC_ATTRIBUTE, type PeerIdentity } from '../../../src/lwm2m/server/index.js';
import { nextEvent, tempStore, text, udpEndpoint } from './helpers.js';

const LINKS = '</1/0>,</3/0>,</5/0>';

async function setup(t: TestContext, opts: { sweepIntervalMs?: number } = {}) {
  const db = tempStore(t);
  const store = await db.open();
  await store.devices.createWithCredentials({ endpoint: 'dev-a' }, [{ kind: 'psk', lookup: 'id-a', material: new Uint8Array([1]) }]);
  await store.devices.createWithCredentials({ endpoint: 'dev-b' }, [{ kind: 'psk', lookup: 'id-b', material: new Uint8Array([2]) }]);
  await store.devices.create({ endpoint: 'open-c', attributes: { [NOSEC_ATTRIBUTE]: true } });
  await store.devices.create({ endpoint: 'closed-d' });
  const srv = await udpEndpoint(t);
  const identities = new Map<string, PeerIdentity>();
  const server = createLwm2mServer({ endpoint: srv.endpoint, store, identityOf: (peer) => identities.get(peer), sweepIntervalMs: opts.sweepIntervalMs ?? 60_000 });
  t.after(() => server.close());
  const dev = await udpEndpoint(t);
  return { db, store, server, srv, dev, identities };
}

function locationOf(options: ReadonlyArray<{ number: number; value: Uint8Array }>): string[] {
  return options.filter((o) => o.number === OptionNumber.LocationPath).map((o) => text(o.value));
}

test('Register → 2.01 rd/<id>; Update → 2.04; De-register → 2.02; events and audit records', async (t) => {
  const { store, server, srv, dev, identities } = await setup(t);
  identities.set(dev.key, { kind: 'psk', lookup: 'id-a' });
  const registered = nextEvent<{ registration: { endpoint: string } }>(server, 'registered');
  const res = await dev.endpoint.request(srv.key, { method: 'POST', path: '/rd', query: ['ep=dev-a', 'lt=300', 'lwm2m=1.1', 'b=U'], payload: LINKS, contentFormat: 40 });
  assert.equal(res.codeText, '2.01');
  const loc = locationOf(res.options);
  assert.equal(loc[0], 'rd');
  assert.equal(loc.length, 2);
  assert.equal((await registered).registration.endpoint, 'dev-a');
  const reg = await server.registration('dev-a');
  assert.equal(reg?.id, loc[1]);
  assert.equal(reg?.lifetime, 300);
  assert.equal(reg?.objectLinks, LINKS);
  assert.equal(reg?.security, 'psk');
  assert.equal(reg?.peer, dev.key);

  const updated = nextEvent<{ registration: { lifetime: number } }>(server, 'updated');
  const up = await dev.endpoint.request(srv.key, { method: 'POST', path: ['rd', loc[1]!], query: ['lt=600'] });
  assert.equal(up.codeText, '2.04');
  assert.equal((await updated).registration.lifetime, 600);
  assert.equal((await store.registrations.get(loc[1]!))?.lifetime, 600);

  const gone = nextEvent<{ reason: string }>(server, 'deregistered');
  const del = await dev.endpoint.request(srv.key, { method: 'DELETE', path: ['rd', loc[1]!] });
  assert.equal(del.codeText, '2.02');
  assert.equal((await gone).reason, 'deregistered');
  assert.equal(await server.registration('dev-a'), undefined);
  // Core §6.2.2: an Update of an unknown registration is 4.04 (the client registers again).
  assert.equal((await dev.endpoint.request(srv.key, { method: 'POST', path: ['rd', loc[1]!] })).codeText, '4.04');
  const audit = await store.audit.list({ subject: 'dev-a' });
  assert.deepEqual(audit.map((a) => [a.action, a.outcome]), [['lwm2m.register', 'allow'], ['lwm2m.deregister', 'allow']]);
  assert.equal(audit[0]!.details.credential, 'id-a');
});

test('security binding: another device\'s endpoint, unknown credentials and NoSec get 4.03 and an audit deny', async (t) => {
  const { store, srv, dev, identities } = await setup(t);
  const reg = (ep: string) => dev.endpoint.request(srv.key, { method: 'POST', path: '/rd', query: [`ep=${ep}`, 'lwm2m=1.1'], payload: LINKS });
  identities.set(dev.key, { kind: 'psk', lookup: 'id-a' });
  assert.equal((await reg('dev-b')).codeText, '4.03');
  identities.set(dev.key, { kind: 'psk', lookup: 'nobody' });
  assert.equal((await reg('dev-a')).codeText, '4.03');
  identities.delete(dev.key);
  assert.equal((await reg('dev-a')).codeText, '4.03', 'no authenticated identity at all');
  identities.set(dev.key, { kind: 'nosec', lookup: '' });
  assert.equal((await reg('closed-d')).codeText, '4.03', 'NoSec is off by default');
  assert.equal((await reg('dev-a')).codeText, '4.03', 'a PSK device cannot register without security');
  assert.equal((await reg('open-c')).codeText, '2.01', 'NoSec allowed by the device attribute');
  const denies = (await store.audit.list({ action: 'lwm2m.register' })).filter((a) => a.outcome === 'deny');
  assert.deepEqual(denies.map((a) => a.subject), ['dev-b', 'dev-a', 'dev-a', 'closed-d', 'dev-a']);
  assert.match(String(denies[0]!.details.reason), /bound to another endpoint/);

  // Update / De-register of dev-b's registration from dev-a's credential: 4.03 as well.
  const other = await udpEndpoint(t);
  identities.set(other.key, { kind: 'psk', lookup: 'id-b' });
  const ok = await other.endpoint.request(srv.key, { method: 'POST', path: '/rd', query: ['ep=dev-b'], payload: LINKS });
  const id = locationOf(ok.options)[1]!;
  identities.set(dev.key, { kind: 'psk', lookup: 'id-a' });
  assert.equal((await dev.endpoint.request(srv.key, { method: 'POST', path: ['rd', id] })).codeText, '4.03');
  assert.equal((await dev.endpoint.request(srv.key, { method: 'DELETE', path: ['rd', id] })).codeText, '4.03');
  assert.deepEqual((await store.audit.list({ subject: 'dev-b' })).filter((a) => a.outcome === 'deny').map((a) => a.action).slice(-2), ['lwm2m.update', 'lwm2m.deregister']);
});

test('absurd parameters get the answers the spec names', async (t) => {
  const { srv, dev, identities, store } = await setup(t);
  identities.set(dev.key, { kind: 'psk', lookup: 'id-a' });
  const reg = (query: string[], payload: string | Uint8Array = LINKS, contentFormat?: number) =>
    dev.endpoint.request(srv.key, { method: 'POST', path: '/rd', query, payload, ...(contentFormat !== undefined ? { contentFormat } : {}) });
  assert.equal((await reg(['lt=300'])).codeText, '4.00', 'missing ep');
  assert.equal((await reg(['ep=dev-a', 'lt=0'])).codeText, '4.00', 'lifetime 0');
  assert.equal((await reg(['ep=dev-a', 'lt=99999999999'])).codeText, '4.00', 'lifetime beyond 32 bits');
  assert.equal((await reg(['ep=dev-a', 'lt=31536001'])).codeText, '4.00', 'lifetime over the limit');
  assert.equal((await reg(['ep=dev-a', 'lt=-5'])).codeText, '4.00');
  assert.equal((await reg(['ep=dev-a', 'b=X'])).codeText, '4.00', 'unknown binding');
  assert.equal((await reg(['ep=dev-a', 'b=UU'])).codeText, '4.00');
  assert.equal((await reg(['ep=dev-a', 'lwm2m=9.9'])).codeText, '4.12', 'unsupported version: Precondition Failed');
  assert.equal((await reg(['ep=dev-a', 'lwm2m=one'])).codeText, '4.00');
  assert.equal((await reg(['ep=dev-a', 'ep=dev-b'])).codeText, '4.00', 'repeated parameter');
  assert.equal((await reg(['ep=dev-a'], '</3/0/1>')).codeText, '4.00', 'resources are not listed in a registration');
  assert.equal((await reg(['ep=dev-a'], '<<<')).codeText, '4.00', 'malformed link format');
  assert.equal((await reg(['ep=dev-a'], LINKS, 50)).codeText, '4.15', 'JSON is not link format');
  const many = Array.from({ length: 600 }, (_, i) => `</3/${i}>`).join(',');
  assert.equal((await reg(['ep=dev-a'], many)).codeText, '4.00', 'more object links than allowed');
  const huge = Array.from({ length: 3000 }, (_, i) => `</${i}/0>`).join(',');
  assert.equal((await reg(['ep=dev-a'], huge)).codeText, '4.13', 'object list larger than the payload limit');
  assert.equal(await store.registrations.count(), 0);
  const ok = await reg(['ep=dev-a', 'b=UQ', 'lwm2m=1.0']);
  assert.equal(ok.codeText, '2.01');
  const id = locationOf(ok.options)[1]!;
  assert.equal((await store.registrations.get(id))?.queueMode, true);
  assert.equal((await dev.endpoint.request(srv.key, { method: 'POST', path: ['rd', id], query: ['ep=other'] })).codeText, '4.00', 'ep cannot change in an Update');
  assert.equal((await dev.endpoint.request(srv.key, { method: 'POST', path: ['rd', id], query: ['lt=0'] })).codeText, '4.00');
});

test('lifetime expiry removes the registration (event "deregistered" with reason "expired")', async (t) => {
  const { server, srv, dev, identities, store } = await setup(t, { sweepIntervalMs: 50 });
  identities.set(dev.key, { kind: 'psk', lookup: 'id-a' });
  const expired = nextEvent<{ reason: string; registration: { endpoint: string } }>(server, 'deregistered');
  assert.equal((await dev.endpoint.request(srv.key, { method: 'POST', path: '/rd', query: ['ep=dev-a', 'lt=1'], payload: LINKS })).codeText, '2.01');
  const ev = await expired;
  assert.equal(ev.reason, 'expired');
  assert.equal(ev.registration.endpoint, 'dev-a');
  assert.equal(await store.registrations.count(), 0);
  assert.equal(await server.registration('dev-a'), undefined);
});

test('a registration survives a server restart: the device\'s Update is recognised', async (t) => {
  const { db, store, server, srv, dev, identities } = await setup(t);
  identities.set(dev.key, { kind: 'psk', lookup: 'id-a' });
  const res = await dev.endpoint.request(srv.key, { method: 'POST', path: '/rd', query: ['ep=dev-a', 'lt=300'], payload: LINKS });
  const id = locationOf(res.options)[1]!;
  await server.close();
  await store.close();
  // A new server process: new store connection, new server object, same endpoint socket.
  const store2 = await db.open();
  const server2 = createLwm2mServer({ endpoint: srv.endpoint, store: store2, identityOf: (peer) => identities.get(peer), sweepIntervalMs: 60_000 });
  t.after(() => server2.close());
  const updated = nextEvent<{ registration: { id: string } }>(server2, 'updated');
  assert.equal((await dev.endpoint.request(srv.key, { method: 'POST', path: ['rd', id] })).codeText, '2.04');
  assert.equal((await updated).registration.id, id);
  assert.equal((await server2.registration('dev-a'))?.id, id);
});

test('two nodes on one store: an Update on one node is not mistaken for expiry on the other', async (t) => {
  const { store, server, srv, dev, identities } = await setup(t);
  identities.set(dev.key, { kind: 'psk', lookup: 'id-a' });
  const res = await dev.endpoint.request(srv.key, { method: 'POST', path: '/rd', query: ['ep=dev-a', 'lt=10'], payload: LINKS });
  const id = locationOf(res.options)[1]!;
  assert.equal((await server.registration('dev-a'))?.id, id, 'node A has it cached');
  // Node B: its own endpoint, same store; the device's next Update lands there.
  const srvB = await udpEndpoint(t);
  const nodeB = createLwm2mServer({ endpoint: srvB.endpoint, store, identityOf: (peer) => identities.get(peer), sweepIntervalMs: 60_000 });
  t.after(() => nodeB.close());
  assert.equal((await dev.endpoint.request(srvB.key, { method: 'POST', path: ['rd', id], query: ['lt=100'] })).codeText, '2.04');
  let expiredOnA = 0;
  server.on('deregistered', () => expiredOnA++);
  assert.deepEqual(await server.sweep(Date.now() + 20_000), []);
  assert.equal(expiredOnA, 0);
  assert.equal((await server.registration('dev-a'))?.lifetime, 100, 'node A refreshed its copy from the store');
  // Past the renewed lifetime both agree it is gone.
  assert.deepEqual((await server.sweep(Date.now() + 200_000)).map((r) => r.id), [id]);
  assert.equal(await store.registrations.count(), 0);
});
