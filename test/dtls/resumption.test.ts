/** Session resumption by session ID (RFC 5246 §7.3 abbreviated handshake, RFC 7627 §5.3). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import type { ClientSession } from '../../src/dtls/client-session.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { HandshakeType } from '../../src/dtls/constants.js';
import { decodeHandshakeFragments } from '../../src/dtls/handshake-fragment.js';
import { decodeDatagram } from '../../src/dtls/record.js';
import { isRootlineError } from '../../src/errors.js';
import { ecdsaSigner, PSK, UdpProxy } from './helpers.js';

async function echoServer(opts: Partial<DtlsServerOptions>) {
  const server = await createDtlsServer({ port: 0, ...opts } as DtlsServerOptions);
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

/** Handshake message types the server sent (plaintext epoch-0 ones only). */
function serverMessageTypes(proxy: UdpProxy): number[] {
  return proxy.toClient.flatMap((d) => decodeDatagram(d).filter((r) => r.epoch === 0 && r.type === 22).flatMap((r) => decodeHandshakeFragments(r.fragment).map((f) => f.msgType)));
}

describe('DTLS session resumption', { timeout: 120_000 }, () => {
  it('resumes a PSK session with an abbreviated handshake', async () => {
    const keys = new Map([['device-1', PSK]]);
    const { server, sessions } = await echoServer({ psk: { lookup: (id) => keys.get(id) } });
    try {
      const first = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
      const state = first.resumption;
      assert.ok(state !== undefined);
      assert.equal(state.sessionId.length, 32);
      assert.equal(first.resumed, false);
      first.close();

      const proxy = await UdpProxy.create(server.address().port);
      try {
        const second = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK }, resume: state });
        assert.equal(second.resumed, true);
        // The echo proves the server side finished too (its Finished check comes last).
        assert.equal(await roundTrip(second, 'again'), 'echo:again');
        assert.equal(sessions[1]!.resumed, true);
        assert.deepEqual(sessions[1]!.identity.type === 'psk' && sessions[1]!.identity.identity, 'device-1');
        // No key exchange took place: the server's plaintext messages are HelloVerifyRequest and ServerHello only.
        assert.deepEqual([...new Set(serverMessageTypes(proxy))].sort(), [HandshakeType.serverHello, HandshakeType.helloVerifyRequest].sort());
        second.close();
      } finally {
        proxy.close();
      }

      // A revoked PSK identity cannot resume: the server falls back to a full handshake, which fails.
      keys.delete('device-1');
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK }, resume: state }),
        (e) => isRootlineError(e, 'ERR_DTLS_ALERT_RECEIVED'),
      );
    } finally {
      await server.close();
    }
  });

  it('resumes an ECDHE_ECDSA session with client authentication', async () => {
    const clientSigner = ecdsaSigner();
    let allowed = true;
    const { server, sessions } = await echoServer({
      certificate: { signer: ecdsaSigner() },
      clientAuth: { verify: (id) => allowed && id.type === 'rpk' && Buffer.from(id.publicKey).equals(clientSigner.publicKey) },
    });
    try {
      const opts = { host: '127.0.0.1', port: server.address().port, verifyServer: () => true, certificate: { signer: clientSigner } };
      const first = await connectDtls(opts);
      const state = first.resumption!;
      first.close();
      const second = await connectDtls({ ...opts, resume: state });
      assert.equal(second.resumed, true);
      assert.equal(await roundTrip(second, 'x'), 'echo:x');
      assert.equal(sessions[1]!.identity.type, 'rpk');
      second.close();
      // A client no longer accepted gets a full handshake instead, and is refused there.
      allowed = false;
      await assert.rejects(connectDtls({ ...opts, resume: state }), (e) => isRootlineError(e, 'ERR_DTLS_ALERT_RECEIVED'));
    } finally {
      await server.close();
    }
  });

  it('falls back to a full handshake for unknown session IDs and when resumption is off', async () => {
    const a = await echoServer({ psk: { lookup: () => PSK } });
    const b = await echoServer({ psk: { lookup: () => PSK }, sessionCache: false });
    try {
      const first = await connectDtls({ host: '127.0.0.1', port: a.server.address().port, psk: { identity: 'd', key: PSK } });
      const state = first.resumption!;
      first.close();
      const elsewhere = await connectDtls({ host: '127.0.0.1', port: b.server.address().port, psk: { identity: 'd', key: PSK }, resume: state });
      assert.equal(elsewhere.resumed, false);
      assert.equal(elsewhere.resumption, undefined, 'a server without a cache issues no session ID');
      assert.equal(await roundTrip(elsewhere, 'y'), 'echo:y');
      elsewhere.close();
    } finally {
      await a.server.close();
      await b.server.close();
    }
  });

  it('resumes across a lost server flight (retransmission in the abbreviated handshake)', async () => {
    const { server } = await echoServer({ psk: { lookup: () => PSK }, retransmit: { initialMs: 30 } });
    try {
      const first = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'd', key: PSK } });
      const state = first.resumption!;
      first.close();
      // Drop the server's first ServerHello/CCS/Finished flight (datagram 1 after the HelloVerifyRequest).
      const proxy = await UdpProxy.create(server.address().port, { dropToClient: (_d, n) => n === 1 });
      try {
        const second = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'd', key: PSK }, resume: state, retransmit: { initialMs: 30 } });
        assert.equal(second.resumed, true);
        assert.equal(await roundTrip(second, 'z'), 'echo:z');
        second.close();
      } finally {
        proxy.close();
      }
    } finally {
      await server.close();
    }
  });
});
