/**
 * The device-facing listeners of `rootline serve`: CoAP over DTLS (CoAPs, default 5684) and plain
 * CoAP (NoSec, default 5683), each one CoapEndpoint that later rooms (LwM2M, bootstrap, firmware
 * delivery) add resources to. For now both serve only what the router generates:
 * `/.well-known/core`.
 *
 * CoAPs authenticates every device against the store, and nothing else:
 * - PSK: the identity is looked up with devices.findCredential('psk', identity) and the sealed
 *   key opened with the CredentialSealer; an unknown identity or a key that cannot be unsealed
 *   ends the handshake (unknown_psk_identity).
 * - ECDHE_ECDSA: the server signs with the KeyStore key `coaps-server` (certificate chain or raw
 *   public key), and client authentication is required: an RPK must be registered
 *   (findCredential('rpk', SHA-256 of its SPKI)); a certificate must be the very certificate
 *   registered for its subject CN. A subject-only binding has no trust anchor to check against
 *   until the domain CA arrives, so it is refused rather than accepted on a name.
 * Every accepted or refused handshake goes to the HandshakeAuditor (rate-limited audit records).
 *
 * The NoSec port is for local tests and, later, only the NoSec bootstrap of devices configured
 * for it (DESIGN.md §3); it must never carry management traffic for secured devices.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { CoapCode, CoapEndpoint, UdpTransport } from '../coap/index.js';
import { createDtlsServer, dtlsServerTransport, type DtlsServer, type PeerIdentity, type ServerSession } from '../dtls/index.js';
import { isRootlineError } from '../errors.js';
import { certificateFacts, type CertificateFacts } from '../lwm2m/server/identity.js';
import type { Store } from '../store/types.js';
import type { CoapsIdentity } from './coaps-identity.js';
import type { CredentialSealer } from './credential-seal.js';
import type { HandshakeAuditor, HandshakeCredential } from './handshake-audit.js';
import type { Listener, ListenerAddress } from './listeners.js';

function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** A listener that also exposes its CoapEndpoint once started, for rooms that add resources. */
export interface CoapListener extends Listener {
  readonly endpoint: CoapEndpoint | undefined;
  /** The DTLS server of a CoAPs listener once started (the LwM2M room reads session identities from it). */
  readonly dtls?: DtlsServer | undefined;
}

export interface NoSecCoapListenerOptions {
  host: string;
  port: number;
}

/** Plain CoAP (RFC 7252 §9 NoSec) on UDP. */
export function noSecCoapListener(o: NoSecCoapListenerOptions): CoapListener {
  let endpoint: CoapEndpoint | undefined;
  return {
    name: 'coap',
    get endpoint() {
      return endpoint;
    },
    async start(): Promise<ListenerAddress> {
      const transport = await UdpTransport.bind({ address: o.host, port: o.port });
      endpoint = new CoapEndpoint(transport);
      const addr = transport.local;
      return { host: addr.address, port: addr.port, url: `coap://${urlHost(addr.address)}:${addr.port}` };
    },
    async stop() {
      await endpoint?.close();
      endpoint = undefined;
    },
  };
}

/** DTLS server limits that tests and operators may tune (see src/dtls for defaults). */
export interface CoapsDtlsLimits {
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxSessions?: number;
  maxHalfOpen?: number;
}

export interface CoapsListenerOptions {
  host: string;
  port: number;
  store: Store;
  sealer: CredentialSealer;
  identity: CoapsIdentity;
  auditor: HandshakeAuditor;
  logger: Logger;
  dtls?: CoapsDtlsLimits;
  /**
   * Random-PIN owner transfers (src/onboarding/pin-transfer.ts): `pin:<id>` PSK identities are
   * resolved here instead of the store, and every failed or completed handshake under one is
   * reported, so guesses are counted durably and the transfer locks after its limit.
   */
  pinTransfers?: {
    lookupPsk(identity: string): Promise<Uint8Array | undefined>;
    handshakeFailed(identity: string, peer: string): Promise<void>;
    handshakeSucceeded(identity: string, peer: string): Promise<void>;
    /** The permanent PSK for the device behind an established `pin:` session (served at PIN_CREDENTIAL_PATH). */
    issueCredential(identity: string): Promise<{ endpoint: string; identity: string; key: Uint8Array }>;
  };
  justWorks?: CoapsJustWorks;
}

/**
 * Where a device that completed a PIN handshake fetches its permanent PSK (POST, over that same
 * session only): JSON `{"endpoint", "identity", "key"}` with the key in hex. Answered once.
 */
/** Set when just-works owner transfer is on: unknown raw public keys are remembered for operator approval. */
export interface CoapsJustWorks {
  keySeen(spki: Uint8Array): Promise<void>;
}

export const PIN_CREDENTIAL_PATH = '/rootline/pin-credential';

const PIN_IDENTITY_PREFIX = 'pin:';

/** What a refused handshake is filed under: the PSK identity, RPK fingerprint or certificate subject. */
function describePeer(identity: PeerIdentity): { credential: HandshakeCredential; identity: string } {
  switch (identity.type) {
    case 'psk':
      return { credential: 'psk', identity: identity.identity };
    case 'rpk':
      return { credential: 'rpk', identity: createHash('sha256').update(identity.publicKey).digest('hex') };
    case 'x509':
      return { credential: 'x509', identity: identity.chain[0] ? subjectName(identity.chain[0]) : '' };
    default:
      return { credential: 'none', identity: '' };
  }
}

/**
 * What the listener reads from a client certificate (the name it is filed under, its validity)
 * comes from the LwM2M server's per-certificate facts (src/lwm2m/server/identity.ts): one read
 * per certificate (a strict DER walk, X509Certificate where it does not answer) for the
 * handshake's verify and audit and for the server's identity lookups of the same session.
 */
function factsOf(der: Uint8Array): CertificateFacts | null {
  return certificateFacts(der) ?? null;
}

function subjectName(der: Uint8Array): string {
  return factsOf(der)?.lookup ?? '';
}

/** CoAP over DTLS 1.2 (RFC 7252 §9.1) with device credentials from the store. */
export function coapsListener(o: CoapsListenerOptions): CoapListener {
  let endpoint: CoapEndpoint | undefined;
  let server: DtlsServer | undefined;
  let stopping = false;
  const log = o.logger.child({ listener: 'coaps' });

  // Refusals decided inside a callback (unknown PSK identity, refused client key) are audited
  // there, where the identity is known; the session-close watcher below skips these codes.
  const AUDITED_IN_CALLBACK = new Set(['ERR_DTLS_UNKNOWN_PSK_IDENTITY', 'ERR_DTLS_BAD_CERTIFICATE']);

  async function lookupPsk(identity: string): Promise<Uint8Array | undefined> {
    if (o.pinTransfers !== undefined && identity.startsWith(PIN_IDENTITY_PREFIX)) {
      const key = await o.pinTransfers.lookupPsk(identity);
      if (key === undefined) o.auditor.record({ outcome: 'deny', credential: 'psk', identity, reason: 'no PIN transfer awaiting this identity (unknown, locked, expired or done)' });
      return key;
    }
    const cred = await o.store.devices.findCredential('psk', identity);
    if (cred === undefined) {
      o.auditor.record({ outcome: 'deny', credential: 'psk', identity, reason: 'unknown identity' });
      return undefined;
    }
    try {
      return await o.sealer.unseal(cred.endpoint, identity, cred.material);
    } catch (err) {
      // A blob that does not open is tampering or a moved row: refuse, and say so loudly.
      log.error({ err, endpoint: cred.endpoint }, 'sealed PSK does not open; handshake refused');
      o.auditor.record({ outcome: 'deny', credential: 'psk', identity, endpoint: cred.endpoint, reason: 'sealed key does not open' });
      return undefined;
    }
  }

  async function verifyClient(peer: PeerIdentity): Promise<boolean> {
    const { credential, identity } = describePeer(peer);
    const refuse = (reason: string, endpoint?: string): boolean => {
      o.auditor.record({ outcome: 'deny', credential, identity, reason, ...(endpoint !== undefined ? { endpoint } : {}) });
      return false;
    };
    try {
      if (peer.type === 'rpk') {
        const cred = await o.store.devices.findCredential('rpk', identity);
        if (cred !== undefined) return true;
        // Refused either way; with just-works on, the key waits for an operator's approval.
        if (o.justWorks !== undefined) await o.justWorks.keySeen(peer.publicKey);
        return refuse('unknown raw public key');
      }
      if (peer.type === 'x509') {
        const leaf = peer.chain[0];
        if (leaf === undefined || identity === '') return refuse('no certificate');
        const cred = await o.store.devices.findCredential('x509', identity);
        if (cred === undefined) return refuse('unknown certificate subject');
        if (cred.material.length === 0) return refuse('subject-only binding needs a domain CA (not configured)', cred.endpoint);
        if (!Buffer.from(cred.material).equals(Buffer.from(leaf))) return refuse('certificate differs from the registered one', cred.endpoint);
        const facts = factsOf(leaf);
        if (facts === null) return refuse('unreadable certificate', cred.endpoint);
        const now = Date.now();
        if (now < facts.validFrom || now > facts.validTo) return refuse('certificate outside its validity period', cred.endpoint);
        return true;
      }
      return refuse('no client credential');
    } catch (err) {
      log.error({ err }, 'client credential check failed');
      return refuse('credential check failed');
    }
  }

  async function onEstablished(session: ServerSession): Promise<void> {
    const { credential, identity } = describePeer(session.identity);
    if (o.pinTransfers !== undefined && credential === 'psk' && identity.startsWith(PIN_IDENTITY_PREFIX)) await o.pinTransfers.handshakeSucceeded(identity, session.peerKey);
    const kind = credential === 'none' ? undefined : credential;
    const cred = kind !== undefined ? await o.store.devices.findCredential(kind, identity) : undefined;
    o.auditor.record({
      outcome: 'allow',
      credential,
      identity,
      peer: session.peerKey,
      ...(cred !== undefined ? { endpoint: cred.endpoint } : {}),
      ...(session.cipherSuite !== undefined ? { cipherSuite: session.cipherSuite.name } : {}),
    });
  }

  /**
   * Every handshake that ends without a session is a refusal to audit, with the peer's address and
   * whatever identity it had presented: the DTLS server reports each one as 'handshakeError' with
   * the half-open session, including a handshake that silently stalls (a wrong PSK: the client's
   * Finished does not decrypt and is discarded, RFC 6347 §4.1.2.7) and so ends in a timeout.
   * Listening once on the server instead of on each session keeps idle sessions free of a
   * listener closure and an event emitter.
   */
  function watchHandshakeFailures(dtls: DtlsServer): void {
    dtls.on('handshakeError', (err: unknown, _peer: string, session?: ServerSession) => {
      if (session === undefined || session.wasEstablished || stopping) return;
      const code = isRootlineError(err) ? err.code : err === undefined ? 'ERR_DTLS_HANDSHAKE_TIMEOUT' : 'ERR_DTLS_HANDSHAKE_FAILURE';
      if (AUDITED_IN_CALLBACK.has(code)) return;
      const { credential, identity } = describePeer(session.identity);
      o.auditor.record({ outcome: 'deny', credential, identity, peer: session.peerKey, reason: code });
      // A wrong PIN gives a wrong PSK: the handshake fails or stalls after the identity was taken. Each counts as a guess.
      if (o.pinTransfers !== undefined && credential === 'psk' && identity.startsWith(PIN_IDENTITY_PREFIX)) {
        o.pinTransfers.handshakeFailed(identity, session.peerKey).catch((e: unknown) => log.error({ err: e }, 'counting a failed PIN-transfer handshake failed'));
      }
    });
  }

  return {
    name: 'coaps',
    get endpoint() {
      return endpoint;
    },
    get dtls() {
      return server;
    },
    async start(): Promise<ListenerAddress> {
      stopping = false;
      // The DTLS server binds its own socket, so it can serve on the native fast path
      // (src/dtls/README.md; node:dgram when the addon is not built), IPv6 hosts IPv6 only.
      server = await createDtlsServer({
        host: o.host,
        port: o.port,
        ipv6Only: o.host.includes(':'),
        psk: { lookup: (identity) => lookupPsk(identity) },
        certificate: { signer: o.identity.signer, chain: o.identity.chain, rawPublicKey: true },
        clientAuth: { required: true, verify: verifyClient },
        ...o.dtls,
      });
      const dtls = server;
      watchHandshakeFailures(dtls);
      dtls.on('session', (session: ServerSession) => {
        onEstablished(session).catch((err: unknown) => log.error({ err }, 'auditing an accepted handshake failed'));
      });
      dtls.on('handshakeError', (err: unknown, peer: string) => log.debug({ err, peer }, 'DTLS handshake failed'));
      endpoint = new CoapEndpoint(dtlsServerTransport(dtls));
      const ep = endpoint;
      const pins = o.pinTransfers;
      if (pins !== undefined) {
        // The key travels inside the DTLS session keyed by the PIN; any other session is refused.
        ep.resource(PIN_CREDENTIAL_PATH, {
          hidden: true,
          post: async (req) => {
            const session = dtls.getSession(req.peer);
            const id = session?.identity;
            if (id?.type !== 'psk' || !id.identity.startsWith(PIN_IDENTITY_PREFIX)) return { code: CoapCode.Forbidden };
            try {
              const issued = await pins.issueCredential(id.identity);
              return { code: CoapCode.Changed, contentFormat: 50, payload: JSON.stringify({ endpoint: issued.endpoint, identity: issued.identity, key: Buffer.from(issued.key).toString('hex') }) };
            } catch (err) {
              log.info({ code: isRootlineError(err) ? err.code : 'ERR_INTERNAL', peer: req.peer }, 'PIN credential refused');
              return { code: CoapCode.Forbidden };
            }
          },
        });
      }
      // Observe relations and Block2 state of a session die with it.
      dtls.on('sessionClosed', (session: ServerSession) => ep.forgetPeer(session.peerKey));
      const addr = dtls.address();
      return { host: addr.address, port: addr.port, url: `coaps://${urlHost(addr.address)}:${addr.port}` };
    },
    async stop() {
      stopping = true;
      // Closing the endpoint closes its transport, which sends close_notify on every session;
      // closing the server then closes the socket it made.
      await endpoint?.close();
      await server?.close();
      endpoint = undefined;
      server = undefined;
    },
  };
}
