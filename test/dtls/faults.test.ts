/**
 * Bad input and faults against a live server: replayed, tampered and random records, random
 * datagrams from other peers, lost datagrams, renegotiation attempts and rebooted clients.
 * The server must keep serving its other sessions throughout.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createDtlsServer, type DtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import type { ClientSession } from '../../src/dtls/client-session.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { ContentType, DTLS_1_2 } from '../../src/dtls/constants.js';
import { decodeDatagram, encodeRecord } from '../../src/dtls/record.js';
import { encodeHandshakeMessage } from '../../src/dtls/handshake-fragment.js';
import { ecdsaSigner, PSK, rawSocket, seededRandom, selfSigned, sendUntilReply, UdpProxy, once } from './helpers.js';

async function echoServer(opts: Partial<DtlsServerOptions> = {}): Promise<{ server: DtlsServer; received: string[]; errors: unknown[] }> {
  const server = await createDtlsServer({ port: 0, psk: { lookup: (id) => (id.startsWith('device') ? PSK : undefined) }, ...opts } as DtlsServerOptions);
  const received: string[] = [];
  const errors: unknown[] = [];
  server.on('handshakeError', (e) => errors.push(e));
  server.on('session', (s: ServerSession) =>
    s.on('data', (d: Uint8Array) => {
      received.push(Buffer.from(d).toString());
      s.send(Buffer.concat([Buffer.from('echo:'), d]));
    }),
  );
  return { server, received, errors };
}

async function roundTrip(c: ClientSession, text: string): Promise<string> {
  let onData: (d: Uint8Array) => void = () => undefined;
  let onClose: (err?: Error) => void = () => undefined;
  const got = new Promise<Uint8Array>((resolve, reject) => {
    onData = resolve;
    onClose = (err) => reject(err ?? new Error('session closed'));
    c.once('data', onData);
    c.once('close', onClose);
  });
  c.send(Buffer.from(text));
  try {
    return Buffer.from(await got).toString();
  } finally {
    c.off('data', onData);
    c.off('close', onClose);
  }
}

describe('DTLS faults and bad input', { timeout: 120_000 }, () => {
  it('silently drops replayed records (RFC 6347 §4.1.2.6)', async () => {
    const { server, received } = await echoServer();
    const proxy = await UdpProxy.create(server.address().port);
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK } });
      assert.equal(await roundTrip(c, 'one'), 'echo:one');
      const appData = proxy.toServer.filter((d) => d[0] === ContentType.applicationData);
      assert.equal(appData.length, 1);
      proxy.injectToServer(appData[0]!);
      proxy.injectToServer(appData[0]!);
      assert.equal(await roundTrip(c, 'two'), 'echo:two');
      assert.deepEqual(received, ['one', 'two']);
      c.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });

  it('drops tampered records without tearing the session down (RFC 6347 §4.1.2.7)', async () => {
    const { server, received } = await echoServer();
    const proxy = await UdpProxy.create(server.address().port);
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK } });
      assert.equal(await roundTrip(c, 'one'), 'echo:one');
      const rec = decodeDatagram(proxy.toServer.at(-1)!)[0]!;
      for (let i = 0; i < rec.fragment.length; i++) {
        const frag = Uint8Array.from(rec.fragment);
        frag[i]! ^= 0x40;
        proxy.injectToServer(encodeRecord({ ...rec, sequenceNumber: rec.sequenceNumber + 100 + i, fragment: frag }));
      }
      assert.equal(await roundTrip(c, 'two'), 'echo:two');
      assert.deepEqual(received, ['one', 'two']);
      c.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });

  it('fuzz: random and mutated datagrams from the session address and from strangers never stop the server', async () => {
    const { server, errors } = await echoServer();
    const proxy = await UdpProxy.create(server.address().port);
    const stranger = await rawSocket();
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK } });
      await sendUntilReply(c, 'before', 'echo:before');
      const seeds = [...proxy.toServer];
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })).map(([seed, flips]) => {
              const b = Uint8Array.from(seed);
              for (const [i, v] of flips) b[i % b.length] = v;
              return b;
            }),
          ),
          async (datagram) => {
            proxy.injectToServer(datagram);
            stranger.send(datagram, server.address().port, '127.0.0.1');
            // Pace the flood so socket buffers do not overflow on a loaded host.
            await new Promise((r) => setImmediate(r));
            if (++round % 50 === 0) await sendUntilReply(c, `mid${round}`, `echo:mid${round}`);
          },
        ),
        { numRuns: 400 },
      );
      await sendUntilReply(c, 'after', 'echo:after');
      // A second client can still complete a handshake.
      const d = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-2', key: PSK } });
      await sendUntilReply(d, 'new', 'echo:new');
      for (const e of errors) assert.match((e as { code?: string }).code ?? '', /^ERR_DTLS_/);
      c.close();
      d.close();
    } finally {
      stranger.close();
      proxy.close();
      await server.close();
    }
  });

  it('completes PSK and ECDHE handshakes with 20% datagram loss in both directions', async () => {
    const { server } = await echoServer({ certificate: { signer: ecdsaSigner() }, retransmit: { initialMs: 20, maxMs: 200, maxRetransmissions: 20 } });
    const rnd = seededRandom(20261122);
    let dropped = 0;
    const lose = (): boolean => (rnd() < 0.2 ? (dropped++, true) : false);
    const proxy = await UdpProxy.create(server.address().port, { dropToServer: lose, dropToClient: lose });
    try {
      for (let i = 0; i < 10; i++) {
        const ecdhe = i % 2 === 1;
        const c = await connectDtls({
          host: '127.0.0.1',
          port: proxy.port,
          psk: ecdhe ? undefined : { identity: 'device-1', key: PSK },
          verifyServer: ecdhe ? () => true : undefined,
          retransmit: { initialMs: 20, maxMs: 200, maxRetransmissions: 20 },
        });
        assert.equal(c.established, true);
        c.destroy();
      }
      assert.ok(dropped >= 5, `only ${dropped} datagrams were lost`);
    } finally {
      proxy.close();
      await server.close();
    }
  });

  for (const [what, opts] of [['duplicated', { duplicate: true }], ['reordered', { swapPairs: true }], ['duplicated and reordered', { duplicate: true, swapPairs: true }]] as const) {
    it(`completes handshakes and delivers data once with ${what} datagrams (small MTU: fragments too)`, async () => {
      const cert = await selfSigned('server', 700);
      const { server, received } = await echoServer({
        certificate: { signer: cert.signer, chain: [cert.der], rawPublicKey: false },
        mtu: 300,
        retransmit: { initialMs: 20, maxMs: 100, maxRetransmissions: 30 },
      });
      const proxy = await UdpProxy.create(server.address().port, opts);
      const sent = new Map<string, number>();
      try {
        for (const ecdhe of [false, true]) {
          const c = await connectDtls({
            host: '127.0.0.1',
            port: proxy.port,
            mtu: 300,
            psk: ecdhe ? undefined : { identity: 'device-1', key: PSK },
            verifyServer: ecdhe ? (id) => id.type === 'x509' && Buffer.from(id.chain[0]!).equals(cert.der) : undefined,
            retransmit: { initialMs: 20, maxMs: 100, maxRetransmissions: 30 },
          });
          assert.equal(c.established, true);
          // With pair swapping a lone datagram waits for the next one, so two messages go out.
          const sendsM = sendUntilReply(c, `m-${String(ecdhe)}`, `echo:m-${String(ecdhe)}`, 300);
          sent.set(`m-${String(ecdhe)}`, await Promise.all([sendsM, sendUntilReply(c, `n-${String(ecdhe)}`, `echo:n-${String(ecdhe)}`, 300)]).then(([m, n]) => {
            sent.set(`n-${String(ecdhe)}`, n);
            return m;
          }));
          c.destroy();
        }
        // Every message arrived, and no more often than it was sent although the network
        // duplicated each datagram (the replay window drops the copies).
        assert.deepEqual([...new Set(received)].sort(), ['m-false', 'm-true', 'n-false', 'n-true']);
        for (const [text, times] of sent) assert.ok(received.filter((r) => r === text).length <= times, `${text} delivered more often than sent`);
      } finally {
        proxy.close();
        await server.close();
      }
    });
  }

  it('retransmits its last flight when the peer retransmits (lost final server flight)', async () => {
    const { server } = await echoServer();
    // Drop the server's CCS+Finished the first time (the third server datagram: HVR, flight 4, flight 6).
    const proxy = await UdpProxy.create(server.address().port, { dropToClient: (_d, n) => n === 2 });
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK }, retransmit: { initialMs: 30 } });
      assert.equal(await roundTrip(c, 'x'), 'echo:x');
      assert.ok(proxy.toClient.length >= 4, 'the server sent its final flight again');
      c.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });

  it('refuses renegotiation with a no_renegotiation warning and keeps the session', async () => {
    const { server } = await echoServer();
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
      const alert = once<{ level: number; description: number }>(c, 'alert');
      // A ClientHello inside the protected epoch is a renegotiation attempt.
      // (The established client keeps no handshake layer, so the record is built by hand.)
      const internals = c as unknown as { encodeOut(type: number, epoch: number, payload: Uint8Array): Uint8Array; transmit(d: Uint8Array): void };
      internals.transmit(internals.encodeOut(22, 1, encodeHandshakeMessage({ msgType: 1, messageSeq: 4, body: new Uint8Array(40) })));
      assert.deepEqual(await alert, { level: 1, description: 100 });
      assert.equal(await roundTrip(c, 'still'), 'echo:still');
      c.close();
    } finally {
      await server.close();
    }
  });

  it('a rebooted client (same address, fresh handshake through the cookie exchange) replaces its old association', async () => {
    const { server } = await echoServer();
    const sock = await rawSocket();
    try {
      const first = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK }, socket: sock });
      assert.equal(await roundTrip(first, 'a'), 'echo:a');
      const old = [...server.sessions.values()][0]!;
      first.destroy();
      const second = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK }, socket: sock });
      assert.equal(await roundTrip(second, 'b'), 'echo:b');
      assert.equal(old.closed, true);
      assert.equal(server.sessions.size, 1);
      second.close();
    } finally {
      sock.close();
      await server.close();
    }
  });

  it('ignores application data records in epoch 0', async () => {
    const { server, received } = await echoServer();
    const proxy = await UdpProxy.create(server.address().port);
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK } });
      proxy.injectToServer(encodeRecord({ type: ContentType.applicationData, version: DTLS_1_2, epoch: 0, sequenceNumber: 999, fragment: Buffer.from('plain') }));
      assert.equal(await roundTrip(c, 'z'), 'echo:z');
      assert.deepEqual(received, ['z']);
      c.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });
});
