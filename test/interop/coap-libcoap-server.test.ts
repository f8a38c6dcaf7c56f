/**
 * Our CoAP client (NoSec, UDP on 127.0.0.1) against libcoap's coap-server-gnutls and
 * coap-server-openssl: GET /, /.well-known/core, Block1 PUT + Block2 GET of /example_data, and
 * an observation of /time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePeer } from '../helpers/peers.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport } from '../../src/coap/transport.js';
import { decodeMessage } from '../../src/coap/codec.js';
import { OptionNumber, getOption } from '../../src/coap/options.js';
import { decodeBlock } from '../../src/coap/block.js';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import { coapRequest } from '../../src/coap/coap-request.js';
import type { CoapResponse } from '../../src/coap/client.js';
import { RecordingTransport, startLibcoapServer } from '../coap/helpers/libcoap.js';

const SERVERS = ['coap-server-gnutls', 'coap-server-openssl'];
const skip = requirePeer('libcoap coap-server', SERVERS, 'apt-get install libcoap3-bin');
const DATA = Uint8Array.from({ length: 20 * 1024 }, (_, i) => (i * 13 + 7) & 0xff);

for (const binary of SERVERS) {
  test(`our client → ${binary}: GET /, /.well-known/core, Block1 PUT + Block2 GET, Observe /time`, { skip }, async () => {
    const server = await startLibcoapServer(binary);
    const recording = new RecordingTransport(await UdpTransport.bind());
    const client = new CoapEndpoint(recording);
    try {
      const root = await coapRequest({ uri: `coap://127.0.0.1:${server.port}/` });
      assert.equal(root.codeText, '2.05');
      assert.match(Buffer.from(root.payload).toString(), /libcoap/);

      const wk = await client.request(server.peer, { path: '/.well-known/core' });
      assert.equal(wk.contentFormat, 40);
      const time = parseLinkFormat(Buffer.from(wk.payload).toString()).find((l) => l.target === '/time');
      assert.ok(time?.attributes.some((a) => a.name === 'obs'), 'libcoap lists /time as observable');

      const put = await client.request(server.peer, { path: '/example_data', method: 'PUT', payload: DATA, contentFormat: 42, block1Szx: 4 });
      assert.match(put.codeText, /^2\.0[14]$/);
      const got = await client.request(server.peer, { path: '/example_data', block2Szx: 2 });
      assert.equal(got.codeText, '2.05');
      assert.deepEqual(got.payload, DATA);
      const blocks = recording.received.map((d) => decodeMessage(d)).map((m) => getOption(m.options, OptionNumber.Block2)).filter((b) => b !== undefined).map((b) => decodeBlock(b));
      assert.equal(blocks.length, DATA.length / 64);
      assert.ok(blocks.every((b) => b.szx === 2));

      const seen: CoapResponse[] = [];
      const obs = await client.observe(server.peer, { path: '/time' }, (r) => seen.push(r));
      assert.equal(obs.active, true);
      assert.equal(typeof obs.response.observe, 'number');
      while (seen.length < 2) await new Promise((r) => setTimeout(r, 50));
      assert.ok(seen.every((r) => r.code === 69 && r.payload.length > 0));
      assert.notEqual(seen[0]!.observe, seen[1]!.observe);
      await obs.cancel();
    } finally {
      await client.close();
      await server.stop();
    }
  });
}
