/**
 * Requests reach a device only over a session authenticated as that device (device-channel.ts):
 * the address a registration remembers can later belong to another device — a NAT rebinding, a
 * device that reconnected from a fresh ephemeral port, or, after a server restart, a registration
 * restored from the store whose old address another device now uses. Such a request is refused
 * (ERR_LWM2M_DEVICE_UNREACHABLE) and audited, never answered by the other device. Plain UDP here;
 * which credential a peer "authenticated with" is injected through identityOf, as in
 * registration.test.ts.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { CoapCode } from '../../../src/coap/codec.js';
import type { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { OptionNumber } from '../../../src/coap/options.js';
import { createLwm2mServer, type PeerIdentity } from '../../../src/lwm2m/server/index.js';
import { isRootlineError } from '../../../src/errors.js';
import { tempStore, text, udpEndpoint } from './helpers.js';

const LINKS = '</3/0>';

async function setup(t: TestContext) {
  const db = tempStore(t);
  const store = await db.open();
  await store.devices.createWithCredentials({ endpoint: 'dev-a' }, [{ kind: 'psk', lookup: 'id-a', material: new Uint8Array([1]) }]);
  await store.devices.createWithCredentials({ endpoint: 'dev-b' }, [{ kind: 'psk', lookup: 'id-b', material: new Uint8Array([2]) }]);
  const srv = await udpEndpoint(t);
  const identities = new Map<string, PeerIdentity>();
  const open = () => {
    const server = createLwm2mServer({ endpoint: srv.endpoint, store, identityOf: (peer) => identities.get(peer), sweepIntervalMs: 60_000 });
    t.after(() => server.close());
    return server;
  };
  // The socket a device answers on; it says which firmware it runs.
  const device = async (version: string) => {
    const d = await udpEndpoint(t);
    d.endpoint.resource('/3/0/3', { get: () => ({ code: CoapCode.Content, contentFormat: 0, payload: version }) });
    return d;
  };
  return { db, store, srv, identities, open, device };
}

async function register(dev: { endpoint: CoapEndpoint }, srvKey: string, ep: string): Promise<string> {
  const res = await dev.endpoint.request(srvKey, { method: 'POST', path: '/rd', query: [`ep=${ep}`, 'lt=300'], payload: LINKS, contentFormat: 40 });
  assert.equal(res.codeText, '2.01');
  return res.options.filter((o) => o.number === OptionNumber.LocationPath).map((o) => text(o.value))[1]!;
}

function unreachable(err: unknown): boolean {
  return isRootlineError(err, 'ERR_LWM2M_DEVICE_UNREACHABLE');
}

test('a read goes to the device whose session it is; another device at the remembered address is refused and audited', async (t) => {
  const { store, srv, identities, open, device } = await setup(t);
  const server = open();
  const a = await device('A-1.0.0');
  identities.set(a.key, { kind: 'psk', lookup: 'id-a' });
  await register(a, srv.key, 'dev-a');
  assert.equal(await server.reachable('dev-a'), true);
  assert.equal(((await server.read('dev-a', '/3/0/3', { format: 0 })).node as { value: { value: unknown } }).value.value, 'A-1.0.0');

  // dev-a's address now carries a session authenticated as dev-b (another device took the port).
  identities.set(a.key, { kind: 'psk', lookup: 'id-b' });
  assert.equal(await server.reachable('dev-a'), false);
  await assert.rejects(server.read('dev-a', '/3/0/3', { format: 0 }), unreachable);
  const denied = (await store.audit.list({ subject: 'dev-a' })).filter((r) => r.action === 'lwm2m.route');
  assert.ok(denied.length >= 1, 'the refusal is audited');
  assert.equal(denied[0]!.outcome, 'deny');
  assert.equal(denied[0]!.details.credential, 'id-b');
  assert.match(String(denied[0]!.details.reason), /not bound to it/);

  // No session at all there (idle timeout, restart): unreachable, an ordinary state, not audited.
  identities.delete(a.key);
  const before = (await store.audit.list({ subject: 'dev-a' })).length;
  assert.equal(await server.reachable('dev-a'), false);
  await assert.rejects(server.write('dev-a', '/3/0/14', { type: 'string', value: '+01' }), unreachable);
  assert.equal((await store.audit.list({ subject: 'dev-a' })).length, before);

  // Its own session again: reached.
  identities.set(a.key, { kind: 'psk', lookup: 'id-a' });
  assert.equal(await server.reachable('dev-a'), true);
  assert.equal(((await server.read('dev-a', '/3/0/3', { format: 0 })).node as { value: { value: unknown } }).value.value, 'A-1.0.0');
});

test('after a restart: a restored registration whose old address another device now registers from is not read through that device', async (t) => {
  const { store, srv, identities, open, device } = await setup(t);
  const first = open();
  const a = await device('A-1.0.0');
  identities.set(a.key, { kind: 'psk', lookup: 'id-a' });
  await register(a, srv.key, 'dev-a');
  await first.close();

  // A new server process on the same store. dev-b (already updated, 2.0.0) now sends from the
  // address dev-a's restored registration remembers; dev-a has not spoken since the restart.
  const server = open();
  identities.set(a.key, { kind: 'psk', lookup: 'id-b' });
  const b = a; // the same socket, now dev-b's
  b.endpoint.resource('/3/0/3', { get: () => ({ code: CoapCode.Content, contentFormat: 0, payload: 'B-2.0.0' }) });
  await register(b, srv.key, 'dev-b');
  assert.equal((await server.registration('dev-a'))?.peer, a.key, 'restored with its old address');
  assert.equal((await server.registration('dev-b'))?.peer, a.key);
  await assert.rejects(server.read('dev-a', '/3/0/3', { format: 0 }), unreachable);
  assert.equal(await server.reachable('dev-a'), false);
  assert.equal(await server.reachable('dev-b'), true);
  assert.equal(((await server.read('dev-b', '/3/0/3', { format: 0 })).node as { value: { value: unknown } }).value.value, 'B-2.0.0');

  // dev-a comes back from a new address and updates its registration: reached there.
  const a2 = await device('A-1.0.0');
  identities.set(a2.key, { kind: 'psk', lookup: 'id-a' });
  const id = (await server.registration('dev-a'))!.id;
  assert.equal((await a2.endpoint.request(srv.key, { method: 'POST', path: ['rd', id] })).codeText, '2.04');
  assert.equal(await server.reachable('dev-a'), true);
  assert.equal(((await server.read('dev-a', '/3/0/3', { format: 0 })).node as { value: { value: unknown } }).value.value, 'A-1.0.0');
  assert.ok((await store.audit.list({ subject: 'dev-a' })).some((r) => r.action === 'lwm2m.route' && r.outcome === 'deny'));
});
