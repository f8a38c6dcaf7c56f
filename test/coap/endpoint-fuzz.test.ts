import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import fc from 'fast-check';
import { CoapEndpoint, type CoapDropEvent } from '../../src/coap/endpoint.js';
import { CoapCode, CoapType, decodeMessage, encodeMessage, type CoapMessage } from '../../src/coap/codec.js';
import { OptionNumber, stringOption } from '../../src/coap/options.js';
import { MemoryNetwork, settle } from './helpers/memory-network.js';

const optionArb = fc.record({
  number: fc.constantFrom(1, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 17, 23, 27, 28, 35, 39, 60, 258, 2048, 2049),
  value: fc.uint8Array({ maxLength: 12 }),
}).map((o) => ({ number: o.number, value: o.value }));

const messageArb: fc.Arbitrary<CoapMessage> = fc.record({
  type: fc.constantFrom(CoapType.CON, CoapType.NON, CoapType.ACK, CoapType.RST),
  code: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(65, 69, 95, 132, 160)),
  messageId: fc.integer({ min: 0, max: 0xffff }),
  token: fc.uint8Array({ maxLength: 8 }),
  options: fc.array(optionArb, { maxLength: 6 }),
  payload: fc.uint8Array({ maxLength: 40 }),
}).map((m) => ({ ...m }));

test('fuzz: random and mutated datagrams from many peers never crash the endpoint, which keeps serving', async () => {
  const net = new MemoryNetwork(3);
  const server = new CoapEndpoint(net.transport('server'), { transmission: { ackTimeoutMs: 5, maxRetransmit: 1, maxLatencyMs: 10 }, maxRequestBodySize: 4096 });
  const client = new CoapEndpoint(net.transport('client'), { transmission: { ackTimeoutMs: 50, maxLatencyMs: 10 } });
  server.resource('/ok', { get: () => ({ payload: 'ok' }), put: (r) => ({ payload: r.payload }), observable: true });
  server.resource('/big', { get: () => ({ payload: new Uint8Array(3000) }) });
  server.resource('/up', { upload: { maxSize: 2048, open: () => ({ write: () => {}, finish: () => ({ payload: 'done' }) }) } });
  const drops: CoapDropEvent[] = [];
  const onDrop = (e: unknown): void => void drops.push(e as CoapDropEvent);
  subscribe('rootline:coap:drop', onDrop);
  const samples = fc.sample(
    fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.tuple(messageArb, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([m, pos, val]) => {
        const b = encodeMessage({ ...m, code: m.code === 0 ? 1 : m.code });
        b[pos % b.length] = val;
        return b;
      }),
      messageArb.map((m) => encodeMessage({ ...m, options: [stringOption(OptionNumber.UriPath, 'ok'), ...m.options] })),
      messageArb.map((m) => encodeMessage({ ...m, code: CoapCode.PUT, options: [stringOption(OptionNumber.UriPath, 'up'), ...m.options] })),
    ),
    { numRuns: 1500, seed: 42 },
  );
  samples.forEach((bytes, i) => net.deliver(`fuzz${i % 50}`, 'server', bytes));
  const res = await client.request('server', { path: '/ok' });
  assert.equal(res.code, CoapCode.Content);
  await settle(20);
  unsubscribe('rootline:coap:drop', onDrop);
  assert.ok(drops.length > 0, 'bad datagrams were reported as drops');
  assert.deepEqual(drops.filter((d) => d.code === 'ERR_COAP_INTERNAL'), [], 'no internal errors');
  // Everything the server sent to the fuzzing peers is itself a well-formed CoAP message.
  for (const w of net.wire.filter((x) => x.from === 'server' && x.to.startsWith('fuzz'))) decodeMessage(w.data);
  const big = await client.request('server', { path: '/big' });
  assert.equal(big.payload.length, 3000);
  await client.close();
  await server.close();
});
