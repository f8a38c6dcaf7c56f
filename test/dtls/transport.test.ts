import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDtlsServer } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import { dtlsClientTransport, dtlsServerTransport } from '../../src/dtls/transport.js';
import { isRootlineError } from '../../src/errors.js';
import { createSocket, type Socket } from 'node:dgram';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { CoapCode } from '../../src/coap/codec.js';
import { PSK } from './helpers.js';

describe('peer-keyed datagram transports over DTLS', { timeout: 120_000 }, () => {
  it('carries datagrams both ways tagged with stable peer keys', async () => {
    const server = await createDtlsServer({ port: 0, psk: { lookup: () => PSK } });
    const st = dtlsServerTransport(server);
    const fromClients: Array<[string, string]> = [];
    st.onDatagram((peer, data) => {
      fromClients.push([peer, Buffer.from(data).toString()]);
      st.send(peer, Buffer.from(`ack ${Buffer.from(data).toString()}`));
    });
    try {
      const a = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'a', key: PSK } });
      const b = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'b', key: PSK } });
      const ta = dtlsClientTransport(a);
      const tb = dtlsClientTransport(b);
      const gotA = new Promise<[string, string]>((r) => ta.onDatagram((p, d) => r([p, Buffer.from(d).toString()])));
      const gotB = new Promise<[string, string]>((r) => tb.onDatagram((p, d) => r([p, Buffer.from(d).toString()])));
      ta.send(a.peerKey, Buffer.from('from a'));
      tb.send(b.peerKey, Buffer.from('from b'));
      assert.deepEqual(await gotA, [a.peerKey, 'ack from a']);
      assert.deepEqual(await gotB, [b.peerKey, 'ack from b']);
      assert.equal(fromClients.length, 2);
      assert.notEqual(fromClients[0]![0], fromClients[1]![0]);
      for (const [peer] of fromClients) assert.ok(server.getSession(peer) !== undefined);
      assert.throws(() => st.send('127.0.0.1:1', Buffer.from('x')), (e) => isRootlineError(e, 'ERR_DTLS_SESSION_CLOSED'));
      assert.throws(() => ta.send('192.0.2.1:5684', Buffer.from('x')), (e) => isRootlineError(e, 'ERR_DTLS_SESSION_CLOSED'));
      await ta.close();
      await tb.close();
    } finally {
      await st.close();
    }
  });

  it('a new session at an address a previous client used is a new CoAP association: its message IDs are not answered from the old one\'s dedup cache', async () => {
    // A device that reconnects from a reused ephemeral port (or another device that gets it)
    // starts a new DTLS session there; its first message ID can equal one the server still
    // holds for that address (EXCHANGE_LIFETIME). The request must be processed, not answered
    // with the earlier client's cached reply.
    const server = await createDtlsServer({ port: 0, psk: { lookup: () => PSK } });
    const fast = { transmission: { ackTimeoutMs: 200, maxRetransmit: 2 } };
    const coap = new CoapEndpoint(dtlsServerTransport(server), fast);
    let count = 0;
    coap.resource('/count', { get: () => ({ code: CoapCode.Content, payload: String(++count) }) });
    const bindTo = (port: number): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = createSocket('udp4');
        s.once('error', reject);
        s.bind(port, '127.0.0.1', () => resolve(s));
      });
    const ask = async (socket: Socket, identity: string): Promise<string> => {
      const session = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity, key: PSK }, socket });
      // The same random source: the same first message ID for both clients.
      const client = new CoapEndpoint(dtlsClientTransport(session), { ...fast, random: () => 0.25 });
      try {
        const res = await client.request(session.peerKey, { method: 'GET', path: '/count', responseTimeoutMs: 5000 });
        return Buffer.from(res.payload).toString();
      } finally {
        await client.close();
        await session.close();
      }
    };
    try {
      const first = await bindTo(0);
      const port = first.address().port;
      assert.equal(await ask(first, 'first'), '1');
      first.close();
      const second = await bindTo(port);
      assert.equal(await ask(second, 'second'), '2', 'processed, not the cached reply of the first client');
      assert.equal(count, 2);
      second.close();
    } finally {
      await coap.close();
    }
  });
});
