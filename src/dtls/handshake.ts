/**
 * DTLS 1.2 handshake message bodies (RFC 5246 §7.4 with the DTLS changes of RFC 6347 §4.2,
 * PSK of RFC 4279, ECDHE of RFC 8422, raw public keys of RFC 7250): pure bytes ⇄ structs.
 * Every decoder throws DtlsDecodeError on malformed input and requires that all bytes are used.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { decodeExtensions, encodeExtensions, type Extension } from './extensions.js';
import { DtlsDecodeError } from './errors.js';

export const RANDOM_LENGTH = 32;
export const VERIFY_DATA_LENGTH = 12;

export interface ClientHello {
  clientVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cookie: Uint8Array;
  cipherSuites: number[];
  compressionMethods: number[];
  extensions: Extension[];
}

export function encodeClientHello(m: ClientHello): Uint8Array {
  const w = new ByteWriter();
  w.u16(m.clientVersion).bytes(m.random).vector(1, m.sessionId).vector(1, m.cookie);
  const suites = new ByteWriter();
  for (const s of m.cipherSuites) suites.u16(s);
  w.vector(2, suites.finish()).vector(1, Uint8Array.from(m.compressionMethods));
  encodeExtensions(w, m.extensions);
  return w.finish();
}

export function decodeClientHello(body: Uint8Array): ClientHello {
  const r = new ByteReader(body, 'ClientHello');
  const clientVersion = r.u16();
  const random = r.bytes(RANDOM_LENGTH);
  const sessionId = r.vector(1, 0, 32, 'session_id');
  // RFC 6347 §4.2.1: opaque cookie<0..2^8-1>.
  const cookie = r.vector(1, 0, 255, 'cookie');
  const suites = r.vector(2, 2, 0xfffe, 'cipher_suites');
  if (suites.length % 2 !== 0) throw new DtlsDecodeError('ClientHello: odd cipher_suites length');
  const sr = new ByteReader(suites, 'cipher_suites');
  const cipherSuites: number[] = [];
  while (sr.remaining > 0) cipherSuites.push(sr.u16());
  const compressionMethods = Array.from(r.vector(1, 1, 0xff, 'compression_methods'));
  const extensions = decodeExtensions(r, 'ClientHello');
  r.end();
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
}

export interface HelloVerifyRequest {
  serverVersion: number;
  cookie: Uint8Array;
}

export function encodeHelloVerifyRequest(m: HelloVerifyRequest): Uint8Array {
  return new ByteWriter().u16(m.serverVersion).vector(1, m.cookie).finish();
}

export function decodeHelloVerifyRequest(body: Uint8Array): HelloVerifyRequest {
  const r = new ByteReader(body, 'HelloVerifyRequest');
  const serverVersion = r.u16();
  const cookie = r.vector(1, 0, 255, 'cookie');
  r.end();
  return { serverVersion, cookie };
}

export interface ServerHello {
  serverVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extension[];
}

export function encodeServerHello(m: ServerHello): Uint8Array {
  const w = new ByteWriter();
  w.u16(m.serverVersion).bytes(m.random).vector(1, m.sessionId).u16(m.cipherSuite).u8(m.compressionMethod);
  encodeExtensions(w, m.extensions);
  return w.finish();
}

export function decodeServerHello(body: Uint8Array): ServerHello {
  const r = new ByteReader(body, 'ServerHello');
  const serverVersion = r.u16();
  const random = r.bytes(RANDOM_LENGTH);
  const sessionId = r.vector(1, 0, 32, 'session_id');
  const cipherSuite = r.u16();
  const compressionMethod = r.u8();
  const extensions = decodeExtensions(r, 'ServerHello');
  r.end();
  return { serverVersion, random, sessionId, cipherSuite, compressionMethod, extensions };
}

/** Certificate (RFC 5246 §7.4.2): `ASN.1Cert certificate_list<0..2^24-1>`, each `<1..2^24-1>`. */
export function encodeCertificateList(chain: readonly Uint8Array[]): Uint8Array {
  const inner = new ByteWriter();
  for (const c of chain) inner.vector(3, c);
  return new ByteWriter().vector(3, inner.finish()).finish();
}

export function decodeCertificateList(body: Uint8Array): Uint8Array[] {
  const r = new ByteReader(body, 'Certificate');
  const list = new ByteReader(r.vector(3, 0, 0xffffff, 'certificate_list'), 'Certificate');
  r.end();
  const out: Uint8Array[] = [];
  while (list.remaining > 0) out.push(list.vector(3, 1, 0xffffff, 'ASN.1Cert'));
  return out;
}

/** Certificate for RawPublicKey (RFC 7250 §3): `opaque ASN.1_subjectPublicKeyInfo<1..2^24-1>`. */
export function encodeRawPublicKeyCertificate(spki: Uint8Array): Uint8Array {
  return new ByteWriter().vector(3, spki).finish();
}

export function decodeRawPublicKeyCertificate(body: Uint8Array): Uint8Array {
  const r = new ByteReader(body, 'Certificate(RawPublicKey)');
  const spki = r.vector(3, 1, 0xffffff, 'subjectPublicKeyInfo');
  r.end();
  return spki;
}

/** ServerKeyExchange for PSK (RFC 4279 §2): `opaque psk_identity_hint<0..2^16-1>`. */
export function encodePskServerKeyExchange(hint: Uint8Array): Uint8Array {
  return new ByteWriter().vector(2, hint).finish();
}

export function decodePskServerKeyExchange(body: Uint8Array): Uint8Array {
  const r = new ByteReader(body, 'ServerKeyExchange(PSK)');
  const hint = r.vector(2, 0, 0xffff, 'psk_identity_hint');
  r.end();
  return hint;
}

/** ECCurveType named_curve (RFC 8422 §5.4). */
const NAMED_CURVE = 3;

export interface EcdheServerKeyExchange {
  namedGroup: number;
  publicKey: Uint8Array;
  /** The ServerECDHParams bytes, which the signature covers (after the two randoms). */
  params: Uint8Array;
  signatureScheme: number;
  signature: Uint8Array;
}

export function encodeEcdheParams(namedGroup: number, publicKey: Uint8Array): Uint8Array {
  return new ByteWriter().u8(NAMED_CURVE).u16(namedGroup).vector(1, publicKey).finish();
}

export function encodeEcdheServerKeyExchange(params: Uint8Array, signatureScheme: number, signature: Uint8Array): Uint8Array {
  return new ByteWriter().bytes(params).u16(signatureScheme).vector(2, signature).finish();
}

export function decodeEcdheServerKeyExchange(body: Uint8Array): EcdheServerKeyExchange {
  const r = new ByteReader(body, 'ServerKeyExchange(ECDHE)');
  const curveType = r.u8();
  if (curveType !== NAMED_CURVE) throw new DtlsDecodeError(`ServerKeyExchange: curve type ${curveType} is not named_curve`);
  const namedGroup = r.u16();
  const publicKey = r.vector(1, 1, 0xff, 'public');
  const params = body.subarray(0, r.offset);
  const signatureScheme = r.u16();
  const signature = r.vector(2, 0, 0xffff, 'signature');
  r.end();
  return { namedGroup, publicKey, params, signatureScheme, signature };
}

export interface CertificateRequest {
  certificateTypes: number[];
  signatureSchemes: number[];
  certificateAuthorities: Uint8Array[];
}

export function encodeCertificateRequest(m: CertificateRequest): Uint8Array {
  const w = new ByteWriter();
  w.vector(1, Uint8Array.from(m.certificateTypes));
  const schemes = new ByteWriter();
  for (const s of m.signatureSchemes) schemes.u16(s);
  w.vector(2, schemes.finish());
  const cas = new ByteWriter();
  for (const dn of m.certificateAuthorities) cas.vector(2, dn);
  w.vector(2, cas.finish());
  return w.finish();
}

export function decodeCertificateRequest(body: Uint8Array): CertificateRequest {
  const r = new ByteReader(body, 'CertificateRequest');
  const certificateTypes = Array.from(r.vector(1, 1, 0xff, 'certificate_types'));
  const schemesRaw = r.vector(2, 2, 0xfffe, 'supported_signature_algorithms');
  if (schemesRaw.length % 2 !== 0) throw new DtlsDecodeError('CertificateRequest: odd signature algorithms length');
  const sr = new ByteReader(schemesRaw, 'CertificateRequest');
  const signatureSchemes: number[] = [];
  while (sr.remaining > 0) signatureSchemes.push(sr.u16());
  const casReader = new ByteReader(r.vector(2, 0, 0xffff, 'certificate_authorities'), 'CertificateRequest');
  const certificateAuthorities: Uint8Array[] = [];
  while (casReader.remaining > 0) certificateAuthorities.push(casReader.vector(2, 1, 0xffff, 'DistinguishedName'));
  r.end();
  return { certificateTypes, signatureSchemes, certificateAuthorities };
}

export function decodeEmpty(body: Uint8Array, what: string): void {
  if (body.length !== 0) throw new DtlsDecodeError(`${what}: expected an empty body, got ${body.length} bytes`);
}

/** ClientKeyExchange for PSK (RFC 4279 §2): `opaque psk_identity<0..2^16-1>`. */
export function encodePskClientKeyExchange(identity: Uint8Array): Uint8Array {
  return new ByteWriter().vector(2, identity).finish();
}

export function decodePskClientKeyExchange(body: Uint8Array): Uint8Array {
  const r = new ByteReader(body, 'ClientKeyExchange(PSK)');
  const identity = r.vector(2, 0, 0xffff, 'psk_identity');
  r.end();
  return identity;
}

/** ClientKeyExchange for ECDHE (RFC 8422 §5.7): `opaque point <1..2^8-1>`. */
export function encodeEcdheClientKeyExchange(publicKey: Uint8Array): Uint8Array {
  return new ByteWriter().vector(1, publicKey).finish();
}

export function decodeEcdheClientKeyExchange(body: Uint8Array): Uint8Array {
  const r = new ByteReader(body, 'ClientKeyExchange(ECDHE)');
  const point = r.vector(1, 1, 0xff, 'ecdh_Yc');
  r.end();
  return point;
}

export interface DigitallySigned {
  signatureScheme: number;
  signature: Uint8Array;
}

/** CertificateVerify (RFC 5246 §7.4.8): a `digitally-signed` struct. */
export function encodeCertificateVerify(m: DigitallySigned): Uint8Array {
  return new ByteWriter().u16(m.signatureScheme).vector(2, m.signature).finish();
}

export function decodeCertificateVerify(body: Uint8Array): DigitallySigned {
  const r = new ByteReader(body, 'CertificateVerify');
  const signatureScheme = r.u16();
  const signature = r.vector(2, 0, 0xffff, 'signature');
  r.end();
  return { signatureScheme, signature };
}

export function decodeFinished(body: Uint8Array): Uint8Array {
  if (body.length !== VERIFY_DATA_LENGTH) throw new DtlsDecodeError(`Finished: verify_data of ${body.length} bytes, expected 12`);
  return body;
}

export interface Alert {
  level: number;
  description: number;
}

export function encodeAlert(a: Alert): Uint8Array {
  return Uint8Array.of(a.level, a.description);
}

export function decodeAlert(fragment: Uint8Array): Alert {
  const r = new ByteReader(fragment, 'Alert');
  const level = r.u8();
  const description = r.u8();
  r.end();
  if (level !== 1 && level !== 2) throw new DtlsDecodeError(`Alert: unknown level ${level}`);
  return { level, description };
}

/** ChangeCipherSpec (RFC 5246 §7.1): a single byte of value 1. */
export const CHANGE_CIPHER_SPEC = Uint8Array.of(1);

export function decodeChangeCipherSpec(fragment: Uint8Array): void {
  if (fragment.length !== 1 || fragment[0] !== 1) throw new DtlsDecodeError('ChangeCipherSpec: expected the single byte 1');
}
