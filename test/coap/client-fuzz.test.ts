import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { CoapCode, CoapType, decodeMessage, encodeMessage, type CoapMessage } from '../../src/coap/codec.js';
import { CoapError } from '../../src/coap/errors.js';
import { parseCoapUri } from '../../src/coap/coap-request.js';
import { RootlineError } from '../../src/errors.js';
import { MemoryNetwork, seededRandom } from './helpers/memory-network.js';

test('fuzz: parseCoapUri only throws ERR_COAP_BAD_URI', () => {
  const check = (s: string): void => {
    try {
      parseCoapUri(s);
    } catch (e) {
      assert.ok(e instanceof CoapError && e.code === 'ERR_COAP_BAD_URI', String(e));
    }
  };
  fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => check(s)), { numRuns: 1000 });
  fc.assert(fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 10 }), (a, b) => check(`coap://${a}/${b}`)), { numRuns: 1000 });
});

test('fuzz: hostile responses to our requests (blocks, observe, garbage) only yield typed errors', async () => {
  const net = new MemoryNetwork(5);
  const client = new CoapEndpoint(net.transport('client'), { transmission: { ackTimeoutMs: 5, maxRetransmit: 1, maxLatencyMs: 5 }, responseTimeoutMs: 50, maxResponseBodySize: 8192 });
  const rnd = seededRandom(99);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const hostileReply = (req: CoapMessage): Uint8Array | undefined => {
    const r = rnd();
    if (r < 0.1) return undefined;
    if (r < 0.2) return bytes(Math.floor(rnd() * 20));
    const options = Array.from({ length: Math.floor(rnd() * 4) }, () => ({
      number: pick([4, 6, 12, 23, 27, 28, 60, 9, 2049, 11]),
      value: bytes(Math.floor(rnd() * 5)),
    }));
    const msg: CoapMessage = {
      type: pick([CoapType.ACK, CoapType.ACK, CoapType.CON, CoapType.NON, CoapType.RST]),
      code: pick([0, CoapCode.Content, CoapCode.Continue, CoapCode.NotFound, CoapCode.Changed]),
      messageId: rnd() < 0.8 ? req.messageId : Math.floor(rnd() * 65536),
      token: rnd() < 0.9 ? req.token : bytes(4),
      options,
      payload: bytes(Math.floor(rnd() * 70)),
    };
    if (msg.code === 0) return encodeMessage({ ...msg, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) });
    const enc = encodeMessage(msg);
    if (rnd() < 0.2) enc[Math.floor(rnd() * enc.length)] = Math.floor(rnd() * 256);
    return enc;
  };
  const peers = Array.from({ length: 8 }, (_, i) => `hostile${i}`);
  for (const p of peers) {
    net.register(p, (from, data) => {
      let req: CoapMessage;
      try {
        req = decodeMessage(data);
      } catch {
        return;
      }
      if (req.code === 0) return;
      const reply = hostileReply(req);
      if (reply !== undefined) net.deliver(p, from, reply);
    });
  }
  let ok = 0;
  let typed = 0;
  await Promise.all(peers.map(async (p) => {
    for (let i = 0; i < 40; i++) {
      const kind = i % 3;
      try {
        if (kind === 0) await client.request(p, { path: '/x' });
        else if (kind === 1) await client.request(p, { path: '/up', method: 'PUT', payload: bytes(3000), block1Szx: 4 });
        else {
          const obs = await client.observe(p, { path: '/o' }, () => {});
          await obs.cancel();
        }
        ok++;
      } catch (e) {
        assert.ok(e instanceof RootlineError && /^ERR_COAP_/.test(e.code), `untyped: ${String(e)}`);
        typed++;
      }
    }
  }));
  assert.equal(ok + typed, peers.length * 40);
  assert.ok(typed > 0 && ok > 0);
  await client.close();
});
