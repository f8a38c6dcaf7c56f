import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoapEndpoint, type CoapEndpointOptions } from '../../src/coap/endpoint.js';
import { CoapCode, CoapType, decodeMessage, type CoapMessage } from '../../src/coap/codec.js';
import { OptionNumber, getOption, getUintOption, opaqueOption, stringOption, uintOption } from '../../src/coap/options.js';
import { decodeBlock, encodeBlock } from '../../src/coap/block.js';
import { MemoryNetwork } from './helpers/memory-network.js';
import { RawPeer } from './helpers/raw-peer.js';

const FAST: CoapEndpointOptions = { transmission: { ackTimeoutMs: 10, maxLatencyMs: 100 } };
const body = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

/** Distinct messages (by message ID) that crossed from → to: retransmissions counted once. */
function distinct(net: MemoryNetwork, from: string, to: string): CoapMessage[] {
  const seen = new Set<number>();
  return net.delivered(from, to).map((d) => decodeMessage(d)).filter((m) => !seen.has(m.messageId) && seen.add(m.messageId) !== undefined);
}

function requestsTo(net: MemoryNetwork, to: string): CoapMessage[] {
  return distinct(net, 'client', to).filter((m) => m.code !== 0);
}

test('Block2: a 20 KiB response arrives whole, in 1024-byte blocks by default', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  const data = body(20 * 1024);
  let calls = 0;
  server.resource('/big', { get: () => { calls++; return { payload: data, contentFormat: 42 }; } });
  const res = await client.request('server', { path: '/big' });
  assert.equal(res.codeText, '2.05');
  assert.deepEqual(res.payload, data);
  assert.equal(res.contentFormat, 42);
  assert.equal(requestsTo(net, 'server').length, 20);
  assert.equal(calls, 1, 'follow-up blocks come from the cached representation');
  const first = distinct(net, 'server', 'client')[0]!;
  assert.equal(getUintOption(first.options, OptionNumber.Size2), data.length);
  assert.deepEqual(decodeBlock(getOption(first.options, OptionNumber.Block2)!), { num: 0, more: true, szx: 6 });
  assert.ok(getOption(first.options, OptionNumber.ETag) !== undefined);
  await client.close();
  await server.close();
});

test('Block2: the client-chosen SZX is honoured (early negotiation); the server never exceeds its own', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), { ...FAST, preferredBlockSzx: 5 });
  const client = new CoapEndpoint(net.transport('client'), FAST);
  const data = body(3000);
  server.resource('/b', { get: () => ({ payload: data }) });
  const small = await client.request('server', { path: '/b', block2Szx: 2 });
  assert.deepEqual(small.payload, data);
  const reqs = requestsTo(net, 'server');
  assert.equal(reqs.length, Math.ceil(3000 / 64));
  assert.ok(reqs.every((m) => decodeBlock(getOption(m.options, OptionNumber.Block2)!).szx === 2));
  const before = reqs.length;
  const big = await client.request('server', { path: '/b', block2Szx: 6 });
  assert.deepEqual(big.payload, data);
  assert.equal(requestsTo(net, 'server').length - before, Math.ceil(3000 / 512));
  await client.close();
  await server.close();
});

test('Block2: a request for a block past the end gets 4.02; a changed representation fails the transfer', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), { ...FAST, maxBlock2CacheEntries: 0 });
  const client = new CoapEndpoint(net.transport('client'), FAST);
  let version = 0;
  server.resource('/v', { get: () => ({ payload: body(2000 + version++) }) });
  await assert.rejects(client.request('server', { path: '/v' }), { code: 'ERR_COAP_BLOCK_TRANSFER' });
  const raw = new RawPeer(net, 'raw');
  raw.send('server', { type: CoapType.CON, code: CoapCode.GET, messageId: 1, token: Uint8Array.of(1), options: [stringOption(OptionNumber.UriPath, 'v'), opaqueOption(OptionNumber.Block2, encodeBlock({ num: 40, more: false, szx: 6 }))], payload: new Uint8Array(0) });
  raw.send('server', { type: CoapType.CON, code: CoapCode.GET, messageId: 2, token: Uint8Array.of(2), options: [stringOption(OptionNumber.UriPath, 'v'), { number: OptionNumber.Block2, value: Uint8Array.of(0x0f) }], payload: new Uint8Array(0) });
  const msgs = await raw.waitFor(2);
  assert.equal(msgs.find((m) => m.messageId === 1)!.code, CoapCode.BadOption);
  // RFC 7959 §2.2: SZX 7 in a request → 4.00.
  assert.equal(msgs.find((m) => m.messageId === 2)!.code, CoapCode.BadRequest);
  raw.close();
  await client.close();
  await server.close();
});

test('Block1: a large request body is uploaded in blocks and reassembled; Size1 sent first', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  let received: Uint8Array | undefined;
  let calls = 0;
  server.resource('/up', { put: (req) => { calls++; received = req.payload; return { payload: `got ${req.payload.length}` }; } });
  const data = body(5000);
  const res = await client.request('server', { path: '/up', method: 'PUT', payload: data, block1Szx: 4 });
  assert.equal(res.codeText, '2.04');
  assert.equal(Buffer.from(res.payload).toString(), 'got 5000');
  assert.deepEqual(received, data);
  assert.equal(calls, 1);
  const reqs = requestsTo(net, 'server');
  assert.equal(reqs.length, Math.ceil(5000 / 256));
  assert.equal(getUintOption(reqs[0]!.options, OptionNumber.Size1), 5000);
  const continues = distinct(net, 'server', 'client').filter((m) => m.code === CoapCode.Continue);
  assert.equal(continues.length, reqs.length - 1);
  await client.close();
  await server.close();
});

test('Block1: the client follows a smaller SZX asked for by the server', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), { ...FAST, preferredBlockSzx: 3 });
  const client = new CoapEndpoint(net.transport('client'), FAST);
  let received: Uint8Array | undefined;
  server.resource('/up', { post: (req) => { received = req.payload; return {}; } });
  const data = body(3000);
  const res = await client.request('server', { path: '/up', method: 'POST', payload: data });
  assert.equal(res.codeText, '2.04');
  assert.deepEqual(received, data);
  const reqs = requestsTo(net, 'server').map((m) => decodeBlock(getOption(m.options, OptionNumber.Block1)!));
  assert.deepEqual(reqs[0], { num: 0, more: true, szx: 6 });
  assert.deepEqual(reqs[1], { num: 8, more: true, szx: 3 }); // byte offset 1024 in 128-byte blocks
  assert.equal(reqs.length, 1 + Math.ceil((3000 - 1024) / 128));
  await client.close();
  await server.close();
});

test('Block1: a body over the limit gets 4.13 with Size1; out-of-order blocks get 4.08', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), { ...FAST, maxRequestBodySize: 2048 });
  const client = new CoapEndpoint(net.transport('client'), FAST);
  let calls = 0;
  server.resource('/up', { put: () => { calls++; return {}; } });
  const res = await client.request('server', { path: '/up', method: 'PUT', payload: body(4096), block1Szx: 4 });
  assert.equal(res.codeText, '4.13');
  assert.equal(getUintOption(res.options, OptionNumber.Size1), 2048);
  assert.equal(requestsTo(net, 'server').length, 1, 'Size1 lets the server refuse on the first block');
  const raw = new RawPeer(net, 'raw');
  const put = (mid: number, num: number, more: boolean, extra: CoapMessage['options'] = []): void =>
    raw.send('server', { type: CoapType.CON, code: CoapCode.PUT, messageId: mid, token: Uint8Array.of(mid), options: [stringOption(OptionNumber.UriPath, 'up'), opaqueOption(OptionNumber.Block1, encodeBlock({ num, more, szx: 4 })), ...extra], payload: body(256) });
  put(1, 0, true);
  await raw.waitFor(1);
  put(2, 2, true);
  await raw.waitFor(2);
  assert.equal(raw.received[0]!.code, CoapCode.Continue);
  assert.equal(raw.received[1]!.code, CoapCode.RequestEntityIncomplete);
  // Without Size1 the limit is found while reassembling.
  for (let i = 0; i < 9; i++) {
    put(10 + i, i, true);
    await raw.waitFor(3 + i);
  }
  assert.equal(raw.received.at(-1)!.code, CoapCode.RequestEntityTooLarge);
  assert.equal(getUintOption(raw.received.at(-1)!.options, OptionNumber.Size1), 2048);
  void uintOption;
  assert.equal(calls, 0);
  raw.close();
  await client.close();
  await server.close();
});

test('Block1 upload whose response needs Block2 (both directions in one request)', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  server.resource('/echo', { post: (req) => ({ payload: Uint8Array.from(req.payload).reverse() }) });
  const data = body(4000);
  const res = await client.request('server', { path: '/echo', method: 'POST', payload: data, block1Szx: 5 });
  assert.deepEqual(res.payload, Uint8Array.from(data).reverse());
  await client.close();
  await server.close();
});

test('Block2 payloads above the client limit fail with ERR_COAP_BODY_TOO_LARGE', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), { ...FAST, maxResponseBodySize: 4096 });
  server.resource('/huge', { get: () => ({ payload: body(10_000) }) });
  await assert.rejects(client.request('server', { path: '/huge' }), { code: 'ERR_COAP_BODY_TOO_LARGE' });
  await client.close();
  await server.close();
});

test('Block2 follow-ups of a POST response are served from the cache, never by re-running the POST', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  let posts = 0;
  server.resource('/rpc', { post: () => { posts++; return { payload: body(3000) }; } });
  const res = await client.request('server', { path: '/rpc', method: 'POST', payload: 'x' });
  assert.deepEqual(res.payload, body(3000));
  assert.equal(posts, 1);
  const noCache = new CoapEndpoint(net.transport('server2'), { ...FAST, maxBlock2CacheEntries: 0 });
  noCache.resource('/rpc', { post: () => { posts++; return { payload: body(3000) }; } });
  await assert.rejects(client.request('server2', { path: '/rpc', method: 'POST', payload: 'x' }), { code: 'ERR_COAP_BLOCK_TRANSFER' });
  assert.equal(posts, 2, 'the POST ran once; block 1 got 4.08 instead of a second run');
  await noCache.close();
  await client.close();
  await server.close();
});

test('streaming both ends: a BlockSource is read one block at a time; download() hands blocks to a sink', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  const SIZE = 100 * 1024 + 17;
  const byteAt = (i: number): number => (i * 131 + (i >> 10)) & 0xff;
  const reads: Array<[number, number]> = [];
  server.resource('/fw/image', {
    get: () => ({
      etag: Uint8Array.of(1, 2, 3, 4),
      contentFormat: 42,
      body: { size: SIZE, read: (offset: number, length: number) => { reads.push([offset, length]); return Uint8Array.from({ length }, (_, k) => byteAt(offset + k)); } },
    }),
  });
  const offsets: number[] = [];
  let mismatches = 0;
  const { response, size } = await client.download('server', { path: '/fw/image', block2Szx: 5 }, (chunk, offset) => {
    offsets.push(offset);
    for (let k = 0; k < chunk.length; k++) if (chunk[k] !== byteAt(offset + k)) mismatches++;
  });
  assert.equal(size, SIZE);
  assert.equal(mismatches, 0);
  assert.equal(response.codeText, '2.05');
  assert.equal(response.contentFormat, 42);
  assert.deepEqual(response.payload, new Uint8Array(0));
  assert.deepEqual(offsets, Array.from({ length: Math.ceil(SIZE / 512) }, (_, i) => i * 512));
  assert.deepEqual(reads, offsets.map((o) => [o, Math.min(512, SIZE - o)]), 'each block read once, never the whole image');
  // The same resource through request() arrives whole.
  const whole = await client.request('server', { path: '/fw/image' });
  assert.equal(whole.payload.length, SIZE);
  assert.equal(whole.payload[SIZE - 1], byteAt(SIZE - 1));
  // A source that fails becomes 5.00.
  server.resource('/broken', { get: () => ({ body: { size: 5000, read: () => { throw new Error('disk gone'); } } }) });
  assert.equal((await client.request('server', { path: '/broken' })).codeText, '5.00');
  await client.close();
  await server.close();
});

test('streamed uploads: Block1 blocks go to the sink as they arrive; limits and breaks abort it', async () => {
  const net = new MemoryNetwork();
  const server = new CoapEndpoint(net.transport('server'), FAST);
  const client = new CoapEndpoint(net.transport('client'), FAST);
  const events: string[] = [];
  let written = 0;
  let mismatches = 0;
  const byteAt = (i: number): number => (i * 7) & 0xff;
  server.resource('/5/0/0', {
    upload: {
      maxSize: 64 * 1024,
      open: (req) => {
        events.push(`open ${req.method} ${req.payload.length}`);
        written = 0;
        return {
          write: async (chunk, offset) => {
            assert.equal(offset, written);
            for (let k = 0; k < chunk.length; k++) if (chunk[k] !== byteAt(offset + k)) mismatches++;
            written += chunk.length;
          },
          finish: () => { events.push(`finish ${written}`); return { payload: `stored ${written}` }; },
          abort: (reason) => events.push(`abort ${reason}`),
        };
      },
    },
    get: () => ({ payload: 'not streamed' }),
  });
  const image = Uint8Array.from({ length: 50_000 }, (_, i) => byteAt(i));
  const res = await client.request('server', { path: '/5/0/0', method: 'PUT', payload: image, block1Szx: 4 });
  assert.equal(res.codeText, '2.04');
  assert.equal(Buffer.from(res.payload).toString(), 'stored 50000');
  assert.equal(mismatches, 0);
  assert.deepEqual(events, ['open PUT 256', 'finish 50000']);
  const small = await client.request('server', { path: '/5/0/0', method: 'POST', payload: image.subarray(0, 100) });
  assert.equal(Buffer.from(small.payload).toString(), 'stored 100');
  events.length = 0;
  const big = await client.request('server', { path: '/5/0/0', method: 'PUT', payload: new Uint8Array(70_000), block1Szx: 6 });
  assert.equal(big.codeText, '4.13');
  assert.equal(getUintOption(big.options, OptionNumber.Size1), 64 * 1024);
  assert.deepEqual(events, [], 'refused from Size1 before any sink was opened');
  const raw = new RawPeer(net, 'raw');
  const put = (mid: number, num: number): void =>
    raw.send('server', { type: CoapType.CON, code: CoapCode.PUT, messageId: mid, token: Uint8Array.of(mid), options: [stringOption(OptionNumber.UriPath, '5'), stringOption(OptionNumber.UriPath, '0'), stringOption(OptionNumber.UriPath, '0'), opaqueOption(OptionNumber.Block1, encodeBlock({ num, more: true, szx: 4 }))], payload: image.subarray(num * 256, num * 256 + 256) });
  put(1, 0);
  await raw.waitFor(1);
  put(2, 3);
  await raw.waitFor(2);
  assert.deepEqual(raw.received.map((m) => m.code), [CoapCode.Continue, CoapCode.RequestEntityIncomplete]);
  assert.deepEqual(events, ['open PUT 256', 'abort block out of sequence']);
  put(3, 0);
  await raw.waitFor(3);
  raw.close();
  await client.close();
  await server.close();
  assert.equal(events.at(-1), 'abort endpoint closed');
});
