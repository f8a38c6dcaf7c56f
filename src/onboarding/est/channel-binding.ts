/**
 * Linking identity and proof of possession (RFC 7030 §3.5): the client puts a value unique to
 * this TLS session into the CSR's challengePassword, so a CSR cannot be relayed by another
 * authenticated client. RFC 7030 uses tls-unique (RFC 5929 §3.1), the first Finished message of
 * the handshake, "base64 encoded as specified in Section 4 of [RFC4648]". TLS 1.3 defines no
 * tls-unique (RFC 9266 §1); there we use tls-exporter (RFC 9266 §2), the same idea for 1.3.
 */
import { timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ParsedCsr } from '../../pki/parse-csr.js';
import { EstChannelBindingError } from './errors.js';

export interface ChannelBinding {
  type: 'tls-unique' | 'tls-exporter';
  value: Uint8Array;
}

/** 'required': every CSR must carry the binding; 'if-present': checked when the client sent one. */
export type ChannelBindingPolicy = 'required' | 'if-present';

/** RFC 9266 §2: label "EXPORTER-Channel-Binding", empty context (the same as none in TLS 1.3, RFC 8446 §7.5), 32 bytes. */
const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';

function binding(socket: TLSSocket, side: 'client' | 'server'): ChannelBinding | undefined {
  const protocol = socket.getProtocol();
  if (protocol === 'TLSv1.3') {
    return { type: 'tls-exporter', value: new Uint8Array(socket.exportKeyingMaterial(32, EXPORTER_LABEL, Buffer.alloc(0))) };
  }
  if (protocol !== 'TLSv1.2') return undefined;
  // RFC 5929 §3.1: tls-unique is "the first TLS Finished message sent ... in the most recent
  // handshake": the client's in a full handshake, the server's in an abbreviated (resumed) one.
  const clientSent = side === 'client' ? socket.getFinished() : socket.getPeerFinished();
  const serverSent = side === 'client' ? socket.getPeerFinished() : socket.getFinished();
  const first = socket.isSessionReused() ? serverSent : clientSent;
  return first === undefined ? undefined : { type: 'tls-unique', value: new Uint8Array(first) };
}

/** The binding of a TLS connection as the server sees it (undefined before TLS 1.2). */
export function serverChannelBinding(socket: TLSSocket): ChannelBinding | undefined {
  return binding(socket, 'server');
}

/** The binding of a TLS connection as the client sees it (undefined before TLS 1.2). */
export function clientChannelBinding(socket: TLSSocket): ChannelBinding | undefined {
  return binding(socket, 'client');
}

/** The challengePassword a client puts in its CSR for `b` (RFC 7030 §3.5: base64 of the value). */
export function challengePasswordFor(b: ChannelBinding): string {
  return Buffer.from(b.value).toString('base64');
}

/**
 * Enforces §3.5 on a CSR. "If tls-unique information is included by the client, the server MUST
 * verify it"; whether a CSR without it is refused is server policy ("The EST server MAY reject
 * requests without tls-unique information as indicated by server policy").
 */
export function checkChannelBinding(csr: ParsedCsr, session: ChannelBinding | undefined, policy: ChannelBindingPolicy): void {
  const sent = csr.challengePassword;
  if (sent === undefined) {
    if (policy === 'required') throw new EstChannelBindingError('the CSR must carry this TLS session\'s channel binding in challengePassword (RFC 7030 §3.5)');
    return;
  }
  if (session === undefined) throw new EstChannelBindingError('the CSR carries a challengePassword but this connection offers no channel binding to check it against');
  const want = Buffer.from(challengePasswordFor(session));
  const got = Buffer.from(sent);
  if (want.length !== got.length || !timingSafeEqual(want, got)) {
    throw new EstChannelBindingError(`the CSR's challengePassword is not this TLS session's ${session.type} value (RFC 7030 §3.5)`);
  }
}
