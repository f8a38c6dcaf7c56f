import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDtlsServer } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import { dtlsClientTransport, dtlsServerTransport } from '../../src/dtls/transport.js';
import { isRootlineError } from '../../src/errors.js';
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
});
