/**
 * The registrar's CoAPs listener: DTLS 1.2 with the registrar certificate as server identity and
 * the pledge's IDevID (or, later, its LDevID) as client certificate, serving EST-coaps and
 * constrained BRSKI.
 *
 * Provisional trust (RFC 8995 §5.1): the handshake takes any client X.509 chain that parses and
 * whose key signed the handshake (CertificateVerify, checked by the DTLS layer); it does not
 * check the chain against anything, because the decision belongs to the registrar and EST
 * service, which check it against the manufacturer CAs (or this domain's CA for re-enrollment)
 * and answer a refusal with 4.01/4.03 and an audit record — a dropped handshake would tell the
 * pledge nothing and leave no record. A client without a certificate completes the handshake
 * too, so that its requests get 4.01 with an audit record rather than a silent drop (RFC 9148 §4:
 * "the client MUST be authenticated for all functions", /crts included). Raw public keys are not offered or taken: the pledge must see, and name in its
 * voucher request, the registrar's *certificate* (proximity), and an IDevID is a certificate.
 *
 * A dedicated listener, not `rootline serve`'s LwM2M CoAPs port: that one presents the LwM2M
 * server identity and admits only registered device credentials; here the registrar identity
 * must be presented (the MASA checks the pledge saw the key that signed the registrar's request)
 * and unknown factory certificates must get in far enough to be refused with a reason.
 */
import type { Socket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { CoapEndpoint, type CoapEndpointOptions } from '../../coap/index.js';
import type { Signer } from '../../crypto/keystore/types.js';
import { createDtlsServer, dtlsServerTransport, type DtlsServer, type PeerIdentity, type ServerSession } from '../../dtls/index.js';
import { InvalidArgumentError, isRootlineError } from '../../errors.js';
import { parseCertificate } from '../../pki/index.js';
import type { EstAuditSink, EstService } from '../est/service.js';
import { auditText } from '../masa-registry.js';
import type { Registrar } from '../registrar/registrar.js';
import { mountBrskiCoaps } from './brski-resources.js';
import { mountEstCoaps } from './est-resources.js';
import type { CoapsPeerContext } from './peer.js';

/** One DTLS handshake decision, for the caller's (rate-limited) audit. */
export interface RegistrarHandshakeEvent {
  outcome: 'allow' | 'deny';
  credential: 'x509' | 'rpk' | 'psk' | 'none';
  /** Certificate subject (audit-safe text) or ''. */
  identity: string;
  fingerprint256?: string;
  peer?: string;
  reason?: string;
  cipherSuite?: string;
}

export interface RegistrarCoapsOptions {
  host: string;
  port: number;
  /** An already bound UDP socket instead of host/port. */
  socket?: Socket;
  /** `bootstrapServerFor`, when present, also answers GET /.well-known/rootline/lwm2m-bootstrap. */
  registrar: Pick<Registrar, 'requestVoucher' | 'voucherStatus' | 'enrollStatus'> & Partial<Pick<Registrar, 'bootstrapServerFor'>> & { est: EstService };
  /** The registrar's key and certificate chain (leaf = the registrar certificate, then the domain CA). */
  identity: { signer: Signer; chain: Uint8Array[] };
  /** Where the EST resources record refusals the service does not see (/crts, /att without a client certificate). */
  audit?: EstAuditSink;
  /** Called for every handshake accepted or refused (wire it to a rate-limited audit). */
  onHandshake?: (event: RegistrarHandshakeEvent) => void;
  /** DTLS limits (see src/dtls). */
  dtls?: { handshakeTimeoutMs?: number; idleTimeoutMs?: number; maxSessions?: number; maxHalfOpen?: number };
  coap?: CoapEndpointOptions;
  /** Advertised EST root (default '/est'). */
  estRoot?: string;
}

export interface RegistrarCoapsServer {
  readonly endpoint: CoapEndpoint;
  readonly dtls: DtlsServer;
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Largest request body (a CSR or voucher request, Block1-reassembled). */
const MAX_REQUEST_BODY = 64 * 1024;

function describe(identity: PeerIdentity): Pick<RegistrarHandshakeEvent, 'credential' | 'identity' | 'fingerprint256'> {
  if (identity.type !== 'x509') return { credential: identity.type, identity: '' };
  const leaf = identity.chain[0];
  if (leaf === undefined) return { credential: 'x509', identity: '' };
  const fingerprint256 = createHash('sha256').update(leaf).digest('hex');
  try {
    return { credential: 'x509', identity: auditText(parseCertificate(leaf).subject, 256), fingerprint256 };
  } catch {
    return { credential: 'x509', identity: '', fingerprint256 };
  }
}

/** Starts the listener and mounts EST-coaps and constrained BRSKI on it. */
export async function startRegistrarCoaps(options: RegistrarCoapsOptions): Promise<RegistrarCoapsServer> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const chain = options.identity?.chain;
  if (!Array.isArray(chain) || chain.length === 0 || !chain.every((c) => c instanceof Uint8Array)) throw new InvalidArgumentError('identity.chain', 'expected the registrar certificate (DER) first');
  const registrarCertificate = chain[0]!;
  const report = options.onHandshake ?? (() => undefined);
  // Without a socket of the caller's, the DTLS server binds its own, so it can serve on the
  // native fast path (src/dtls/README.md), IPv6 hosts IPv6 only.
  const dtls: DtlsServer = await createDtlsServer({
    ...(options.socket !== undefined ? { socket: options.socket } : { host: options.host, port: options.port, ipv6Only: options.host.includes(':') }),
    certificate: { signer: options.identity.signer, chain, rawPublicKey: false },
    clientAuth: {
      required: false,
      types: ['x509'],
      verify: (id) => {
        // Provisional (see the file header): well-formed certificates pass; the services decide.
        if (id.type !== 'x509' || id.chain.length === 0 || id.chain.length > 8) {
          report({ outcome: 'deny', ...describe(id), reason: 'expected an X.509 certificate chain of 1..8 certificates' });
          return false;
        }
        try {
          for (const c of id.chain) parseCertificate(c);
        } catch {
          report({ outcome: 'deny', ...describe(id), reason: 'client certificate does not parse' });
          return false;
        }
        return true;
      },
    },
    ...options.dtls,
  });
  dtls.on('session', (session: ServerSession) => {
    report({ outcome: 'allow', ...describe(session.identity), peer: session.peerKey, ...(session.cipherSuite !== undefined ? { cipherSuite: session.cipherSuite.name } : {}) });
  });
  dtls.on('handshakeError', (err: unknown, peer: string, session: ServerSession | undefined) => {
    const code = isRootlineError(err) ? err.code : 'ERR_DTLS_HANDSHAKE_FAILURE';
    // Refusals from `verify` were reported there with their reason.
    if (code === 'ERR_DTLS_BAD_CERTIFICATE') return;
    report({ outcome: 'deny', ...(session !== undefined ? describe(session.identity) : { credential: 'none', identity: '' }), peer, reason: code });
  });

  const endpoint = new CoapEndpoint(dtlsServerTransport(dtls), { maxRequestBodySize: MAX_REQUEST_BODY, ...options.coap });
  const peerOf = (peer: string): CoapsPeerContext => {
    const session = dtls.getSession(peer);
    const id = session?.identity;
    return {
      clientCertificates: id?.type === 'x509' ? id.chain.map((c) => new Uint8Array(c)) : [],
      serverCertificate: registrarCertificate,
      ...(session !== undefined ? { remoteAddress: session.remoteAddress } : {}),
    };
  };
  mountEstCoaps(endpoint, { est: options.registrar.est, peerOf, ...(options.estRoot !== undefined ? { root: options.estRoot } : {}), ...(options.audit !== undefined ? { audit: options.audit } : {}) });
  mountBrskiCoaps(endpoint, { registrar: options.registrar, peerOf });
  // Block2 state and the like die with the session.
  dtls.on('sessionClosed', (session: ServerSession) => endpoint.forgetPeer(session.peerKey));

  const addr = dtls.address();
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    dtls,
    address: { host: addr.address, port: addr.port },
    close() {
      closing ??= (async () => {
        await endpoint.close();
        // Closes the socket too when the server made it (a caller's socket stays open).
        await dtls.close();
      })();
      return closing;
    },
  };
}
