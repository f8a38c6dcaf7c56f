/**
 * Fuzzing the server's CoAP-facing parsers end to end: random and mutated Register / Update /
 * De-register / Send / Bootstrap-Request messages (queries, content formats, payloads) over UDP.
 * Every answer must be a 2.xx or 4.xx — malformed input never reaches a 5.00 or kills the server;
 * the one 5.xx allowed is the bootstrap server's busy signal (5.03 while the endpoint's session runs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeComposite } from '../../../src/lwm2m/codec/content-format.js';
import { lwm2mValue as v } from '../../../src/lwm2m/model/node.js';
import { makePath } from '../../../src/lwm2m/model/path.js';
import { createBootstrapServer, createLwm2mServer } from '../../../src/lwm2m/server/index.js';
import { tempStore, udpEndpoint } from './helpers.js';

const FORMATS = [undefined, 0, 40, 42, 50, 60, 110, 112, 11542, 11543, 11544];
const VALID_SEND = [110, 112, 11544].map((f) => ({ f, bytes: encodeComposite(f, [{ path: makePath(3, 0, 9), value: v.integer(80) }, { path: makePath(3, 0, 0), value: v.string('ACME') }]) }));

function mutate(bytes: Uint8Array, at: number, by: number, cut: number): Uint8Array {
  const out = Uint8Array.from(bytes.slice(0, Math.max(0, bytes.length - cut)));
  if (out.length > 0) out[at % out.length] = (out[at % out.length]! + by) & 0xff;
  return out;
}

test('fuzz: /rd, /rd/{id}, /dp and /bs answer malformed requests with 2.xx/4.xx only', async (t) => {
  const store = await tempStore(t).open();
  await store.devices.createWithCredentials({ endpoint: 'fz' }, [{ kind: 'psk', lookup: 'fz-id', material: new Uint8Array([1]) }]);
  await store.bootstrapConfigs.set('fz', { servers: [{ shortServerId: 1, uri: 'coaps://127.0.0.1:1', securityMode: 'psk', pskIdentity: 'x', pskKey: '00' }] });
  const srv = await udpEndpoint(t);
  const lwm2m = createLwm2mServer({ endpoint: srv.endpoint, store, identityOf: () => ({ kind: 'psk', lookup: 'fz-id' }), sweepIntervalMs: 60_000 });
  const bs = createBootstrapServer({ endpoint: srv.endpoint, store, identityOf: () => ({ kind: 'psk', lookup: 'fz-id' }) });
  t.after(async () => {
    bs.close();
    await lwm2m.close();
  });
  const dev = await udpEndpoint(t);
  const ok = await dev.endpoint.request(srv.key, { method: 'POST', path: '/rd', query: ['ep=fz'], payload: '</3/0>' });
  const id = ok.options.filter((o) => o.number === 8).map((o) => Buffer.from(o.value).toString())[1]!;
  const param = fc.oneof(
    fc.constantFrom('ep=fz', 'ep=other', 'lt=300', 'lt=0', 'lt=x', 'lwm2m=1.1', 'lwm2m=2.0', 'b=U', 'b=UQ', 'b=Z', 'Q', 'sms=+1', 'pct=112', 'pct=-1'),
    fc.string({ maxLength: 24 }),
  );
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.constantFrom('</1/0>,</3/0>', '</>;rt="oma.lwm2m";ct=112,</3/0>', '<', '</3/0/0/0/0>', '</65535/0>', '</3/0>;ver=x').map((s) => new TextEncoder().encode(s)),
    fc.tuple(fc.constantFrom(...VALID_SEND), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat({ max: 8 })).map(([s, at, by, cut]) => mutate(s.bytes, at, by, cut)),
  );
  const target = fc.constantFrom<[string, string]>(['POST', '/rd'], ['POST', `/rd/${id}`], ['POST', '/rd/nope'], ['DELETE', '/rd/nope'], ['POST', '/dp'], ['POST', '/bs'], ['PUT', '/rd']);
  await fc.assert(fc.asyncProperty(target, fc.array(param, { maxLength: 6 }), fc.constantFrom(...FORMATS), payload, async ([method, path], query, contentFormat, body) => {
    const res = await dev.endpoint.request(srv.key, { method: method as 'POST', path, query, payload: body, ...(contentFormat !== undefined ? { contentFormat } : {}) });
    // The one 5.xx allowed: 5.03 to a Bootstrap-Request while the bootstrap session the previous
    // one started for the same endpoint still runs (a busy signal to retry, not a failure).
    const busy = path === '/bs' && res.codeText === '5.03' && Buffer.from(res.payload).toString() === 'a bootstrap session for this endpoint is running';
    assert.ok(res.code >> 5 === 2 || res.code >> 5 === 4 || busy, `${method} ${path} ${query.join('&')} cf=${contentFormat} → ${res.codeText} ${Buffer.from(res.payload).toString()}`);
  }), { numRuns: 300 });
  // The server still works afterwards.
  const again = await dev.endpoint.request(srv.key, { method: 'POST', path: '/rd', query: ['ep=fz'], payload: '</3/0>' });
  assert.equal(again.codeText, '2.01');
});
