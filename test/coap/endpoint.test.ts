import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoapEndpoint, type CoapEndpointOptions } from '../../src/coap/endpoint.js';
import { CoapCode, CoapType, decodeMessage, encodeMessage, emptyMessage, type CoapMessage } from '../../src/coap/codec.js';
import { OptionNumber, stringOption, uintOption } from '../../src/coap/options.js';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import { MemoryNetwork, settle } from './helpers/memory-network.js';
import { RawPeer } from './helpers/raw-peer.js';

const FAST: CoapEndpointOptions = { transmission: { ackTimeoutMs: 10, maxLatencyMs: 100 }, separateResponseAfterMs: 1000 };
/**
 * For tests on a lossless network that do not test retransmission: FAST's 10 ms ACK timeout gives
 * up after ~0.5 s, which a loaded CI machine's pause can exceed (seen once, ERR_COAP_TIMEOUT).
 */
const STEADY: CoapEndpointOptions = { transmission: { ackTimeoutMs: 1000, maxLatencyMs: 100 }, separateResponseAfterMs: 1000 };
const text = (b: Uint8Array): string => Buffer.from(b).toString();

function pair(opts: CoapEndpointOptions = FAST, net = new MemoryNetwork()) {
  const server = new CoapEndpoint(net.transport('server'), opts);
  const client = new CoapEndpoint(net.transport('client'), opts);
  return { net, server, client, close: async () => { await client.close(); await server.close(); } };
}

function con(code: number, mid: number, token: Uint8Array, options: CoapMessage['options'] = [], payload = new Uint8Array(0)): CoapMessage {
  return { type: CoapType.CON, code, messageId: mid, token, options, payload };
}

test('GET with a piggybacked response; 4.04 and 4.05 defaults', async () => {
  const { server, client, net, close } = pair();
  server.resource('/hello', { get: () => ({ payload: 'hi', contentFormat: 0 }) });
  const res = await client.request('server', { path: '/hello' });
  assert.equal(res.codeText, '2.05');
  assert.equal(text(res.payload), 'hi');
  assert.equal(res.contentFormat, 0);
  assert.equal(res.message.type, CoapType.ACK);
  assert.equal(new Set(net.delivered('server', 'client').map((d) => decodeMessage(d).messageId)).size, 1);
  assert.equal((await client.request('server', { path: '/nope' })).codeText, '4.04');
  assert.equal((await client.request('server', { path: '/hello', method: 'PUT', payload: 'x' })).codeText, '4.05');
  await close();
});

test('unknown method code gets 4.05; format errors: RST for CON, silence for NON and bad versions', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const raw = new RawPeer(net, 'raw');
  raw.send('server', con(8, 1, Uint8Array.of(1)));
  const [r1] = await raw.waitFor(1);
  assert.equal(r1!.code, CoapCode.MethodNotAllowed);
  assert.equal(r1!.type, CoapType.ACK);
  raw.sendBytes('server', Uint8Array.of(0x4a, 0x01, 0x00, 0x02)); // CON with TKL 10
  raw.sendBytes('server', Uint8Array.of(0x50, 0x01, 0x00, 0x03, 0xff)); // NON with empty payload after marker
  raw.sendBytes('server', Uint8Array.of(0x80, 0x01, 0x00, 0x04)); // version 2
  raw.sendBytes('server', Uint8Array.of(0x40, 0x01, 0x00, 0x05, 0xff)); // CON, empty payload after marker
  await raw.waitFor(3);
  await settle(10);
  assert.equal(raw.received.length, 3);
  assert.deepEqual(raw.received.slice(1).map((m) => [m.type, m.code, m.messageId]), [[CoapType.RST, 0, 2], [CoapType.RST, 0, 5]]);
  raw.close();
  await server.close();
});

test('CoAP ping: an empty CON is answered with RST; ping() resolves', async () => {
  const { server, client, close } = pair();
  const net = new MemoryNetwork();
  const s2 = new CoapEndpoint(net.transport('s2'), FAST);
  const raw = new RawPeer(net, 'raw');
  raw.send('s2', emptyMessage(CoapType.CON, 0x1234));
  const [r] = await raw.waitFor(1);
  assert.deepEqual([r!.type, r!.code, r!.messageId], [CoapType.RST, 0, 0x1234]);
  await client.ping('server');
  await assert.rejects(client.ping('nobody'), { code: 'ERR_COAP_TIMEOUT' });
  raw.close();
  await s2.close();
  void server;
  await close();
});

test('critical unknown option in a CON request → 4.02; elective unknown option ignored', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  server.resource('/a', { get: (req) => ({ payload: String(req.options.length) }) });
  const raw = new RawPeer(net, 'raw');
  raw.send('server', con(CoapCode.GET, 1, Uint8Array.of(7), [stringOption(OptionNumber.UriPath, 'a'), { number: 65001, value: Uint8Array.of(1) }]));
  raw.send('server', con(CoapCode.GET, 2, Uint8Array.of(8), [stringOption(OptionNumber.UriPath, 'a'), { number: 65002, value: Uint8Array.of(1) }]));
  const msgs = await raw.waitFor(2);
  const byMid = new Map(msgs.map((m) => [m.messageId, m]));
  assert.equal(byMid.get(1)!.code, CoapCode.BadOption);
  assert.deepEqual(byMid.get(1)!.token, Uint8Array.of(7));
  assert.equal(byMid.get(2)!.code, CoapCode.Content);
  assert.equal(text(byMid.get(2)!.payload), '1'); // only Uri-Path reached the handler
  raw.close();
  await server.close();
});

test('duplicate CON requests are processed once and answered with the same response', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  let calls = 0;
  server.resource('/count', { post: () => ({ payload: String(++calls) }) });
  const raw = new RawPeer(net, 'raw');
  const req = con(CoapCode.POST, 77, Uint8Array.of(1, 2), [stringOption(OptionNumber.UriPath, 'count')]);
  raw.send('server', req);
  await raw.waitFor(1);
  raw.send('server', req);
  raw.send('server', { ...req, messageId: 78 });
  const msgs = await raw.waitFor(3);
  assert.equal(calls, 2);
  assert.deepEqual(encodeMessage(msgs[0]!), encodeMessage(msgs.find((m, i) => i > 0 && m.messageId === 77)!));
  assert.equal(text(msgs.find((m) => m.messageId === 78)!.payload), '2');
  raw.close();
  await server.close();
});

test('a slow handler gets an empty ACK first, then a CON separate response that the client ACKs', async () => {
  const net = new MemoryNetwork();
  const opts: CoapEndpointOptions = { ...FAST, separateResponseAfterMs: 1 };
  const server = new CoapEndpoint(net.transport('server'), opts);
  const client = new CoapEndpoint(net.transport('client'), opts);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  server.resource('/slow', { get: async () => { await gate; return { payload: 'done' }; } });
  // Open the gate only once the empty ACK has gone on the wire.
  net.filter = (from, _to, data) => {
    const m = decodeMessage(data);
    if (from === 'server' && m.type === CoapType.ACK && m.code === 0) setImmediate(release);
    return false;
  };
  const res = await client.request('server', { path: '/slow' });
  assert.equal(text(res.payload), 'done');
  assert.equal(res.message.type, CoapType.CON);
  await settle(10);
  const fromServer = net.delivered('server', 'client').map((d) => decodeMessage(d));
  assert.equal(fromServer[0]!.type, CoapType.ACK);
  assert.equal(fromServer[0]!.code, 0);
  assert.equal(fromServer[1]!.type, CoapType.CON);
  const fromClient = net.delivered('client', 'server').map((d) => decodeMessage(d));
  assert.ok(fromClient.some((m) => m.type === CoapType.ACK && m.code === 0 && m.messageId === fromServer[1]!.messageId));
  await client.close();
  await server.close();
});

test('CON retransmission with back-off: lost datagrams are resent, giving up after MAX_RETRANSMIT', async () => {
  const { server, client, net, close } = pair();
  server.resource('/x', { get: () => ({ payload: 'ok' }) });
  let dropped = 0;
  let calls = 0;
  server.resource('/y', { get: () => ({ payload: String(++calls) }) });
  net.filter = (from) => from === 'client' && dropped++ < 3;
  const res = await client.request('server', { path: '/y' });
  assert.equal(text(res.payload), '1');
  const sent = net.wire.filter((w) => w.from === 'client');
  assert.ok(sent.length >= 4, 'three lost transmissions, then one that arrived');
  assert.ok(sent.every((w) => Buffer.compare(w.data, sent[0]!.data) === 0), 'same message ID and bytes each time');
  net.filter = (from, to) => from === 'client' && to === 'void';
  const before = net.wire.length;
  await assert.rejects(client.request('void', { path: '/x' }), { code: 'ERR_COAP_TIMEOUT' });
  const toVoid = net.wire.slice(before).filter((w) => w.to === 'void');
  assert.equal(toVoid.length, 1 + 4);
  assert.ok(toVoid.every((w) => Buffer.compare(w.data, toVoid[0]!.data) === 0), 'retransmissions are identical');
  await close();
});

test('a Reset to a request fails it with ERR_COAP_RESET; a NON request gets a NON response', async () => {
  const net = new MemoryNetwork();
  const client = new CoapEndpoint(net.transport('client'), FAST);
  const server = new CoapEndpoint(net.transport('server'), FAST);
  server.resource('/n', { get: () => ({ payload: 'non' }) });
  const raw = new RawPeer(net, 'raw');
  const p = client.request('raw', { path: '/r' });
  const [req] = await raw.waitFor(1);
  raw.send('client', emptyMessage(CoapType.RST, req!.messageId));
  await assert.rejects(p, { code: 'ERR_COAP_RESET' });
  const res = await client.request('server', { path: '/n', confirmable: false });
  assert.equal(res.message.type, CoapType.NON);
  assert.equal(text(res.payload), 'non');
  raw.close();
  await client.close();
  await server.close();
});

test('NSTART=1: concurrent requests to one server are sent one at a time', async () => {
  const { server, client, close } = pair(STEADY);
  let inFlight = 0;
  let maxInFlight = 0;
  server.resource('/q', {
    get: async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await settle(3);
      inFlight--;
      return { payload: 'q' };
    },
  });
  const all = await Promise.all(Array.from({ length: 5 }, () => client.request('server', { path: '/q' })));
  assert.equal(all.length, 5);
  assert.equal(maxInFlight, 1);
  await close();
});

test('router: wildcard paths, methods, /.well-known/core with attributes and filters', async () => {
  const { server, client, close } = pair(STEADY);
  server.resource('/fw/*', { get: (req) => ({ payload: req.wildcard.join('|') }), attributes: { rt: 'firmware' } });
  server.resource('/fw/exact', { get: () => ({ payload: 'exact' }) });
  server.resource('/sensors/temp', { get: () => ({ payload: '21' }), observable: true, attributes: { rt: 'temperature-c', if: 'sensor', ct: [0, 60] } });
  server.resource('/dev', { post: (req) => ({ code: CoapCode.Created, payload: req.payload }), delete: () => ({}) });
  server.resource('/hidden', { get: () => ({}), hidden: true });
  assert.equal(text((await client.request('server', { path: '/fw/a/b' })).payload), 'a|b');
  assert.equal(text((await client.request('server', { path: '/fw' })).payload), '');
  assert.equal(text((await client.request('server', { path: '/fw/exact' })).payload), 'exact');
  const post = await client.request('server', { path: '/dev', method: 'POST', payload: 'body' });
  assert.deepEqual([post.codeText, text(post.payload)], ['2.01', 'body']);
  assert.equal((await client.request('server', { path: '/dev', method: 'DELETE' })).codeText, '2.02');
  const wk = await client.request('server', { path: '/.well-known/core' });
  assert.equal(wk.contentFormat, 40);
  const links = parseLinkFormat(text(wk.payload));
  assert.deepEqual(links.map((l) => l.target).sort(), ['/dev', '/fw/*', '/fw/exact', '/sensors/temp']);
  const temp = links.find((l) => l.target === '/sensors/temp')!;
  assert.deepEqual(temp.attributes, [{ name: 'rt', value: 'temperature-c' }, { name: 'if', value: 'sensor' }, { name: 'ct', value: '0 60' }, { name: 'obs' }]);
  const filtered = await client.request('server', { path: '/.well-known/core', query: ['rt=temp*'] });
  assert.deepEqual(parseLinkFormat(text(filtered.payload)).map((l) => l.target), ['/sensors/temp']);
  await close();
});

test('No-Response (RFC 7967) suppresses the response; a CON still gets its empty ACK', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  let got = '';
  server.resource('/log', { post: (req) => { got = text(req.payload); return {}; } });
  const raw = new RawPeer(net, 'raw');
  raw.send('server', con(CoapCode.POST, 5, Uint8Array.of(1), [stringOption(OptionNumber.UriPath, 'log'), uintOption(OptionNumber.NoResponse, 2)], Buffer.from('entry')));
  const [ack] = await raw.waitFor(1);
  assert.deepEqual([ack!.type, ack!.code, ack!.messageId], [CoapType.ACK, 0, 5]);
  assert.equal(got, 'entry');
  raw.close();
  await server.close();
});

test('responses with an unknown token are rejected with RST', async () => {
  const net = new MemoryNetwork();
  const client = new CoapEndpoint(net.transport('client'), FAST);
  const raw = new RawPeer(net, 'raw');
  raw.send('client', { type: CoapType.CON, code: CoapCode.Content, messageId: 9, token: Uint8Array.of(9, 9), options: [], payload: Buffer.from('?') });
  raw.send('client', { type: CoapType.NON, code: CoapCode.Content, messageId: 10, token: Uint8Array.of(9, 8), options: [uintOption(OptionNumber.Observe, 5)], payload: Buffer.from('?') });
  const msgs = await raw.waitFor(2);
  assert.deepEqual(msgs.map((m) => [m.type, m.messageId]).sort((a, b) => a[1]! - b[1]!), [[CoapType.RST, 9], [CoapType.RST, 10]]);
  raw.close();
  await client.close();
});

test('close() fails open exchanges with ERR_COAP_CANCELLED', async () => {
  const net = new MemoryNetwork();
  const client = new CoapEndpoint(net.transport('client'), { transmission: { ackTimeoutMs: 60_000 } });
  const p1 = client.request('nowhere', { path: '/a' });
  const p2 = client.request('nowhere', { path: '/b' }); // queued behind NSTART
  await settle();
  await client.close();
  await assert.rejects(p1, { code: 'ERR_COAP_CANCELLED' });
  await assert.rejects(p2, { code: 'ERR_COAP_CANCELLED' });
});

test('handler failures give 5.00; Accept mismatch gives 4.06; Proxy-Uri gives 5.05', async () => {
  const { server, client, close } = pair();
  server.resource('/throw', { get: () => { throw new Error('boom'); } });
  server.resource('/badopt', { get: () => ({ options: [{ number: 70000, value: new Uint8Array(0) }] }) });
  server.resource('/json', { get: (req) => (req.accept === 60 ? { payload: Uint8Array.of(0xa0), contentFormat: 60 } : { payload: '{}', contentFormat: 50 }) });
  assert.equal((await client.request('server', { path: '/throw' })).codeText, '5.00');
  assert.equal((await client.request('server', { path: '/badopt' })).codeText, '5.00');
  assert.equal((await client.request('server', { path: '/json', accept: 60 })).contentFormat, 60);
  assert.equal((await client.request('server', { path: '/json', accept: 50 })).codeText, '2.05');
  assert.equal((await client.request('server', { path: '/json', accept: 0 })).codeText, '4.06');
  assert.equal((await client.request('server', { path: '/json', options: [stringOption(OptionNumber.ProxyUri, 'coap://other/x')] })).codeText, '5.05');
  await close();
});

test('a transport that throws on send (DTLS session gone) fails the exchange with ERR_COAP_SEND_FAILED', async () => {
  const received: Array<(peer: string, data: Uint8Array) => void> = [];
  const throwing = {
    send: (peer: string) => { throw new Error(`no session with ${peer}`); },
    onDatagram: (cb: (peer: string, data: Uint8Array) => void) => void received.push(cb),
    close: () => {},
  };
  const ep = new CoapEndpoint(throwing, FAST);
  await assert.rejects(ep.request('gone', { path: '/a' }), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'ERR_COAP_SEND_FAILED' && e.cause instanceof Error);
  await assert.rejects(ep.request('gone', { path: '/a', confirmable: false }), { code: 'ERR_COAP_SEND_FAILED' });
  await assert.rejects(ep.ping('gone'), { code: 'ERR_COAP_SEND_FAILED' });
  // Receiving a request whose answer cannot be sent is survived.
  ep.resource('/r', { get: () => ({ payload: 'x' }) });
  received[0]!('gone', encodeMessage(con(CoapCode.GET, 1, Uint8Array.of(1), [stringOption(OptionNumber.UriPath, 'r')])));
  await settle(5);
  await ep.close();
});

test('bad endpoint options and arguments are named in ERR_INVALID_ARGUMENT', async () => {
  const net = new MemoryNetwork();
  const t = net.transport('x');
  assert.throws(() => new CoapEndpoint(t, { tokenLength: 9 }), { code: 'ERR_INVALID_ARGUMENT', argument: 'tokenLength' });
  assert.throws(() => new CoapEndpoint(t, { transmission: { ackTimeoutMs: 0 } }), { argument: 'transmission.ackTimeoutMs' });
  assert.throws(() => new CoapEndpoint(t, { transmission: { nstart: 0 } }), { argument: 'transmission.nstart' });
  assert.throws(() => new CoapEndpoint(t, { preferredBlockSzx: 7 }), { argument: 'preferredBlockSzx' });
  assert.throws(() => new CoapEndpoint(t, { maxRequestBodySize: -1 }), { argument: 'maxRequestBodySize' });
  assert.throws(() => new CoapEndpoint({} as never), { argument: 'transport' });
  const ep = new CoapEndpoint(t, FAST);
  assert.throws(() => ep.resource('relative', {}), { argument: 'path' });
  assert.throws(() => ep.resource('/a/*/b', {}), { argument: 'path' });
  await assert.rejects(ep.request('peer', { block2Szx: 7 }), { argument: 'block2Szx' });
  await assert.rejects(ep.request(42 as never, {}), { argument: 'peer' });
  await ep.close();
});

test('a synchronous handler is answered within the call that delivered the request; an async one after it', async () => {
  let deliver!: (peer: string, data: Uint8Array) => void;
  const sent: CoapMessage[] = [];
  const transport = { send: (_peer: string, data: Uint8Array) => void sent.push(decodeMessage(data)), onDatagram: (cb: (peer: string, data: Uint8Array) => void) => void (deliver = cb), close: () => undefined };
  const server = new CoapEndpoint(transport, FAST);
  server.resource('/sync', { get: () => ({ payload: 'now' }) });
  server.resource('/async', { get: async () => ({ payload: 'later' }) });
  deliver('peer', encodeMessage(con(CoapCode.GET, 1, Uint8Array.of(1), [stringOption(OptionNumber.UriPath, 'sync')])));
  assert.deepEqual(sent.map((m) => [m.type, m.code, text(m.payload)]), [[CoapType.ACK, CoapCode.Content, 'now']]);
  deliver('peer', encodeMessage(con(CoapCode.GET, 2, Uint8Array.of(2), [stringOption(OptionNumber.UriPath, 'async')])));
  assert.equal(sent.length, 1);
  await settle(5);
  assert.deepEqual(sent.map((m) => [m.type, m.code, text(m.payload)])[1], [CoapType.ACK, CoapCode.Content, 'later']);
  await server.close();
});

test('synchronous handlers with an immediate separate-response delay: no empty ACK; duplicates get the same bytes; a throwing handler gives 5.00', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), { ...FAST, separateResponseAfterMs: 0 });
  let calls = 0;
  server.resource('/now', { get: () => ({ payload: `call ${++calls}` }) });
  server.resource('/boom', {
    get: () => {
      throw new Error('handler bug');
    },
  });
  const raw = new RawPeer(net, 'raw');
  const token = Uint8Array.of(1, 2);
  const get = con(CoapCode.GET, 0x1234, token, [stringOption(OptionNumber.UriPath, 'now')]);
  raw.send('server', get);
  raw.send('server', get); // a retransmission: deduplicated, answered with the same reply
  raw.send('server', con(CoapCode.GET, 0x1235, token, [stringOption(OptionNumber.UriPath, 'boom')]));
  const got = await raw.waitFor(3);
  await settle(5);
  assert.equal(calls, 1);
  assert.equal(raw.received.length, 3, 'no empty ACK: the response was ready before any timer');
  assert.deepEqual([got[0]!.type, got[0]!.code, got[0]!.messageId, text(got[0]!.payload)], [CoapType.ACK, CoapCode.Content, 0x1234, 'call 1']);
  assert.deepEqual(encodeMessage(got[1]!), encodeMessage(got[0]!));
  assert.deepEqual([got[2]!.type, got[2]!.code, got[2]!.messageId], [CoapType.ACK, CoapCode.InternalServerError, 0x1235]);
  raw.close();
  await server.close();
});

test('resolveResources: a resource made on a path\'s first request answers it (and observes there); others fall to the wildcard; removed resolvers stop', async () => {
  const { server, client, close } = pair();
  server.resource('/*', { get: (req) => ({ payload: `wildcard ${req.wildcard.join('/')}` }) });
  const asked: string[] = [];
  let count = 0;
  const stop = server.resolveResources((path) => {
    asked.push(path.join('/'));
    if (path.length === 2 && path[0] === 'lazy') server.resource(`/lazy/${path[1]}`, { get: () => ({ payload: `lazy ${path[1]} ${++count}` }), observable: true });
  });
  assert.equal(text((await client.request('server', { path: '/lazy/a' })).payload), 'lazy a 1');
  // Made once: the second request finds the entry without asking.
  assert.equal(text((await client.request('server', { path: '/lazy/a' })).payload), 'lazy a 2');
  assert.equal(text((await client.request('server', { path: '/other/x' })).payload), 'wildcard other/x');
  assert.deepEqual(asked, ['lazy/a', 'other/x']);
  const notes: string[] = [];
  const obs = await client.observe('server', { path: '/lazy/b' }, (r) => notes.push(text(r.payload)));
  assert.equal(text(obs.response.payload), 'lazy b 3');
  assert.equal(obs.active, true, 'the Observe relation sits on the resolved entry');
  const entry = server.router.resources.find((r) => r.path === '/lazy/b');
  assert.ok(entry !== undefined, 'the resolver registered /lazy/b');
  stop();
  assert.equal(text((await client.request('server', { path: '/lazy/c' })).payload), 'wildcard lazy/c');
  assert.deepEqual(asked, ['lazy/a', 'other/x', 'lazy/b']);
  await obs.cancel();
  await close();
});
