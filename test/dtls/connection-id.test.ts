/** RFC 9146 connection IDs: negotiation, tls12_cid records, and sessions that survive a NAT rebinding. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import type { ClientSession } from '../../src/dtls/client-session.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { ContentType } from '../../src/dtls/constants.js';
import { decodeDatagram } from '../../src/dtls/record.js';
import { PSK, UdpProxy } from './helpers.js';

async function echoServer(opts: Partial<DtlsServerOptions> = {}) {
  const server = await createDtlsServer({ port: 0, psk: { lookup: () => PSK }, ...opts } as DtlsServerOptions);
  const sessions: ServerSession[] = [];
  server.on('session', (s: ServerSession) => {
    sessions.push(s);
    s.on('data', (d: Uint8Array) => s.send(Buffer.concat([Buffer.from('echo:'), d])));
  });
  return { server, sessions };
}

async function roundTrip(c: ClientSession, text: string): Promise<string> {
  const got = new Promise<Uint8Array>((resolve) => c.once('data', resolve));
  c.send(Buffer.from(text));
  return Buffer.from(await got).toString();
}

const recordTypes = (datagrams: Buffer[]) => datagrams.flatMap((d) => decodeDatagram(d, 4).map((r) => [r.type, r.epoch]));

describe('DTLS connection ID (RFC 9146)', { timeout: 120_000 }, () => {
  it('negotiates CIDs both ways and protects epoch-1 records as tls12_cid', async () => {
    const { server, sessions } = await echoServer({ connectionIdLength: 4 });
    const proxy = await UdpProxy.create(server.address().port);
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'd', key: PSK }, connectionId: Uint8Array.of(9, 8, 7, 6) });
      assert.equal(await roundTrip(c, 'hi'), 'echo:hi');
      const s = sessions[0]!;
      assert.equal(s.connectionId?.length, 4);
      assert.equal(s.peerKey, `cid:${Buffer.from(s.connectionId!).toString('hex')}`);
      assert.deepEqual([...c.connectionId!], [9, 8, 7, 6]);
      // Every protected record (epoch 1) in both directions is a tls12_cid record carrying the receiver's CID.
      for (const [dir, cid] of [[proxy.toServer, s.connectionId!], [proxy.toClient, c.connectionId!]] as const) {
        const epoch1 = dir.flatMap((d) => decodeDatagram(d, 4)).filter((r) => r.epoch === 1);
        assert.ok(epoch1.length >= 2);
        for (const r of epoch1) {
          assert.equal(r.type, ContentType.tls12Cid);
          assert.deepEqual([...r.cid!], [...cid]);
        }
      }
      c.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });

  it('keeps the session when the client address changes (NAT rebinding)', async () => {
    const { server, sessions } = await echoServer();
    const proxy = await UdpProxy.create(server.address().port);
    const moves: string[] = [];
    server.on('addressChange', (_s: ServerSession, previous: string) => moves.push(previous));
    try {
      // An empty CID: the client sends the server's CID but receives plain records.
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'd', key: PSK }, connectionId: new Uint8Array(0) });
      assert.equal(await roundTrip(c, 'before'), 'echo:before');
      const oldPort = proxy.serverFacingPort;
      await proxy.rebind();
      assert.notEqual(proxy.serverFacingPort, oldPort);
      assert.equal(await roundTrip(c, 'after'), 'echo:after');
      assert.deepEqual(moves, [`127.0.0.1:${oldPort}`]);
      assert.equal(sessions[0]!.remotePort, proxy.serverFacingPort);
      assert.equal(server.getSession(sessions[0]!.peerKey), sessions[0]);
      c.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });

  it('uses no CID when the client does not ask or the server has CIDs off', async () => {
    for (const [serverLen, clientCid] of [[6, undefined], [0, Uint8Array.of(1, 2, 3, 4)]] as const) {
      const { server, sessions } = await echoServer({ connectionIdLength: serverLen });
      const proxy = await UdpProxy.create(server.address().port);
      try {
        const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'd', key: PSK }, connectionId: clientCid });
        assert.equal(await roundTrip(c, 'x'), 'echo:x');
        assert.equal(sessions[0]!.connectionId, undefined);
        assert.equal(c.connectionId, undefined);
        assert.ok(!recordTypes([...proxy.toServer, ...proxy.toClient]).some(([t]) => t === ContentType.tls12Cid));
        c.close();
      } finally {
        proxy.close();
        await server.close();
      }
    }
  });
});
