/**
 * Who is on the other end of a CoAP peer key: the credential the device authenticated with
 * (DTLS PSK identity, raw public key, certificate subject) or nothing (NoSec). The server only
 * sees this through the injected `identityOf(peer)`; `dtlsPeerIdentity` builds one from the DTLS
 * room's sessions without importing it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { nameAttributes, readCertificateFields, validityTime } from '../../crypto/certificate-fields.js';
import type { RegistrationSecurity, Store } from '../../store/types.js';

export interface PeerIdentity {
  kind: RegistrationSecurity;
  /** What `store.devices.findCredential(kind, lookup)` takes; empty for 'nosec'. */
  lookup: string;
}

export type IdentityResolver = (peer: string) => PeerIdentity | undefined | Promise<PeerIdentity | undefined>;

/** The shape of the DTLS room's PeerIdentity (src/dtls/connection.ts), restated to stay type-only. */
export type DtlsSessionIdentity =
  | { type: 'psk'; identity: string; raw: Uint8Array }
  | { type: 'x509'; chain: Uint8Array[] }
  | { type: 'rpk'; publicKey: Uint8Array }
  | { type: 'none' };

/** Hex SHA-256 of a SubjectPublicKeyInfo: the store's lookup for RPK credentials. */
export function rpkLookup(subjectPublicKeyInfo: Uint8Array): string {
  return createHash('sha256').update(subjectPublicKeyInfo).digest('hex');
}

/** What a client certificate says that the server needs: the store's lookup, and its validity (ms). */
export interface CertificateFacts {
  /** The subject's common name, or the whole subject DN (", "-joined) when it has no CN. */
  lookup: string;
  validFrom: number;
  validTo: number;
}

/**
 * One read per certificate (the strict DER walk, or X509Certificate where the walk does not
 * answer: see factsByWalk) for every question the server asks of it — the store
 * lookup (here, per handshake and request) and the validity window (serve's CoAPs listener, per
 * handshake) — keyed by the exact DER bytes (the byte string itself, as latin1, not a digest): a
 * device's LDevID is looked at on its bootstrap handshake, its registration and every request, and
 * the answer depends on nothing but the bytes. Bounded LRU; certificates node cannot read are not
 * kept (undefined every time).
 */
export function certificateFacts(der: Uint8Array): CertificateFacts | undefined {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
  const known = FACTS.get(key);
  if (known !== undefined) {
    // Most recently used last (Map keeps insertion order).
    FACTS.delete(key);
    FACTS.set(key, known);
    return known;
  }
  let facts: CertificateFacts | undefined = factsByWalk(der);
  if (facts === undefined) {
    try {
      facts = factsByX509(der);
    } catch {
      return undefined;
    }
  }
  FACTS.set(key, facts);
  if (FACTS.size > FACTS_CAPACITY) FACTS.delete(FACTS.keys().next().value!);
  return facts;
}

/** What the facts were always read with: node's X509Certificate (throws on what it cannot read). */
export function factsByX509(der: Uint8Array): CertificateFacts {
  const cert = new X509Certificate(der);
  const lines = cert.subject.split('\n');
  const cn = lines.find((l) => l.startsWith('CN='));
  return { lookup: cn !== undefined ? cn.slice(3) : lines.join(', '), validFrom: Date.parse(cert.validFrom), validTo: Date.parse(cert.validTo) };
}

const COMMON_NAME = Buffer.from('550403', 'hex');

/**
 * The facts from the strict DER walk (src/crypto/certificate-fields.ts, ~3 µs against ~60 µs for
 * an X509Certificate and its subject string), for the common shape only: every RDN single-valued
 * and a first CN whose value (UTF8String, PrintableString or IA5String) is printable ASCII that
 * OpenSSL's RFC 2253 escaping leaves alone (none of `,+"\<>;`, no leading `#` or space, no
 * trailing space) — then node's subject line is exactly `CN=<value>`. Validity times are in their
 * RFC 5280 forms and give what Date.parse gives for node's validFrom/validTo. Anything else is
 * undefined and X509Certificate decides, as before (test/lwm2m/server/certificate-facts.test.ts
 * compares both on real and fuzzed certificates). The walk is stricter than OpenSSL, so it never
 * gives facts for a certificate X509Certificate cannot read.
 */
export function factsByWalk(der: Uint8Array): CertificateFacts | undefined {
  const f = readCertificateFields(der);
  if (f === undefined) return undefined;
  const rdns = nameAttributes(f.subject);
  if (rdns === undefined || rdns.some((rdn) => rdn.length !== 1)) return undefined;
  const cn = rdns.find((rdn) => COMMON_NAME.equals(rdn[0]!.oid))?.[0];
  if (cn === undefined || (cn.tag !== 0x0c && cn.tag !== 0x13 && cn.tag !== 0x16)) return undefined;
  const v = cn.value;
  if (v.length === 0 || v[0] === 0x23 || v[0] === 0x20 || v[v.length - 1] === 0x20) return undefined;
  for (const c of v) if (c < 0x20 || c > 0x7e || ESCAPED_2253[c] === 1) return undefined;
  const validFrom = validityTime(f.notBefore.tag, f.notBefore.content);
  const validTo = validityTime(f.notAfter.tag, f.notAfter.content);
  if (validFrom === undefined || validTo === undefined) return undefined;
  return { lookup: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1'), validFrom, validTo };
}

const ESCAPED_2253 = new Uint8Array(128);
for (const c of ',+"\\<>;') ESCAPED_2253[c.charCodeAt(0)] = 1;

/**
 * The store's lookup for a certificate: the subject's common name, or the whole subject DN when
 * it has no CN (types.ts DeviceCredential.lookup).
 */
export function certificateLookup(der: Uint8Array): string | undefined {
  return certificateFacts(der)?.lookup;
}

const FACTS_CAPACITY = 4096;
const FACTS = new Map<string, CertificateFacts>();

/** Maps a DTLS session's authenticated identity to a PeerIdentity. */
export function identityFromDtls(identity: DtlsSessionIdentity): PeerIdentity | undefined {
  switch (identity.type) {
    case 'psk':
      return { kind: 'psk', lookup: identity.identity };
    case 'rpk':
      return { kind: 'rpk', lookup: rpkLookup(identity.publicKey) };
    case 'x509': {
      const leaf = identity.chain[0];
      const lookup = leaf === undefined ? undefined : certificateLookup(leaf);
      return lookup === undefined ? undefined : { kind: 'x509', lookup };
    }
    case 'none':
      return undefined;
  }
}

/**
 * An IdentityResolver over a DTLS server's sessions (`server.getSession(peer)?.identity`): a peer
 * without an established session has no identity, so it is refused rather than treated as NoSec.
 */
export function dtlsPeerIdentity(getSession: (peer: string) => { identity: DtlsSessionIdentity } | undefined): IdentityResolver {
  return (peer) => {
    const s = getSession(peer);
    return s === undefined ? undefined : identityFromDtls(s.identity);
  };
}

/** An IdentityResolver for a plain-UDP endpoint: every peer is NoSec. */
export function noSecPeerIdentity(): IdentityResolver {
  return () => ({ kind: 'nosec', lookup: '' });
}

/**
 * A DTLS client-authentication check backed by the store (for `clientAuth.verify` of the DTLS
 * server): a raw public key must be bound to a device with exactly that SubjectPublicKeyInfo; a
 * certificate must name a bound subject and, when the store holds the certificate, be that one.
 * Refusals are audited (action 'dtls.client-auth').
 */
export function storeClientVerifier(store: Store): (identity: DtlsSessionIdentity) => Promise<boolean> {
  return async (identity) => {
    const id = identityFromDtls(identity);
    let ok = false;
    let reason = 'no credential';
    if (id !== undefined && (id.kind === 'rpk' || id.kind === 'x509')) {
      const cred = await store.devices.findCredential(id.kind, id.lookup).catch(() => undefined);
      const presented = id.kind === 'rpk' ? (identity as { publicKey: Uint8Array }).publicKey : (identity as { chain: Uint8Array[] }).chain[0]!;
      if (cred === undefined) reason = `no device holds this ${id.kind} credential`;
      else if (cred.material.length > 0 && !Buffer.from(cred.material).equals(Buffer.from(presented))) reason = `the ${id.kind} credential differs from the one bound to ${cred.endpoint}`;
      else ok = true;
    }
    if (!ok) {
      await store.audit.append({ actor: 'system', action: 'dtls.client-auth', subject: id?.lookup.slice(0, 256) || 'unknown', outcome: 'deny', details: { security: id?.kind ?? identity.type, reason } }).catch(() => undefined);
    }
    return ok;
  };
}
