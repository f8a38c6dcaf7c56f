/**
 * An established session keeps only what protects records: no randoms, master secret, session ID,
 * transcript, reassembler or epoch-0 state; the final flight only until the peer's first
 * protected record acknowledges it. Sizes come from `retainedState()` (bytes by purpose), never
 * from memory readings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { connectDtls, type DtlsClientOptions } from '../../src/dtls/client.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { CipherSuite } from '../../src/dtls/constants.js';
import { ecdsaSigner, PSK, once } from './helpers.js';

async function established(opts: Partial<DtlsServerOptions>, client: Omit<DtlsClientOptions, 'host' | 'port'>): Promise<void> {
  const server = await createDtlsServer({ port: 0, retransmit: { initialMs: 200 }, ...opts } as DtlsServerOptions);
  try {
    const atEstablishment = once<ServerSession>(server, 'session').then((s) => ({ s, state: s.retainedState() }));
    const session = await connectDtls({ host: '127.0.0.1', port: server.address().port, retransmit: { initialMs: 200 }, ...client });
    const { s, state } = await atEstablishment;
    assert.equal(state.handshakeSecrets, 0, 'randoms, master secret, session ID, ephemeral and peer keys dropped');
    assert.equal(state.transcript, 0);
    assert.equal(state.reassembler, 0);
    assert.ok(state.flight > 0, 'the final flight is kept until acknowledged');
    assert.equal(state.trafficKeys, 2 * (16 + 4), 'both directions: key and salt');

    const echoed = once<Uint8Array>(s, 'data');
    session.send(Buffer.from('hello'));
    await echoed;
    const after = s.retainedState();
    assert.deepEqual(after, { handshakeSecrets: 0, transcript: 0, reassembler: 0, flight: 0, epoch0WriteState: 0, trafficKeys: 40 });
    // The client keeps what `resumption` needs, but no transcript or reassembler either.
    const c = session.retainedState();
    assert.equal(c.transcript, 0);
    assert.equal(c.reassembler, 0);
    session.close();
  } finally {
    await server.close();
  }
}

describe('state an established DTLS session retains', { timeout: 30_000 }, () => {
  it('PSK (resumable: the master secret lives in the session cache only)', () =>
    established({ psk: { lookup: (id) => (id === 'device-1' ? PSK : undefined) } }, { psk: { identity: 'device-1', key: PSK } }));

  it('ECDHE_ECDSA with client authentication, no session cache', () => {
    const clientSigner = ecdsaSigner();
    return established(
      { certificate: { signer: ecdsaSigner() }, clientAuth: { verify: () => true }, sessionCache: false },
      { verifyServer: () => true, certificate: { signer: clientSigner }, cipherSuites: [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8] },
    );
  });
});
