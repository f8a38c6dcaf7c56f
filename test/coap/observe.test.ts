import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoapEndpoint, type CoapEndpointOptions } from '../../src/coap/endpoint.js';
import { CoapCode, CoapType, decodeMessage, emptyMessage, type CoapMessage } from '../../src/coap/codec.js';
import { OptionNumber, getUintOption, stringOption, uintOption } from '../../src/coap/options.js';
import { isFresherNotification, ObserveRegistry } from '../../src/coap/observe.js';
import type { CoapResponse } from '../../src/coap/client.js';
import { MemoryNetwork, settle } from './helpers/memory-network.js';
import { RawPeer } from './helpers/raw-peer.js';

const FAST: CoapEndpointOptions = { transmission: { ackTimeoutMs: 10, maxLatencyMs: 100 } };
const text = (b: Uint8Array): string => Buffer.from(b).toString();

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}

function setup(serverOpts: CoapEndpointOptions = FAST) {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), serverOpts);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  let state = 0;
  const handle = server.resource('/state', { get: () => ({ payload: `s${state}` }), observable: true });
  return { net, server, client, handle, bump: () => { state++; handle.notifyObservers(); }, close: async () => { await client.close(); await server.close(); } };
}

test('RFC 7641 §3.4 freshness rule, with 24-bit wrap and the 128 s escape', () => {
  assert.equal(isFresherNotification(1, 0, 2, 0), true);
  assert.equal(isFresherNotification(2, 0, 1, 0), false);
  assert.equal(isFresherNotification(5, 0, 5, 0), false);
  assert.equal(isFresherNotification(0xffffff, 0, 0, 0), true);
  assert.equal(isFresherNotification(0, 0, 0xffffff, 0), false);
  assert.equal(isFresherNotification(10, 0, 10 + (1 << 23), 0), false);
  assert.equal(isFresherNotification(10, 0, 9, 128_001), true);
  const reg = new ObserveRegistry<string>({}, 0xfffffe);
  assert.deepEqual([reg.nextSequence(), reg.nextSequence(), reg.nextSequence()], [0xffffff, 0, 1]);
});

test('observe: registration, three notifications with growing sequence numbers, cancel deregisters', async () => {
  const { net, server, client, handle, bump, close } = setup();
  const seen: CoapResponse[] = [];
  const obs = await client.observe('server', { path: '/state' }, (r) => seen.push(r));
  assert.equal(obs.active, true);
  assert.equal(text(obs.response.payload), 's0');
  assert.equal(typeof obs.response.observe, 'number');
  assert.equal(handle.observerCount(), 1);
  for (let i = 0; i < 3; i++) {
    bump();
    await until(() => seen.length === i + 1);
  }
  assert.deepEqual(seen.map((r) => text(r.payload)), ['s1', 's2', 's3']);
  const seqs = [obs.response.observe!, ...seen.map((r) => r.observe!)];
  for (let i = 1; i < seqs.length; i++) assert.ok(isFresherNotification(seqs[i - 1]!, 0, seqs[i]!, 0));
  await obs.cancel();
  assert.equal(handle.observerCount(), 0);
  const dereg = net.delivered('client', 'server').map((d) => decodeMessage(d)).filter((m) => m.code === CoapCode.GET).at(-1)!;
  assert.equal(getUintOption(dereg.options, OptionNumber.Observe), 1);
  bump();
  await settle(10);
  assert.equal(seen.length, 3);
  void server;
  await close();
});

test('observe: a Reset to a notification removes the relation; so does a plain GET with the same token', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const h = server.resource('/o', { get: () => ({ payload: 'x' }), observable: true });
  const raw = new RawPeer(net, 'raw');
  const get = (mid: number, token: number, observe?: number): CoapMessage => ({
    type: CoapType.CON, code: CoapCode.GET, messageId: mid, token: Uint8Array.of(token),
    options: [...(observe === undefined ? [] : [uintOption(OptionNumber.Observe, observe)]), stringOption(OptionNumber.UriPath, 'o')], payload: new Uint8Array(0),
  });
  raw.send('server', get(1, 1, 0));
  await raw.waitFor(1);
  assert.equal(h.observerCount(), 1);
  h.notifyObservers();
  const [, n] = await raw.waitFor(2);
  assert.equal(n!.type, CoapType.NON);
  raw.send('server', emptyMessage(CoapType.RST, n!.messageId));
  await until(() => h.observerCount() === 0);
  raw.send('server', get(2, 2, 0));
  await raw.waitFor(3);
  assert.equal(h.observerCount(), 1);
  raw.send('server', get(3, 2));
  const r = (await raw.waitFor(4))[3]!;
  assert.equal(getUintOption(r.options, OptionNumber.Observe), undefined);
  assert.equal(h.observerCount(), 0);
  raw.close();
  await server.close();
});

test('observe: relations per peer are capped; every n-th notification is CON', async () => {
  const { net, client, handle, bump, close } = setup({ ...FAST, observe: { maxPerPeer: 2, confirmableEvery: 2 } });
  const seen: string[] = [];
  const a = await client.observe('server', { path: '/state' }, (r) => seen.push(`a${text(r.payload)}`));
  const b = await client.observe('server', { path: '/state' }, (r) => seen.push(`b${text(r.payload)}`));
  const c = await client.observe('server', { path: '/state' }, () => {});
  assert.deepEqual([a.active, b.active, c.active], [true, true, false]);
  assert.equal(c.response.observe, undefined);
  assert.equal(handle.observerCount(), 2);
  bump();
  bump();
  await until(() => seen.length === 4);
  const mids = new Set<number>();
  const notes = net.delivered('server', 'client').map((d) => decodeMessage(d)).filter((m) => m.type !== CoapType.ACK && !mids.has(m.messageId) && mids.add(m.messageId) !== undefined);
  assert.deepEqual(notes.map((m) => m.type).sort(), [CoapType.CON, CoapType.CON, CoapType.NON, CoapType.NON]);
  await a.cancel();
  await b.cancel();
  await c.cancel();
  await close();
});

test('observe: an unacknowledged CON notification removes the relation', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  const h = server.resource('/c', { get: () => ({ payload: 'c' }), observable: true, confirmableNotifications: true });
  const ended: Array<Error | undefined> = [];
  await client.observe('server', { path: '/c' }, () => {}, (e) => ended.push(e));
  net.filter = (_from, to) => to === 'client';
  h.notifyObservers();
  await until(() => h.observerCount() === 0);
  const sentCon = net.wire.filter((w) => w.to === 'client' && decodeMessage(w.data).type === CoapType.CON);
  assert.equal(sentCon.length, 5);
  await client.close();
  await server.close();
});

test('observe client: stale (reordered) notifications are ignored; an error notification ends it', async () => {
  const net = new MemoryNetwork();
  const client = new CoapEndpoint(net.transport('client'), FAST);
  const raw = new RawPeer(net, 'raw');
  const seen: string[] = [];
  let ended = false;
  const p = client.observe('raw', { path: '/t' }, (r) => seen.push(`${r.codeText}:${text(r.payload)}`), () => (ended = true));
  const [reg] = await raw.waitFor(1);
  const reply = (type: CoapMessage['type'], mid: number, seq: number | undefined, payload: string, code: number = CoapCode.Content): void =>
    raw.send('client', { type, code, messageId: mid, token: reg!.token, options: seq === undefined ? [] : [uintOption(OptionNumber.Observe, seq)], payload: Buffer.from(payload) });
  reply(CoapType.ACK, reg!.messageId, 5, 'v5');
  const obs = await p;
  assert.equal(obs.active, true);
  reply(CoapType.NON, 100, 7, 'v7');
  reply(CoapType.NON, 101, 6, 'v6');
  reply(CoapType.CON, 102, 8, 'v8');
  reply(CoapType.NON, 103, 8, 'v8-again');
  await until(() => seen.length === 2);
  await settle(10);
  assert.deepEqual(seen, ['2.05:v7', '2.05:v8']);
  assert.ok(raw.received.some((m) => m.type === CoapType.ACK && m.messageId === 102), 'CON notification acknowledged');
  reply(CoapType.NON, 104, 9, 'gone', CoapCode.NotFound);
  await until(() => ended);
  assert.deepEqual(seen.at(-1), '4.04:gone');
  reply(CoapType.NON, 105, 10, 'late');
  await until(() => raw.received.some((m) => m.type === CoapType.RST && m.messageId === 105));
  raw.close();
  await client.close();
});

test('observe: a notification larger than one block is completed with Block2 GETs', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  let n = 0;
  const h = server.resource('/big', { get: () => ({ payload: Buffer.alloc(3000, 0x30 + n) }), observable: true });
  const seen: Uint8Array[] = [];
  const obs = await client.observe('server', { path: '/big' }, (r) => seen.push(r.payload));
  assert.deepEqual(obs.response.payload, new Uint8Array(3000).fill(0x30));
  n = 1;
  h.notifyObservers();
  await until(() => seen.length === 1);
  assert.deepEqual(seen[0], new Uint8Array(3000).fill(0x31));
  await obs.cancel();
  await client.close();
  await server.close();
});

test('observe client: a throwing onNotify ends the observation with that error; the server is told by RST', async () => {
  const { client, handle, bump, close } = setup();
  let ended: Error | undefined;
  await client.observe('server', { path: '/state' }, () => { throw new Error('callback failed'); }, (e) => (ended = e));
  bump();
  await until(() => ended !== undefined);
  assert.equal(ended!.message, 'callback failed');
  bump();
  await until(() => handle.observerCount() === 0);
  await close();
});
