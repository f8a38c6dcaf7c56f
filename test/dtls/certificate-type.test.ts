/** RFC 7250 §4.1: the server takes the first certificate type in the client's list that it supports. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { connectDtls, type DtlsClientOptions } from '../../src/dtls/client.js';
import type { PeerIdentity } from '../../src/dtls/connection.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { CipherSuite } from '../../src/dtls/constants.js';
import { isRootlineError } from '../../src/errors.js';
import { once, selfSigned } from './helpers.js';

async function handshake(server: Partial<DtlsServerOptions>, client: Omit<DtlsClientOptions, 'host' | 'port' | 'verifyServer'>): Promise<{ serverSeen: PeerIdentity['type']; clientSeen: PeerIdentity['type'] }> {
  const s = await createDtlsServer({ port: 0, retransmit: { initialMs: 200 }, ...server } as DtlsServerOptions);
  try {
    let serverSeen: PeerIdentity['type'] = 'none';
    const established = once<ServerSession>(s, 'session');
    const session = await connectDtls({
      host: '127.0.0.1',
      port: s.address().port,
      retransmit: { initialMs: 200 },
      cipherSuites: [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8],
      verifyServer: (id) => {
        serverSeen = id.type;
        return true;
      },
      ...client,
    });
    const clientSeen = (await established).identity.type;
    session.close();
    return { serverSeen, clientSeen };
  } finally {
    await s.close();
  }
}

describe('certificate type negotiation (RFC 7250)', { timeout: 30_000 }, () => {
  it("the server's credential: its raw public key whenever the client can take one, else X.509", async () => {
    const cert = await selfSigned('server');
    const server = { certificate: { signer: cert.signer, chain: [cert.der], rawPublicKey: true } };
    // Deliberately the server's preference, not the client's order: GnuTLS clients configured
    // for RPK (libcoap -M) still list X.509 first (see the interop test against serve).
    assert.equal((await handshake(server, { serverCertificateTypes: ['x509', 'rpk'] })).serverSeen, 'rpk');
    assert.equal((await handshake(server, { serverCertificateTypes: ['rpk', 'x509'] })).serverSeen, 'rpk');
    assert.equal((await handshake(server, { serverCertificateTypes: ['x509'] })).serverSeen, 'x509');
    // Without RPK on the server, X.509 from the client's list.
    const x509Only = { certificate: { signer: cert.signer, chain: [cert.der], rawPublicKey: false } };
    assert.equal((await handshake(x509Only, { serverCertificateTypes: ['rpk', 'x509'] })).serverSeen, 'x509');
  });

  it("the client's credential: clientCertificateTypes limits and orders what the client offers", async () => {
    const server = await selfSigned('server');
    const client = await selfSigned('client');
    const opts = { certificate: { signer: server.signer, chain: [server.der] }, clientAuth: { verify: () => true } };
    const certificate = { signer: client.signer, chain: [client.der] };
    assert.equal((await handshake(opts, { certificate })).clientSeen, 'x509');
    assert.equal((await handshake(opts, { certificate, clientCertificateTypes: ['rpk', 'x509'] })).clientSeen, 'rpk');
    assert.equal((await handshake(opts, { certificate, clientCertificateTypes: ['x509', 'rpk'] })).clientSeen, 'x509');
    assert.equal((await handshake(opts, { certificate, clientCertificateTypes: ['rpk'] })).clientSeen, 'rpk');
    // A server that accepts only X.509 takes it even when the client prefers RPK.
    const x509Server = { ...opts, clientAuth: { verify: () => true, types: ['x509' as const] } };
    assert.equal((await handshake(x509Server, { certificate, clientCertificateTypes: ['rpk', 'x509'] })).clientSeen, 'x509');
  });

  it('refuses impossible certificate type lists', async () => {
    const client = await selfSigned('client');
    const bad = (o: Partial<DtlsClientOptions>) =>
      assert.rejects(connectDtls({ host: '127.0.0.1', port: 9, verifyServer: () => true, ...o }), (e) => isRootlineError(e) && e.code === 'ERR_INVALID_ARGUMENT');
    await bad({ serverCertificateTypes: [] });
    await bad({ certificate: { signer: client.signer }, clientCertificateTypes: ['x509'] });
  });
});
