/**
 * Internal: running untrusted bytes through @peculiar/asn1-schema. The library throws plain
 * Errors and TypeErrors on bad input and tolerates BER and trailing bytes; this wrapper insists on
 * one DER SEQUENCE, caps asn1js's resource use, and turns every failure into the caller's typed
 * error.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { RootlineError } from '../errors.js';
import { assertInteger } from '../util/assert.js';
import { bytesEqual, readOuterSequence, toArrayBuffer, type Tlv } from './der.js';
import { derFrom } from './pem.js';

export type ErrorFactory = (message: string, cause?: unknown) => RootlineError;

const BER_LIMITS = { maxDepth: 32, maxNodes: 20000, maxContentLength: 4 * 1024 * 1024 };

/** Parses `der` as `target`; returns the object and the outer SEQUENCE's children. */
export function parseStrict<T>(der: Uint8Array, target: new () => T, fail: ErrorFactory, what: string): { value: T; children: Tlv[] } {
  const children = readOuterSequence(der);
  if (typeof children === 'string') throw fail(`${what}: ${children}`);
  try {
    return { value: AsnConvert.parse(toArrayBuffer(der), target, { berOptions: BER_LIMITS }), children };
  } catch (err) {
    throw fail(`${what}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** Runs `fn`, turning anything but a RootlineError into the caller's typed error. */
export function guard<T>(fn: () => T, fail: ErrorFactory, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RootlineError) throw err;
    throw fail(`${what}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** Child TLVs of the SEQUENCE at `tlv` inside `der`, with offsets into `der` (or a reason string). */
export function childrenOf(der: Uint8Array, tlv: Tlv): Tlv[] | string {
  const kids = readOuterSequence(der.subarray(tlv.offset, tlv.end));
  if (typeof kids === 'string') return kids;
  return kids.map((c) => ({ tag: c.tag, offset: c.offset + tlv.offset, start: c.start + tlv.offset, end: c.end + tlv.offset }));
}

/** What a signed object parser tells parseSignedObject about its format. */
export interface SignedObjectFormat<T> {
  schema: new () => T;
  /** The object's name in messages: 'certificate', 'CRL', 'CSR'. */
  what: string;
  pemLabel: string;
  /** The signed part's ASN.1 name ('tbsCertificate') and its name in the outer shape ('tbs'). */
  tbsName: string;
  tbsShortName: string;
  fail: ErrorFactory;
}

/** A signed object taken apart: SEQUENCE { tbs, signatureAlgorithm, signature BIT STRING }. */
export interface SignedObject<T> {
  der: Uint8Array;
  value: T;
  tbsTlv: Tlv;
  /** The signed part's fields, with offsets into `der`. */
  tbsFields: Tlv[];
  /** The outer signatureAlgorithm. */
  algorithmTlv: Tlv;
}

/**
 * Reads a certificate, CRL or CSR given as DER or PEM, of at most `maxLength` bytes: one DER
 * SEQUENCE { tbs SEQUENCE, signatureAlgorithm, signature BIT STRING } decoded as `format.schema`.
 * `build` makes the caller's view; anything but a RootlineError it throws becomes `format.fail`.
 */
export function parseSignedObject<T, V>(input: Uint8Array | string, maxLength: number, format: SignedObjectFormat<T>, build: (signed: SignedObject<T>) => V): V {
  const { what, fail } = format;
  assertInteger(maxLength, 'options.maxLength', 1);
  const der = derFrom(input, 'input', format.pemLabel);
  if (der.length > maxLength) throw fail(`${what} longer than ${maxLength} bytes`);
  const { value, children } = parseStrict(der, format.schema, fail, what);
  return guard(() => {
    if (children.length !== 3 || children[2]!.tag !== 0x03) throw fail(`${what} is not SEQUENCE { ${format.tbsShortName}, algorithm, signature }`);
    // Every signature rootline verifies (ECDSA's DER Ecdsa-Sig-Value, Ed25519's 64 octets, RSA's
    // octet string, RFC 3279 / RFC 8410) is a whole number of octets, so its BIT STRING's leading
    // "unused bits" octet must be 0. The verifier reads the octets after it and would otherwise
    // accept the same signature under up to 7 other encodings of the object.
    const sig = children[2]!;
    if (sig.end <= sig.start || der[sig.start] !== 0) throw fail(`${what} signature BIT STRING must have no unused bits`);
    const tbsTlv = children[0]!;
    const tbsFields = childrenOf(der, tbsTlv);
    if (typeof tbsFields === 'string') throw fail(`${format.tbsName}: ${tbsFields}`);
    return build({ der, value, tbsTlv, tbsFields, algorithmTlv: children[1]! });
  }, fail, what);
}

/**
 * RFC 5280 §4.1.1.2 (certificates) and §5.1.1.2 (CRLs): signatureAlgorithm "MUST contain the same
 * algorithm identifier as the signature field in the sequence" of the signed part.
 */
export function assertSameSignatureAlgorithm(der: Uint8Array, outer: Tlv, inner: Tlv, tbsName: string, fail: ErrorFactory): void {
  if (!bytesEqual(der.subarray(outer.offset, outer.end), der.subarray(inner.offset, inner.end))) throw fail(`signatureAlgorithm differs from ${tbsName}.signature`);
}
