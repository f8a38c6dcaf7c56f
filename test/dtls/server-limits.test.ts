/** The server's stateless cookie exchange (RFC 6347 §4.2.1) and its configured limits. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { createDtlsServer, type DtlsServer } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import { ContentType, DTLS_1_0, DTLS_1_2, HandshakeType } from '../../src/dtls/constants.js';
import { decodeHandshakeFragments, encodeHandshakeMessage } from '../../src/dtls/handshake-fragment.js';
import { decodeHelloVerifyRequest, encodeClientHello } from '../../src/dtls/handshake.js';
import { decodeDatagram, encodeRecord } from '../../src/dtls/record.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { isRootlineError } from '../../src/errors.js';
import { nextMessage, PSK, rawSocket } from './helpers.js';

function clientHello(random: Uint8Array, cookie: Uint8Array, seq: number): Buffer {
  const body = encodeClientHello({ clientVersion: DTLS_1_2, random, sessionId: new Uint8Array(0), cookie, cipherSuites: [0xc0a8], compressionMethods: [0], extensions: [] });
  const hs = encodeHandshakeMessage({ msgType: HandshakeType.clientHello, messageSeq: seq, body });
  return Buffer.from(encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 0, sequenceNumber: seq, fragment: hs }));
}

/** Does the cookie round trip by hand; leaves a half-open handshake on the server. Resolves with the server's flight. */
async function halfOpen(sock: Socket, port: number): Promise<Promise<Buffer>> {
  const random = randomBytes(32);
  const hvrWait = nextMessage(sock);
  sock.send(clientHello(random, new Uint8Array(0), 0), port, '127.0.0.1');
  const rec = decodeDatagram(await hvrWait)[0]!;
  const hvr = decodeHelloVerifyRequest(decodeHandshakeFragments(rec.fragment)[0]!.body);
  const flight = nextMessage(sock);
  sock.send(clientHello(random, hvr.cookie, 1), port, '127.0.0.1');
  return flight;
}

async function server(opts: Record<string, unknown> = {}): Promise<DtlsServer> {
  return createDtlsServer({ port: 0, psk: { lookup: () => PSK }, retransmit: { initialMs: 5000 }, ...opts });
}

describe('DTLS server: stateless cookies and limits', { timeout: 120_000 }, () => {
  it('answers cookie-less ClientHellos with HelloVerifyRequest and keeps no state', async () => {
    const s = await server();
    const sock = await rawSocket();
    try {
      for (let i = 0; i < 200; i++) {
        const reply = nextMessage(sock);
        sock.send(clientHello(randomBytes(32), new Uint8Array(0), i), s.address().port, '127.0.0.1');
        const rec = decodeDatagram(await reply)[0]!;
        // RFC 6347 §4.2.1: the HVR reuses the ClientHello's record sequence number; version DTLS 1.0.
        assert.equal(rec.sequenceNumber, i);
        assert.equal(rec.version, DTLS_1_0);
        const frag = decodeHandshakeFragments(rec.fragment)[0]!;
        assert.equal(frag.msgType, HandshakeType.helloVerifyRequest);
        assert.equal(decodeHelloVerifyRequest(frag.body).cookie.length, 32);
      }
      assert.equal(s.sessions.size, 0);
      assert.equal(s.halfOpenCount, 0);
    } finally {
      sock.close();
      await s.close();
    }
  });

  it('refuses forged and replayed-elsewhere cookies', async () => {
    const s = await server();
    const a = await rawSocket();
    const b = await rawSocket();
    try {
      const random = randomBytes(32);
      const hvrWait = nextMessage(a);
      a.send(clientHello(random, new Uint8Array(0), 0), s.address().port, '127.0.0.1');
      const cookie = decodeHelloVerifyRequest(decodeHandshakeFragments(decodeDatagram(await hvrWait)[0]!.fragment)[0]!.body).cookie;
      // Another address presenting A's cookie gets a fresh HelloVerifyRequest, not a session.
      const again = nextMessage(b);
      b.send(clientHello(random, cookie, 1), s.address().port, '127.0.0.1');
      assert.equal(decodeHandshakeFragments(decodeDatagram(await again)[0]!.fragment)[0]!.msgType, HandshakeType.helloVerifyRequest);
      // The same address with different parameters (another random) is refused too.
      const again2 = nextMessage(a);
      a.send(clientHello(randomBytes(32), cookie, 1), s.address().port, '127.0.0.1');
      assert.equal(decodeHandshakeFragments(decodeDatagram(await again2)[0]!.fragment)[0]!.msgType, HandshakeType.helloVerifyRequest);
      assert.equal(s.sessions.size, 0);
    } finally {
      a.close();
      b.close();
      await s.close();
    }
  });

  it('caps half-open handshakes (maxHalfOpen)', async () => {
    const s = await server({ maxHalfOpen: 2 });
    const socks = await Promise.all([rawSocket(), rawSocket(), rawSocket()]);
    const limited: string[] = [];
    s.on('limit', (k: string) => limited.push(k));
    try {
      const f1 = await await halfOpen(socks[0]!, s.address().port);
      const f2 = await await halfOpen(socks[1]!, s.address().port);
      assert.equal(decodeHandshakeFragments(decodeDatagram(f1)[0]!.fragment)[0]!.msgType, HandshakeType.serverHello);
      assert.equal(decodeHandshakeFragments(decodeDatagram(f2)[0]!.fragment)[0]!.msgType, HandshakeType.serverHello);
      assert.equal(s.halfOpenCount, 2);
      const refused = new Promise((r) => s.once('limit', r));
      void halfOpen(socks[2]!, s.address().port);
      await refused;
      assert.equal(limited.length, 1, 'the third handshake past its cookie is refused');
      assert.equal(s.sessions.size, 2);
    } finally {
      for (const x of socks) x.close();
      await s.close();
    }
  });

  it('caps sessions (maxSessions) and frees the slot when one closes', async () => {
    const s = await server({ maxSessions: 1 });
    try {
      const first = await connectDtls({ host: '127.0.0.1', port: s.address().port, psk: { identity: 'a', key: PSK } });
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port: s.address().port, psk: { identity: 'b', key: PSK }, retransmit: { initialMs: 50, maxRetransmissions: 1 } }),
        (e) => isRootlineError(e, 'ERR_DTLS_HANDSHAKE_TIMEOUT'),
      );
      const closed = new Promise((r) => s.once('sessionClosed', r));
      first.close();
      await closed;
      const second = await connectDtls({ host: '127.0.0.1', port: s.address().port, psk: { identity: 'b', key: PSK } });
      assert.equal(second.established, true);
      second.close();
    } finally {
      await s.close();
    }
  });

  it('limits handshakes per address (handshakeRate) with ERR_DTLS_LIMIT', async () => {
    const s = await server({ handshakeRate: { perAddress: 2, windowMs: 3_600_000 } });
    const refused: unknown[] = [];
    s.on('limit', (_k: string, err: unknown) => refused.push(err));
    try {
      for (const id of ['a', 'b']) (await connectDtls({ host: '127.0.0.1', port: s.address().port, psk: { identity: id, key: PSK } })).close();
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port: s.address().port, psk: { identity: 'c', key: PSK }, retransmit: { initialMs: 50, maxRetransmissions: 1 } }),
        (e) => isRootlineError(e, 'ERR_DTLS_HANDSHAKE_TIMEOUT'),
      );
      assert.ok(refused.length >= 1);
      assert.ok(refused.every((e) => isRootlineError(e, 'ERR_DTLS_LIMIT')));
    } finally {
      await s.close();
    }
  });

  it('a rebooted client at maxSessions still replaces its own session', async () => {
    const s = await server({ maxSessions: 1 });
    const sock = await rawSocket();
    try {
      const first = await connectDtls({ host: '127.0.0.1', port: s.address().port, psk: { identity: 'a', key: PSK }, socket: sock });
      first.destroy();
      const second = await connectDtls({ host: '127.0.0.1', port: s.address().port, psk: { identity: 'a', key: PSK }, socket: sock });
      assert.equal(second.established, true);
      assert.equal(s.sessions.size, 1);
      second.close();
    } finally {
      sock.close();
      await s.close();
    }
  });

  it('drops established sessions that stay idle past idleTimeoutMs', async () => {
    const s = await server({ idleTimeoutMs: 100 });
    try {
      const client = await connectDtls({ host: '127.0.0.1', port: s.address().port, psk: { identity: 'a', key: PSK } });
      const [session, err] = await new Promise<[ServerSession, unknown]>((r) => s.once('sessionClosed', (x, e) => r([x, e])));
      assert.equal(session.closed, true);
      assert.equal(err, undefined);
      assert.equal(s.sessions.size, 0);
      client.destroy();
    } finally {
      await s.close();
    }
  });

  it('drops half-open handshakes after handshakeTimeoutMs', async () => {
    const s = await server({ handshakeTimeoutMs: 100 });
    const sock = await rawSocket();
    try {
      await halfOpen(sock, s.address().port);
      assert.equal(s.halfOpenCount, 1);
      const err = await new Promise((r) => s.once('handshakeError', r));
      assert.ok(isRootlineError(err, 'ERR_DTLS_HANDSHAKE_TIMEOUT'));
      assert.equal(s.sessions.size, 0);
      assert.equal(s.halfOpenCount, 0);
    } finally {
      sock.close();
      await s.close();
    }
  });
});
