/**
 * Refused handshakes reach the server's 'handshakeError' with what an audit needs; a client's
 * handshake can be aborted and then leaves nothing running.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createDtlsServer } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import { DtlsHandshakeTimeoutError } from '../../src/dtls/errors.js';
import { PSK } from './helpers.js';

function activeResources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap').sort();
}

/** Active handles and timers (the retransmission timer included) once closing sockets are closed. */
async function settledResources(): Promise<string[]> {
  let prev = activeResources();
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const now = activeResources();
    if (now.join() === prev.join() && !now.includes('UDPWrap')) return now;
    prev = now;
  }
  return prev;
}

describe('handshake refusals and aborts', { timeout: 30_000 }, () => {
  it('a wrong PSK is reported promptly as a handshake timeout naming the peer and the identity', async () => {
    // handshakeTimeoutMs stays at its 60 s default: the report must not wait for it.
    const server = await createDtlsServer({ port: 0, psk: { lookup: (id) => (id === 'device-1' ? PSK : undefined) } });
    try {
      const reported = new Promise<[unknown, string]>((resolve) => server.once('handshakeError', (err: unknown, peer: string) => resolve([err, peer])));
      const client = connectDtls({
        host: '127.0.0.1',
        port: server.address().port,
        psk: { identity: 'device-1', key: Buffer.alloc(16, 7) },
        retransmit: { initialMs: 100, maxRetransmissions: 3 },
      });
      const [err, peer] = await reported;
      assert.ok(err instanceof DtlsHandshakeTimeoutError, String(err));
      assert.equal(err.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
      assert.equal(err.peer, peer);
      assert.match(peer, /^127\.0\.0\.1:\d+$/);
      assert.deepEqual(err.identity, { type: 'psk', identity: 'device-1', raw: new Uint8Array(Buffer.from('device-1')) });
      await assert.rejects(client, (e) => e instanceof DtlsHandshakeTimeoutError);
      assert.equal(server.halfOpenCount, 0);
      assert.equal(server.sessions.size, 0);
    } finally {
      await server.close();
    }
  });

  it('the handshake timeout of a silent peer carries the peer as well', async () => {
    const server = await createDtlsServer({ port: 0, handshakeTimeoutMs: 100, retransmit: { initialMs: 5_000 }, psk: { lookup: () => PSK } });
    const client = createSocket('udp4');
    try {
      const reported = new Promise<unknown>((resolve) => server.once('handshakeError', resolve));
      // A real client that answers the cookie and then goes silent.
      const pending = connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK }, socket: client, retransmit: { initialMs: 10_000 } });
      pending.catch(() => undefined);
      client.on('message', () => client.removeAllListeners('message')); // deaf after the cookie round trip
      const err = await reported;
      assert.ok(err instanceof DtlsHandshakeTimeoutError);
      assert.match(err.peer ?? '', /^127\.0\.0\.1:\d+$/);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('a new handshake from the address of an abandoned half-open one replaces it (reused port)', async () => {
    // 'stall' never gets an answer from the lookup: its handshake stays half-open on the server.
    const server = await createDtlsServer({ port: 0, psk: { lookup: (id) => (id === 'stall' ? new Promise<undefined>(() => undefined) : PSK) } });
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    try {
      const port = server.address().port;
      const ctl = new AbortController();
      const abandoned = connectDtls({ host: '127.0.0.1', port, socket, psk: { identity: 'stall', key: PSK }, retransmit: { initialMs: 10_000 }, signal: ctl.signal });
      while (server.halfOpenCount === 0 || server.sessions.size === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20)); // let its ClientKeyExchange reach the stalled lookup
      ctl.abort();
      await assert.rejects(abandoned);
      // Same address and port, new ClientHello: answered by a new association, not the stale one.
      const session = await connectDtls({ host: '127.0.0.1', port, socket, psk: { identity: 'device-1', key: PSK }, retransmit: { initialMs: 200 } });
      assert.equal(session.established, true);
      assert.equal(server.halfOpenCount, 0);
      session.close();
    } finally {
      socket.close();
      await server.close();
    }
  });

  it('connectDtls with an AbortSignal rejects with its reason and leaves no socket or timer behind', async () => {
    const idle = createSocket('udp4'); // a port where nobody answers
    await new Promise<void>((r) => idle.bind(0, '127.0.0.1', () => r()));
    const port = idle.address().port;
    idle.close();
    const before = await settledResources();

    const ctl = new AbortController();
    const pending = connectDtls({ host: '127.0.0.1', port, psk: { identity: 'x', key: PSK }, retransmit: { initialMs: 50 }, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 120);
    await assert.rejects(pending, (e) => e instanceof Error && e.name === 'AbortError');
    assert.deepEqual(await settledResources(), before);

    // Already aborted: rejects before any socket exists.
    await assert.rejects(connectDtls({ host: '127.0.0.1', port, psk: { identity: 'x', key: PSK }, signal: AbortSignal.abort() }), (e) => e instanceof Error && e.name === 'AbortError');
    // A handshake that fails on its own also leaves nothing behind.
    await assert.rejects(connectDtls({ host: '127.0.0.1', port, psk: { identity: 'x', key: PSK }, retransmit: { initialMs: 20, maxRetransmissions: 1 } }), (e) => e instanceof DtlsHandshakeTimeoutError);
    assert.deepEqual(await settledResources(), before);
  });
});
