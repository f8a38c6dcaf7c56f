/**
 * Our CoAP server (NoSec, UDP on 127.0.0.1) against libcoap's coap-client-gnutls and
 * coap-client-openssl: /.well-known/core, Block2 of a 20 KiB resource, Block1 upload, Observe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from '../helpers/peers.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport } from '../../src/coap/transport.js';
import { decodeMessage } from '../../src/coap/codec.js';
import { OptionNumber, getOption } from '../../src/coap/options.js';
import { decodeBlock } from '../../src/coap/block.js';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import { RecordingTransport, run } from '../coap/helpers/libcoap.js';

const CLIENTS = ['coap-client-gnutls', 'coap-client-openssl'];
const skip = requirePeer('libcoap coap-client', CLIENTS, 'apt-get install libcoap3-bin');
const BIG = Uint8Array.from({ length: 20 * 1024 }, (_, i) => 0x41 + (i % 26));

async function startServer() {
  const udp = await UdpTransport.bind({ address: '127.0.0.1' });
  const transport = new RecordingTransport(udp);
  const endpoint = new CoapEndpoint(transport);
  endpoint.resource('/big', { get: () => ({ payload: BIG, contentFormat: 42 }), attributes: { title: 'Big', sz: BIG.length } });
  let uploaded: Uint8Array | undefined;
  endpoint.resource('/upload', { put: (req) => { uploaded = req.payload; return { code: 68 }; } });
  let n = 0;
  const obs = endpoint.resource('/counter', { get: () => ({ payload: `[n=${n}]`, contentFormat: 0 }), observable: true, attributes: { rt: 'counter' } });
  return {
    endpoint,
    transport,
    base: `coap://127.0.0.1:${udp.local.port}`,
    uploaded: () => uploaded,
    /** Sends `count` notifications, one per registration poll, once an observer is registered. */
    notifyWhenObserved: async (count: number) => {
      while (obs.observerCount() === 0) await new Promise((r) => setTimeout(r, 20));
      for (let i = 0; i < count; i++) {
        await new Promise((r) => setTimeout(r, 50));
        n++;
        obs.notifyObservers();
      }
    },
  };
}

for (const client of CLIENTS) {
  test(`${client} → our server: GET /.well-known/core`, { skip }, async () => {
    const s = await startServer();
    try {
      const r = await run(client, ['-m', 'get', `${s.base}/.well-known/core`]);
      assert.equal(r.code, 0, r.stderr);
      const links = parseLinkFormat(r.stdout.toString().trim());
      assert.deepEqual(links.map((l) => l.target).sort(), ['/big', '/counter', '/upload']);
      assert.deepEqual(links.find((l) => l.target === '/counter')!.attributes, [{ name: 'rt', value: 'counter' }, { name: 'obs' }]);
    } finally {
      await s.endpoint.close();
    }
  });

  test(`${client} → our server: Block2 GET of 20 KiB, with -b 64 and with the default size`, { skip }, async () => {
    const s = await startServer();
    const dir = mkdtempSync(join(tmpdir(), 'coap-interop-'));
    try {
      const out = join(dir, 'small');
      const r = await run(client, ['-m', 'get', '-b', '64', '-o', out, `${s.base}/big`]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(new Uint8Array(readFileSync(out)), BIG);
      const blocks = s.transport.received.map((d) => decodeMessage(d)).map((m) => getOption(m.options, OptionNumber.Block2)).filter((b) => b !== undefined).map((b) => decodeBlock(b));
      assert.ok(blocks.length >= BIG.length / 64 - 1, `${blocks.length} block requests`);
      assert.ok(blocks.every((b) => b.szx === 2), 'every block request asked for 64 bytes');
      const out2 = join(dir, 'default');
      const r2 = await run(client, ['-m', 'get', '-o', out2, `${s.base}/big`]);
      assert.equal(r2.code, 0, r2.stderr);
      assert.deepEqual(new Uint8Array(readFileSync(out2)), BIG);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await s.endpoint.close();
    }
  });

  test(`${client} → our server: Block1 PUT of 20 KiB`, { skip }, async () => {
    const s = await startServer();
    const dir = mkdtempSync(join(tmpdir(), 'coap-interop-'));
    try {
      const file = join(dir, 'body');
      writeFileSync(file, BIG);
      const r = await run(client, ['-m', 'put', '-b', '256', '-f', file, `${s.base}/upload`]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(s.uploaded(), BIG);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await s.endpoint.close();
    }
  });
}

test('coap-client-gnutls and -openssl → our server: Observe for 3 notifications (-s 5)', { skip }, async () => {
  await Promise.all(CLIENTS.map(async (client) => {
    const s = await startServer();
    try {
      const [r] = await Promise.all([run(client, ['-m', 'get', '-s', '5', `${s.base}/counter`]), s.notifyWhenObserved(3)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString().trim(), '[n=0][n=1][n=2][n=3]', client);
    } finally {
      await s.endpoint.close();
    }
  }));
});
