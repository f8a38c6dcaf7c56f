/** Our client against our server on loopback: every suite and credential mode. */
import { missingCapability } from '../helpers/peers.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { connectDtls, type DtlsClientOptions } from '../../src/dtls/client.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { generateKeyPairSync } from 'node:crypto';
import { CipherSuite } from '../../src/dtls/constants.js';
import { DEFAULT_CIPHER_SUITES } from '../../src/dtls/server-session.js';
import { DEFAULT_CLIENT_SUITES } from '../../src/dtls/client-session.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { isRootlineError } from '../../src/errors.js';
import { ecdsaSigner, PSK, selfSigned, UdpProxy, once } from './helpers.js';

async function withServer(opts: Partial<DtlsServerOptions>, fn: (port: number, sessions: ServerSession[], errors: unknown[]) => Promise<void>): Promise<void> {
  const server = await createDtlsServer({ port: 0, retransmit: { initialMs: 200 }, ...opts } as DtlsServerOptions);
  const sessions: ServerSession[] = [];
  const errors: unknown[] = [];
  server.on('session', (s: ServerSession) => {
    sessions.push(s);
    s.on('data', (d: Uint8Array) => s.send(Buffer.concat([Buffer.from('echo:'), d])));
  });
  server.on('handshakeError', (e) => errors.push(e));
  try {
    await fn(server.address().port, sessions, errors);
  } finally {
    await server.close();
  }
}

async function echo(opts: DtlsClientOptions, text = 'ping'): Promise<{ reply: string; session: Awaited<ReturnType<typeof connectDtls>> }> {
  const session = await connectDtls({ retransmit: { initialMs: 200 }, ...opts });
  const got = once<Uint8Array>(session, 'data');
  session.send(Buffer.from(text));
  return { reply: Buffer.from(await got).toString(), session };
}

const pskLookup = (id: string) => (id === 'device-1' ? PSK : undefined);

describe('DTLS handshakes on loopback', { timeout: 120_000 }, () => {
  for (const suite of [CipherSuite.TLS_PSK_WITH_AES_128_CCM_8, CipherSuite.TLS_PSK_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_PSK_WITH_ARIA_128_GCM_SHA256]) {
    it(`PSK suite 0x${suite.toString(16)} with identity hint`, () =>
      withServer({ psk: { lookup: pskLookup, identityHint: 'hint' } }, async (port, sessions) => {
        const { reply, session } = await echo({ host: '127.0.0.1', port, psk: { identity: 'device-1', key: PSK }, cipherSuites: [suite] });
        assert.equal(reply, 'echo:ping');
        assert.equal(session.cipherSuite?.id, suite);
        assert.deepEqual(sessions[0]!.identity.type === 'psk' ? sessions[0]!.identity.identity : undefined, 'device-1');
        session.close();
      }));
  }

  for (const suite of [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256]) {
    it(`ECDHE_ECDSA suite 0x${suite.toString(16)} with raw public keys on both sides`, async () => {
      const serverSigner = ecdsaSigner();
      const clientSigner = ecdsaSigner();
      await withServer(
        {
          certificate: { signer: serverSigner },
          clientAuth: { verify: (id) => id.type === 'rpk' && Buffer.from(id.publicKey).equals(clientSigner.publicKey) },
        },
        async (port, sessions) => {
          const { reply, session } = await echo({
            host: '127.0.0.1',
            port,
            cipherSuites: [suite],
            verifyServer: (id) => id.type === 'rpk' && Buffer.from(id.publicKey).equals(serverSigner.publicKey),
            certificate: { signer: clientSigner },
          });
          assert.equal(reply, 'echo:ping');
          assert.equal(session.identity.type, 'rpk');
          assert.equal(sessions[0]!.identity.type, 'rpk');
          session.close();
        },
      );
    });
  }

  it('ECDHE_ECDSA with X.509 chains both ways, fragmented under a small MTU', async () => {
    const serverCert = await selfSigned('server', 1500);
    const clientCert = await selfSigned('client', 1500);
    await withServer(
      {
        mtu: 400,
        certificate: { signer: serverCert.signer, chain: [serverCert.der], rawPublicKey: false },
        clientAuth: { types: ['x509'], verify: (id) => id.type === 'x509' && Buffer.from(id.chain[0]!).equals(clientCert.der) },
      },
      async (port, sessions) => {
        const proxy = await UdpProxy.create(port);
        try {
          const { reply, session } = await echo({
            host: '127.0.0.1',
            port: proxy.port,
            mtu: 400,
            serverCertificateTypes: ['x509'],
            verifyServer: (id) => id.type === 'x509' && Buffer.from(id.chain[0]!).equals(serverCert.der),
            certificate: { signer: clientCert.signer, chain: [clientCert.der] },
          });
          assert.equal(reply, 'echo:ping');
          assert.equal(sessions[0]!.identity.type, 'x509');
          assert.ok(serverCert.der.length > 1500, 'the certificate needs fragmenting');
          for (const d of [...proxy.toServer, ...proxy.toClient]) assert.ok(d.length <= 400, `datagram of ${d.length} bytes exceeds the MTU`);
          session.close();
        } finally {
          proxy.close();
        }
      },
    );
  });

  it('LEA suites (private use) work when both sides enable them, and are never offered by default', async () => {
    const lea = [CipherSuite.TLS_PSK_WITH_LEA_128_CCM_8, CipherSuite.TLS_PSK_WITH_LEA_128_GCM_SHA256, CipherSuite.TLS_ECDHE_ECDSA_WITH_LEA_128_CCM_8, CipherSuite.TLS_ECDHE_ECDSA_WITH_LEA_128_GCM_SHA256];
    for (const id of lea) {
      assert.ok(!DEFAULT_CIPHER_SUITES.includes(id));
      assert.ok(!DEFAULT_CLIENT_SUITES.includes(id));
    }
    await withServer({ psk: { lookup: pskLookup }, certificate: { signer: ecdsaSigner() }, cipherSuites: lea }, async (port) => {
      for (const id of lea) {
        const { reply, session } = await echo({ host: '127.0.0.1', port, psk: { identity: 'device-1', key: PSK }, verifyServer: () => true, cipherSuites: [id] });
        assert.equal(reply, 'echo:ping');
        assert.equal(session.cipherSuite?.id, id);
        session.close();
      }
    });
  });

  it('Ed25519 raw public keys work for ECDHE_ECDSA (RFC 8422 §5.1.3)', async () => {
    const serverSigner = keyObjectSigner(generateKeyPairSync('ed25519').privateKey);
    await withServer({ certificate: { signer: serverSigner } }, async (port) => {
      const { reply, session } = await echo({
        host: '127.0.0.1',
        port,
        verifyServer: (id) => id.type === 'rpk' && Buffer.from(id.publicKey).equals(serverSigner.publicKey),
      });
      assert.equal(reply, 'echo:ping');
      session.close();
    });
  });

  it('a server with PSK and a certificate serves both kinds of client', () =>
    withServer({ psk: { lookup: pskLookup }, certificate: { signer: ecdsaSigner() } }, async (port) => {
      const a = await echo({ host: '127.0.0.1', port, psk: { identity: 'device-1', key: PSK } });
      const b = await echo({ host: '127.0.0.1', port, verifyServer: () => true });
      assert.equal(a.session.cipherSuite?.keyExchange, 'psk');
      assert.equal(b.session.cipherSuite?.keyExchange, 'ecdhe_ecdsa');
      a.session.close();
      b.session.close();
    }));

  it('an unknown PSK identity ends in unknown_psk_identity on both sides', () =>
    withServer({ psk: { lookup: pskLookup } }, async (port, sessions, errors) => {
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port, psk: { identity: 'intruder', key: PSK } }),
        (e) => isRootlineError(e, 'ERR_DTLS_ALERT_RECEIVED') && (e as unknown as { description: number }).description === 115,
      );
      assert.equal(sessions.length, 0);
      assert.ok(isRootlineError(errors[0], 'ERR_DTLS_UNKNOWN_PSK_IDENTITY'));
    }));

  it('a wrong PSK never yields a session and only typed errors', () =>
    withServer({ psk: { lookup: pskLookup } }, async (port, sessions, errors) => {
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port, psk: { identity: 'device-1', key: Buffer.alloc(16, 7) }, retransmit: { initialMs: 100, maxRetransmissions: 2 } }),
        (e) => isRootlineError(e, 'ERR_DTLS_HANDSHAKE_TIMEOUT') || isRootlineError(e, 'ERR_DTLS_ALERT_RECEIVED'),
      );
      assert.equal(sessions.length, 0);
      // Our server can open the client's Finished only with the right key; with a wrong one the
      // record fails authentication and is dropped silently (RFC 6347 §4.1.2.7).
      assert.ok(errors.every((e) => isRootlineError(e)));
    }));

  it('a server certificate refused by verifyServer fails with ERR_DTLS_BAD_CERTIFICATE', () =>
    withServer({ certificate: { signer: ecdsaSigner() } }, async (port) => {
      await assert.rejects(connectDtls({ host: '127.0.0.1', port, verifyServer: () => false }), (e) => isRootlineError(e, 'ERR_DTLS_BAD_CERTIFICATE'));
    }));

  it('a client without a certificate is refused when client authentication is required', () =>
    withServer({ certificate: { signer: ecdsaSigner() }, clientAuth: { verify: () => true } }, async (port, _s, errors) => {
      await assert.rejects(connectDtls({ host: '127.0.0.1', port, verifyServer: () => true }), (e) => isRootlineError(e, 'ERR_DTLS_ALERT_RECEIVED'));
      assert.ok(isRootlineError(errors[0], 'ERR_DTLS_HANDSHAKE_FAILURE'));
    }));

  it('a handshake message above maxHandshakeMessageSize ends the handshake with ERR_DTLS_REASSEMBLY_LIMIT', async () => {
    const big = await selfSigned('client', 3000);
    await withServer(
      { certificate: { signer: ecdsaSigner() }, maxHandshakeMessageSize: 1500, clientAuth: { types: ['x509'], verify: () => true } },
      async (port, sessions, errors) => {
        await assert.rejects(
          connectDtls({ host: '127.0.0.1', port, verifyServer: () => true, certificate: { signer: big.signer, chain: [big.der] } }),
          (e) => isRootlineError(e, 'ERR_DTLS_ALERT_RECEIVED'),
        );
        assert.equal(sessions.length, 0);
        assert.ok(isRootlineError(errors[0], 'ERR_DTLS_REASSEMBLY_LIMIT'));
      },
    );
  });

  it('no suite in common gives handshake_failure', () =>
    withServer({ psk: { lookup: pskLookup }, cipherSuites: [CipherSuite.TLS_PSK_WITH_AES_128_GCM_SHA256] }, async (port) => {
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port, psk: { identity: 'device-1', key: PSK }, cipherSuites: [CipherSuite.TLS_PSK_WITH_AES_128_CCM_8] }),
        (e) => isRootlineError(e, 'ERR_DTLS_ALERT_RECEIVED') && (e as unknown as { description: number }).description === 40,
      );
    }));

  it('works over IPv6 loopback with bracketed peer keys', async (t) => {
    let server;
    try {
      server = await createDtlsServer({ host: '::1', port: 0, psk: { lookup: pskLookup } });
    } catch {
      t.skip(missingCapability('no IPv6 loopback on this host', 'enable IPv6 on lo (sysctl net.ipv6.conf.lo.disable_ipv6=0)'));
      return;
    }
    try {
      const seen: string[] = [];
      server.on('session', (s: ServerSession) => {
        seen.push(s.peerKey);
        s.on('data', (d: Uint8Array) => s.send(d));
      });
      const c = await connectDtls({ host: '::1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
      const got = once<Uint8Array>(c, 'data');
      c.send(Buffer.from('v6'));
      assert.equal(Buffer.from(await got).toString(), 'v6');
      assert.match(seen[0]!, /^\[::1\]:\d+$/);
      assert.equal(c.peerKey, `[::1]:${server.address().port}`);
      c.close();
    } finally {
      await server.close();
    }
  });

  it('close_notify closes the server side cleanly', async () => {
    const server = await createDtlsServer({ port: 0, psk: { lookup: pskLookup } });
    try {
      const client = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
      const closed = once<[ServerSession, Error | undefined]>({ once: (ev, cb) => server.once(ev, (s, e) => cb([s, e])) }, 'sessionClosed');
      client.close();
      const [session, err] = await closed;
      assert.equal(err, undefined);
      assert.equal(session.closed, true);
      assert.equal(server.sessions.size, 0);
      assert.throws(() => client.send(Buffer.from('x')), (e) => isRootlineError(e, 'ERR_DTLS_SESSION_CLOSED'));
    } finally {
      await server.close();
    }
  });
});

describe('peer key extraction', () => {
  it('turns malformed certificates and raw public keys into ERR_DTLS_BAD_CERTIFICATE', async () => {
    const { publicKeyFromCertificate, publicKeyFromSpki } = await import('../../src/dtls/key-exchange.js');
    const bad = (e: unknown) => isRootlineError(e, 'ERR_DTLS_BAD_CERTIFICATE');
    assert.throws(() => publicKeyFromCertificate(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)), bad);
    assert.throws(() => publicKeyFromSpki(Uint8Array.of(1, 2, 3)), bad);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' });
    assert.throws(() => publicKeyFromSpki(rsa), bad, 'only P-256 and Ed25519 keys are accepted');
    const good = ecdsaSigner();
    assert.equal(publicKeyFromSpki(good.publicKey).asymmetricKeyType, 'ec');
  });
});
