/**
 * The server joins the records a session sends in one event-loop turn into one datagram while
 * they fit the MTU (RFC 6347 §4.1.1), in sequence order; the next turn's records go separately.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createDtlsServer } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import { decodeDatagram } from '../../src/dtls/record.js';
import { ContentType } from '../../src/dtls/constants.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { PSK } from './helpers.js';

describe('server datagram coalescing', { timeout: 60_000 }, () => {
  it('sends one turn of a session\'s records as one datagram, in order, split at the MTU', async () => {
    const mtu = 400;
    const server = await createDtlsServer({ port: 0, mtu, psk: { lookup: () => PSK } });
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    // Every datagram the client socket receives, as record types and sequence numbers.
    const datagrams: Array<Array<[number, number]>> = [];
    socket.on('message', (m) => datagrams.push(decodeDatagram(m).map((r) => [r.type, r.sequenceNumber])));
    const serverSession = new Promise<ServerSession>((r) => server.once('session', r));
    try {
      const client = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'c', key: PSK }, socket });
      const s = await serverSession;
      const received: string[] = [];
      client.on('data', (d: Uint8Array) => received.push(Buffer.from(d).toString()));
      const before = datagrams.length;
      // One turn: three short records fit one datagram; then one that does not fit with them.
      s.send(Buffer.from('one'));
      s.send(Buffer.from('two'));
      s.send(Buffer.from('three'));
      s.send(Buffer.alloc(300, 0x61));
      await new Promise((r) => setTimeout(r, 100));
      // Next turn: a datagram of its own.
      s.send(Buffer.from('four'));
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(received, ['one', 'two', 'three', 'a'.repeat(300), 'four']);
      const sent = datagrams.slice(before);
      assert.equal(sent.length, 3, 'three short records joined, the long one and the next turn apart');
      assert.deepEqual(sent[0]!.map(([t]) => t), [ContentType.applicationData, ContentType.applicationData, ContentType.applicationData]);
      const seqs = sent.flat().map(([, q]) => q);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'sequence numbers ascend across and within datagrams');
      for (const d of sent) assert.ok(d.length >= 1);
      client.close();
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await server.close();
      socket.close();
    }
  });

  it('sends what a session queued before the server closes, then its close_notify', async () => {
    const server = await createDtlsServer({ port: 0, psk: { lookup: () => PSK } });
    const serverSession = new Promise<ServerSession>((r) => server.once('session', r));
    const client = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'd', key: PSK } });
    const s = await serverSession;
    const received: string[] = [];
    client.on('data', (d: Uint8Array) => received.push(Buffer.from(d).toString()));
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    s.send(Buffer.from('last words'));
    await server.close();
    await closed;
    assert.deepEqual(received, ['last words']);
  });
});
