/**
 * One CoAP endpoint towards one LwM2M server (or bootstrap server), secured as its Security
 * object instance says (Core 1.1 Appendix E.1: Security Mode 0 PSK, 1 RPK, 2 certificate, 3
 * NoSec): a DTLS client session from src/dtls under a CoapEndpoint, or plain UDP.
 *
 * Per device (object tree), two things are kept between connections:
 * - the imported private key of a certificate/RPK account (a KeyObject per Secret Key value;
 *   importing the PKCS#8 cost ~0.3 ms per connection), never exported or printed;
 * - the resumption state (session ID, master secret) of the last DTLS session per server
 *   address, so the next connection there — Register right after Bootstrap-Finish when the
 *   bootstrap and LwM2M servers share an address, or a reconnect — runs the abbreviated
 *   handshake (RFC 5246 §7.3, with the extended master secret, RFC 7627 §5.3) instead of a full
 *   ECDHE-ECDSA one. Only when the new Security instance uses the very same client credential
 *   (certificate or public key, and key) and the server identity the earlier session verified
 *   passes the new instance's pin (resource 4); the server checks the client's credential again
 *   (src/dtls server-session.ts findResumable) and may refuse, which gives a full handshake.
 *   PSK accounts are not resumed (their full handshake has no public-key operations).
 */
import { createPrivateKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseCoapUri } from '../coap/coap-request.js';
import { CoapEndpoint } from '../coap/endpoint.js';
import type { CoapEndpointOptions } from '../coap/endpoint-options.js';
import { UdpTransport, udpPeerKey } from '../coap/transport.js';
import { keyObjectSigner } from '../crypto/signer.js';
import type { Signer } from '../crypto/keystore/types.js';
import { connectDtls, dtlsClientTransport, type DtlsClientOptions, type PeerIdentity, type ResumptionState, type RetransmitOptions } from '../dtls/index.js';
import type { Lwm2mValue } from '../lwm2m/model/node.js';
import { isRootlineError } from '../errors.js';
import { Lwm2mClientError } from './errors.js';
import type { ObjectTree } from './object-tree.js';
import { SecurityMode } from './standard-objects.js';

export interface ServerConnection {
  coap: CoapEndpoint;
  peer: string;
  close(): Promise<void>;
}

export interface ConnectionOptions {
  coap?: CoapEndpointOptions;
  dtlsRetransmit?: RetransmitOptions;
}

function bytesOf(tree: ObjectTree, i: number, r: number): Uint8Array {
  const v = tree.get(0, i, r) as Lwm2mValue | undefined;
  return v?.type === 'opaque' ? v.value : new Uint8Array(0);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Secret Key of another Security instance presenting the same public key or certificate `ours`. */
function heldKeyFor(tree: ObjectTree, i: number, ours: Uint8Array): Uint8Array {
  for (const j of tree.instanceIds(0)) {
    if (j === i) continue;
    const mode = Number((tree.get(0, j, 2) as Lwm2mValue | undefined)?.value ?? SecurityMode.NoSec);
    if (mode !== SecurityMode.RawPublicKey && mode !== SecurityMode.Certificate) continue;
    const key = bytesOf(tree, j, 5);
    if (key.length > 0 && sameBytes(bytesOf(tree, j, 3), ours)) return key;
  }
  return new Uint8Array(0);
}

/** Signers over the imported private key, by the Secret Key value they came from (the tree keeps the value object). */
const importedKeys = new WeakMap<Uint8Array, Signer>();

/**
 * Secret Key values this process exported from a KeyObject itself (accounts.ts writes an account's
 * key as `key.export(pkcs8 der)`): the value is that key's PKCS#8 by construction, so neither an
 * import on first use nor holdPrivateKey's export-and-compare is needed for it.
 */
const exportedFrom = new WeakMap<Uint8Array, KeyObject>();

/** Internal (accounts.ts): `secret` is exactly `key.export({ type: 'pkcs8', format: 'der' })`, just made. */
export function noteExportedKey(secret: Uint8Array, key: KeyObject): void {
  if (!exportedFrom.has(secret)) exportedFrom.set(secret, key);
}

/** Internal (tests): the KeyObject `secret` was noted as exported from, and the signer held for it. */
export function keyHeldFor(secret: Uint8Array): { exportedFrom: KeyObject | undefined; signer: Signer | undefined } {
  return { exportedFrom: exportedFrom.get(secret), signer: importedKeys.get(secret) };
}

function signerOf(secret: Uint8Array): Signer {
  let signer = importedKeys.get(secret);
  if (signer === undefined) {
    const exported = exportedFrom.get(secret);
    signer = keyObjectSigner(exported ?? createPrivateKey({ key: Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength), format: 'der', type: 'pkcs8' }));
    importedKeys.set(secret, signer);
  }
  return signer;
}

/**
 * Hands over the KeyObject a Secret Key value (resource 5, PKCS#8 DER) was exported from, so the
 * first connection does not import it again (`onboardDevice` has the LDevID key at hand). Only
 * when the key exports to exactly those bytes; anything else is ignored and imported on use.
 * `signer`: a keyObjectSigner over `key` already made (its public key is not derived again).
 */
export function holdPrivateKey(secret: Uint8Array, key: KeyObject, signer?: Signer): void {
  if (!(secret instanceof Uint8Array) || importedKeys.has(secret)) return;
  // The value was exported from this very key object (accounts.ts): nothing to compare.
  if (exportedFrom.get(secret) === key) {
    importedKeys.set(secret, signer ?? keyObjectSigner(key));
    return;
  }
  let der: Buffer;
  try {
    der = key.export({ type: 'pkcs8', format: 'der' });
  } catch {
    return;
  }
  if (sameBytes(der, secret)) importedKeys.set(secret, signer ?? keyObjectSigner(key));
  der.fill(0);
}

/** A session to resume: from a connection with `certificate` and `secret` as client credential. */
interface Resumable {
  state: ResumptionState;
  certificate: Uint8Array;
  secret: Uint8Array;
}

/** Per device (tree), the last resumable session per server address ("host:port"). */
const resumableSessions = new WeakMap<ObjectTree, Map<string, Resumable>>();

interface DtlsAccount {
  options: Omit<DtlsClientOptions, 'host' | 'port'>;
  /** For resumption: the client credential and how the server is pinned (certificate modes only). */
  credential?: { certificate: Uint8Array; secret: Uint8Array; verifyServer: (id: PeerIdentity) => boolean };
}

/** The Security instance `i` of `tree` as DTLS client options (or NoSec). */
function dtlsOptions(tree: ObjectTree, i: number): DtlsAccount | undefined {
  const mode = Number((tree.get(0, i, 2) as Lwm2mValue | undefined)?.value ?? SecurityMode.NoSec);
  const ours = bytesOf(tree, i, 3);
  const theirs = bytesOf(tree, i, 4);
  let secret = bytesOf(tree, i, 5);
  switch (mode) {
    case SecurityMode.NoSec:
      return undefined;
    case SecurityMode.PreSharedKey:
      if (ours.length === 0 || secret.length === 0) throw new Lwm2mClientError('ERR_LWM2M_BAD_SECURITY', `security instance ${i}: PSK identity or key missing`);
      return { options: { psk: { identity: ours, key: secret } } };
    case SecurityMode.RawPublicKey:
    case SecurityMode.Certificate: {
      // An account written without Secret Key (a BRSKI-enrolled device: its LDevID key never left
      // it, bootstrap-config.ts) uses the key the device holds for the same certificate — the one
      // of another Security instance (its bootstrap account) with the same resource 3.
      if (secret.length === 0 && ours.length > 0) secret = heldKeyFor(tree, i, ours);
      if (secret.length === 0 || theirs.length === 0) throw new Lwm2mClientError('ERR_LWM2M_BAD_SECURITY', `security instance ${i}: private key or server key missing`);
      const signer = signerOf(secret);
      // The server is pinned to the key or certificate the Security object holds (Certificate
      // Usage 3, "domain-issued certificate", Appendix E.1 resource 15 default).
      const verifyServer = (id: PeerIdentity): boolean =>
        (id.type === 'rpk' && sameBytes(id.publicKey, theirs)) || (id.type === 'x509' && id.chain[0] !== undefined && sameBytes(id.chain[0], theirs));
      const options: Omit<DtlsClientOptions, 'host' | 'port'> =
        mode === SecurityMode.RawPublicKey
          ? { certificate: { signer }, verifyServer, serverCertificateTypes: ['rpk'] }
          : { certificate: { signer, chain: [ours] }, verifyServer, serverCertificateTypes: ['x509'] };
      return { options, credential: { certificate: ours, secret, verifyServer } };
    }
    default:
      throw new Lwm2mClientError('ERR_LWM2M_BAD_SECURITY', `security mode ${mode} is not supported`);
  }
}

/**
 * Scheme, host and port of server URIs already parsed (the URL parser is the dearest part of
 * opening a connection, and every device of a simulator names the same server). Only URIs that
 * parsed; a bad one throws every time. Bounded: cleared when full.
 */
const parsedUris = new Map<string, Readonly<{ scheme: string; host: string; port: number }>>();
const PARSED_URIS_MAX = 256;

function serverUri(text: string): Readonly<{ scheme: string; host: string; port: number }> {
  let uri = parsedUris.get(text);
  if (uri === undefined) {
    const u = parseCoapUri(text);
    uri = Object.freeze({ scheme: u.scheme, host: u.host, port: u.port });
    if (parsedUris.size >= PARSED_URIS_MAX) parsedUris.clear();
    parsedUris.set(text, uri);
  }
  return uri;
}

/** Opens the transport to the server named by Security instance `i`. */
export async function connectToServer(tree: ObjectTree, i: number, options: ConnectionOptions = {}): Promise<ServerConnection> {
  const uriValue = tree.get(0, i, 0) as Lwm2mValue | undefined;
  if (uriValue?.type !== 'string') throw new Lwm2mClientError('ERR_LWM2M_BAD_SECURITY', `security instance ${i} has no server URI`);
  const uri = serverUri(uriValue.value);
  const account = dtlsOptions(tree, i);
  if (uri.scheme === 'coaps') {
    if (account === undefined) throw new Lwm2mClientError('ERR_LWM2M_BAD_SECURITY', `${uriValue.value} needs a security mode other than NoSec`);
    const address = `${uri.host}:${uri.port}`;
    const cred = account.credential;
    const sessions = cred === undefined ? undefined : (resumableSessions.get(tree) ?? resumableSessions.set(tree, new Map()).get(tree)!);
    const earlier = sessions?.get(address);
    const resume =
      earlier !== undefined && cred !== undefined && sameBytes(earlier.certificate, cred.certificate) && sameBytes(earlier.secret, cred.secret) && cred.verifyServer(earlier.state.identity) ? earlier.state : undefined;
    const connect = (withResume: ResumptionState | undefined) =>
      connectDtls({
        host: uri.host,
        port: uri.port,
        ...account.options,
        ...(withResume !== undefined ? { resume: withResume } : {}),
        ...(options.dtlsRetransmit !== undefined ? { retransmit: options.dtlsRetransmit } : {}),
      });
    let session;
    try {
      session = await connect(resume);
    } catch (err) {
      // A resumption the server took but that went wrong is never tried again; one full handshake
      // instead (not after a timeout: the server is not answering at all).
      if (resume === undefined) throw err;
      sessions!.delete(address);
      if (isRootlineError(err, 'ERR_DTLS_HANDSHAKE_TIMEOUT')) throw err;
      session = await connect(undefined);
    }
    const state = session.resumption;
    if (sessions !== undefined && cred !== undefined) {
      if (state !== undefined) {
        const copy: ResumptionState = { sessionId: Uint8Array.from(state.sessionId), masterSecret: Uint8Array.from(state.masterSecret), cipherSuite: state.cipherSuite, identity: state.identity };
        sessions.set(address, { state: copy, certificate: cred.certificate, secret: cred.secret });
      } else sessions.delete(address);
    }
    const coap = new CoapEndpoint(dtlsClientTransport(session), options.coap);
    return { coap, peer: session.peerKey, close: () => coap.close() };
  }
  if (account !== undefined) throw new Lwm2mClientError('ERR_LWM2M_BAD_SECURITY', `${uriValue.value} is plain CoAP but the security mode is not NoSec`);
  const address = isIP(uri.host) !== 0 ? uri.host : (await lookup(uri.host)).address;
  const transport = await UdpTransport.bind({ address: isIP(address) === 6 ? '::' : '0.0.0.0' });
  const coap = new CoapEndpoint(transport, options.coap);
  return { coap, peer: udpPeerKey(address, uri.port), close: () => coap.close() };
}
