/**
 * CoAP over DTLS-PSK (RFC 7252 §9.1): this room's endpoint on the DTLS room's transports,
 * against libcoap. Our server ← coap-client-gnutls/-openssl (coaps://, -u/-k); our client →
 * coap-server-gnutls/-openssl (DTLS on port+1 with -k).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from '../helpers/peers.js';
import { connectDtls, createDtlsServer, dtlsClientTransport, dtlsServerTransport } from '../../src/dtls/index.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import { run, startLibcoapServer } from '../coap/helpers/libcoap.js';

const CLIENTS = ['coap-client-gnutls', 'coap-client-openssl'];
const SERVERS = ['coap-server-gnutls', 'coap-server-openssl'];
const skip = requirePeer('libcoap', [...CLIENTS, ...SERVERS], 'apt-get install libcoap3-bin');
const IDENTITY = 'device-1';
const KEY = 'secretPSK-0123';
const BIG = Uint8Array.from({ length: 20 * 1024 }, (_, i) => 0x41 + (i % 26));

for (const client of CLIENTS) {
  test(`${client} (PSK) → our CoAP server over our DTLS: /.well-known/core, Block2 20 KiB, Observe`, { skip }, async () => {
    const server = await createDtlsServer({ psk: { lookup: (id) => (id === IDENTITY ? Buffer.from(KEY) : undefined) } });
    const endpoint = new CoapEndpoint(dtlsServerTransport(server));
    endpoint.resource('/big', { get: () => ({ payload: BIG }) });
    let n = 0;
    const obs = endpoint.resource('/counter', { get: () => ({ payload: `[n=${n}]` }), observable: true });
    const base = `coaps://127.0.0.1:${server.address().port}`;
    const dir = mkdtempSync(join(tmpdir(), 'coaps-interop-'));
    try {
      const wk = await run(client, ['-u', IDENTITY, '-k', KEY, `${base}/.well-known/core`]);
      assert.equal(wk.code, 0, wk.stderr);
      assert.deepEqual(parseLinkFormat(wk.stdout.toString().trim()).map((l) => l.target).sort(), ['/big', '/counter']);
      const out = join(dir, 'big');
      const big = await run(client, ['-u', IDENTITY, '-k', KEY, '-b', '64', '-o', out, `${base}/big`]);
      assert.equal(big.code, 0, big.stderr);
      assert.deepEqual(new Uint8Array(readFileSync(out)), BIG);
      const notify = (async () => {
        while (obs.observerCount() === 0) await new Promise((r) => setTimeout(r, 20));
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 50));
          n++;
          obs.notifyObservers();
        }
      })();
      const [o] = await Promise.all([run(client, ['-u', IDENTITY, '-k', KEY, '-s', '3', `${base}/counter`]), notify]);
      assert.equal(o.code, 0, o.stderr);
      assert.equal(o.stdout.toString().trim(), '[n=0][n=1][n=2][n=3]');
      const wrong = await run(client, ['-B', '2', '-u', IDENTITY, '-k', 'wrong-key', `${base}/.well-known/core`]);
      assert.doesNotMatch(wrong.stdout.toString(), /<\/big>/, 'a wrong key gets no answer');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await endpoint.close();
    }
  });
}

for (const binary of SERVERS) {
  test(`our CoAP client over our DTLS (PSK) → ${binary}: GET /, Block1 PUT + Block2 GET, Observe /time`, { skip }, async () => {
    // Up (answers a CoAP ping on p) before the DTLS handshake on p + 1; generous retransmission
    // because a loaded CI machine can take seconds to schedule the peer.
    const server = await startLibcoapServer(binary, ['-k', KEY]);
    const port = server.port;
    try {
      let session;
      for (let attempt = 0; ; attempt++) {
        try {
          session = await connectDtls({ host: '127.0.0.1', port: port + 1, psk: { identity: IDENTITY, key: Buffer.from(KEY) }, retransmit: { initialMs: 500, maxRetransmissions: 4 } });
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
      const endpoint = new CoapEndpoint(dtlsClientTransport(session));
      try {
        const root = await endpoint.request(session.peerKey, { path: '/' });
        assert.equal(root.codeText, '2.05');
        assert.match(Buffer.from(root.payload).toString(), /libcoap/);
        const put = await endpoint.request(session.peerKey, { path: '/example_data', method: 'PUT', payload: BIG, block1Szx: 5 });
        assert.match(put.codeText, /^2\.0[14]$/);
        const got = await endpoint.request(session.peerKey, { path: '/example_data', block2Szx: 3 });
        assert.deepEqual(got.payload, BIG);
        let notes = 0;
        const o = await endpoint.observe(session.peerKey, { path: '/time' }, () => notes++);
        assert.equal(o.active, true);
        while (notes < 1) await new Promise((r) => setTimeout(r, 50));
        await o.cancel();
      } finally {
        await endpoint.close();
      }
    } finally {
      await server.stop();
    }
  });
}
