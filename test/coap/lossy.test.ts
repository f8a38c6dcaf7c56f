import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoapEndpoint, type CoapEndpointOptions } from '../../src/coap/endpoint.js';
import { MemoryNetwork, seededRandom } from './helpers/memory-network.js';

// 20% loss in both directions. MAX_RETRANSMIT is raised so that the chance of an exchange
// losing all its attempts stays negligible; the loss pattern is seeded, so runs repeat.
const LOSSY: CoapEndpointOptions = { transmission: { ackTimeoutMs: 5, maxRetransmit: 8, maxLatencyMs: 50 }, separateResponseAfterMs: 2 };

function lossyPair(seed: number) {
  const net = new MemoryNetwork(seed);
  net.loss = 0.2;
  const server = new CoapEndpoint(net.transport('server'), { ...LOSSY, random: seededRandom(seed + 1) });
  const client = new CoapEndpoint(net.transport('client'), { ...LOSSY, random: seededRandom(seed + 2) });
  return { net, server, client };
}

test('20% loss both ways: 40 CON exchanges complete, each handled exactly once', async () => {
  const { net, server, client } = lossyPair(7);
  const handled = new Map<string, number>();
  server.resource('/inc', { post: (req) => {
    const k = Buffer.from(req.payload).toString();
    handled.set(k, (handled.get(k) ?? 0) + 1);
    return { payload: `ok ${k}` };
  } });
  // Half of them slow, so separate responses (empty ACK, then CON) cross the lossy link too.
  server.resource('/slow', { get: async () => { await new Promise((r) => setTimeout(r, 4)); return { payload: 'slow' }; } });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => client.request('server', { path: '/inc', method: 'POST', payload: String(i) })));
  assert.deepEqual(results.map((r) => Buffer.from(r.payload).toString()), Array.from({ length: 20 }, (_, i) => `ok ${i}`));
  assert.equal(handled.size, 20);
  assert.ok([...handled.values()].every((n) => n === 1), 'deduplication: no request handled twice');
  for (let i = 0; i < 20; i++) assert.equal(Buffer.from((await client.request('server', { path: '/slow' })).payload).toString(), 'slow');
  assert.ok(net.wire.some((w) => w.dropped), 'the link did lose datagrams');
  await client.close();
  await server.close();
});

test('20% loss both ways: a 20 KiB Block2 transfer and a 5 KiB Block1 upload complete', async () => {
  const { net, server, client } = lossyPair(11);
  const data = Uint8Array.from({ length: 20 * 1024 }, (_, i) => (i * 31) & 0xff);
  server.resource('/fw', { get: () => ({ payload: data }) });
  let uploaded: Uint8Array | undefined;
  server.resource('/up', { put: (req) => { uploaded = req.payload; return {}; } });
  const res = await client.request('server', { path: '/fw', block2Szx: 4 });
  assert.deepEqual(res.payload, data);
  const up = data.subarray(0, 5000);
  const r2 = await client.request('server', { path: '/up', method: 'PUT', payload: up, block1Szx: 5 });
  assert.equal(r2.codeText, '2.04');
  assert.deepEqual(uploaded, up);
  const dropped = net.wire.filter((w) => w.dropped).length;
  assert.ok(dropped > 0.1 * net.wire.length, `loss happened (${dropped}/${net.wire.length})`);
  await client.close();
  await server.close();
});
