// What an established session keeps (and what it no longer needs): the final flight in compact
// form until acknowledged, resent from it when the peer retransmits; routing by port with several
// peers on one port.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createDtlsServer, type DtlsServer } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import type { ClientSession } from '../../src/dtls/client-session.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { ContentType } from '../../src/dtls/constants.js';
import { PSK, UdpProxy, once } from './helpers.js';

async function echoServer(): Promise<DtlsServer> {
  const server = await createDtlsServer({ port: 0, psk: { lookup: (id) => (id.startsWith('device') ? PSK : undefined) } });
  server.on('session', (s: ServerSession) => s.on('data', (d: Uint8Array) => s.send(Buffer.concat([Buffer.from('echo:'), d]))));
  return server;
}

async function roundTrip(c: ClientSession, text: string): Promise<string> {
  const got = once<Uint8Array>(c, 'data');
  c.send(Buffer.from(text));
  return Buffer.from(await got).toString();
}

async function bound(address: string, port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => resolve());
  });
  return s;
}

describe('DTLS idle session state', { timeout: 60_000 }, () => {
  it('keeps the final flight compactly until the peer acknowledges it, and resends it when the peer retransmits', async () => {
    const server = await echoServer();
    let finalFlights = 0;
    // Lose the server's final flight (ChangeCipherSpec + Finished) once.
    const proxy = await UdpProxy.create(server.address().port, {
      dropToClient: (d) => d[0] === ContentType.changeCipherSpec && ++finalFlights === 1,
    });
    try {
      const established = once<ServerSession>(server, 'session');
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK }, retransmit: { initialMs: 50 } });
      const s = await established;
      assert.ok(finalFlights >= 2, 'the final flight was sent again after the loss');
      // The client finished only because the server resent its final flight from the compact form.
      const held = s.retainedState();
      assert.equal(held.flight, 12, 'Finished verify_data kept for a resend');
      assert.equal(held.transcript, 0);
      assert.equal(held.reassembler, 0);
      assert.equal(held.handshakeSecrets, 0);
      assert.equal(await roundTrip(c, 'a'), 'echo:a');
      // The client's first protected record acknowledged the flight: nothing is kept any more.
      assert.deepEqual(s.retainedState(), { handshakeSecrets: 0, transcript: 0, reassembler: 0, flight: 0, epoch0WriteState: 0, trafficKeys: 40 });
      c.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });

  it('routes sessions of different addresses that share a port', async () => {
    const server = await echoServer();
    const a = await bound('127.0.0.1');
    const port = a.address().port;
    let b: Socket;
    try {
      b = await bound('127.0.0.2', port);
    } catch (err) {
      a.close();
      await server.close();
      return assert.ok(err instanceof Error, 'no 127.0.0.2 on this host');
    }
    try {
      const ca = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-a', key: PSK }, socket: a });
      const cb = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-b', key: PSK }, socket: b });
      assert.equal(server.sessions.size, 2);
      assert.equal(await roundTrip(ca, 'from a'), 'echo:from a');
      assert.equal(await roundTrip(cb, 'from b'), 'echo:from b');
      const closed = once(server, 'sessionClosed');
      ca.close();
      await closed;
      assert.equal(server.sessions.size, 1);
      assert.equal(await roundTrip(cb, 'still b'), 'echo:still b');
      assert.deepEqual([...server.sessions.values()].map((s) => s.identity), [{ type: 'psk', identity: 'device-b', raw: new Uint8Array(Buffer.from('device-b')) }]);
      cb.close();
    } finally {
      a.close();
      b.close();
      await server.close();
    }
  });
});
