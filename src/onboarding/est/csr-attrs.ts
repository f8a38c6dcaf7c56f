/**
 * CSR Attributes (RFC 7030 §4.5.2), what GET /csrattrs answers with, media type
 * application/csrattrs, base64 of the DER of
 *
 *   CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
 *   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
 *   Attribute { ATTRIBUTE:IOSet } ::= SEQUENCE { type OBJECT IDENTIFIER, values SET SIZE(1..MAX) OF ... }
 *
 * A bare OID asks the client to include that attribute or use that algorithm (e.g. challengePassword
 * means "link identity and POP", §3.5); an Attribute carries values (e.g. id-ecPublicKey with the
 * curve to use).
 */
import { derSequence, derTlv } from '../../pki/der.js';
import { InvalidArgumentError } from '../../errors.js';
import { assertInteger } from '../../util/assert.js';
import { childrenOf, decodeOidContent, encodeOidContent, wholeTlv } from './der-reader.js';
import { EstMalformedCsrAttrsError } from './errors.js';

export const CSR_ATTRS_MEDIA_TYPE = 'application/csrattrs';

/** OIDs EST servers commonly put in a CSR Attributes response. */
export const CSR_ATTR_OID = Object.freeze({
  /** PKCS#9 challengePassword: the server wants the tls-unique linking of RFC 7030 §3.5. */
  challengePassword: '1.2.840.113549.1.9.7',
  /** id-ecPublicKey; as an Attribute its value names the curve. */
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  /** PKCS#9 extensionRequest. */
  extensionRequest: '1.2.840.113549.1.9.14',
  /** id-kp-cmcRA / serialNumber etc. can be given as plain OIDs too. */
  serialNumber: '2.5.4.5',
});

/** One entry: a bare OID, or an attribute type with its values (each a complete DER TLV). */
export type CsrAttr = { oid: string } | { type: string; values: Uint8Array[] };

export interface DecodeCsrAttrsOptions {
  /** Refuse inputs longer than this many bytes (default 64 KiB). */
  maxLength?: number;
  /** Refuse more entries than this (default 256). */
  maxEntries?: number;
}

const fail = (m: string, cause?: unknown) => new EstMalformedCsrAttrsError(m, { cause });

function oidTlv(oid: string, name: string): Uint8Array {
  const content = encodeOidContent(oid);
  if (content === undefined) throw new InvalidArgumentError(name, `not an OBJECT IDENTIFIER: ${JSON.stringify(oid)}`);
  return derTlv(0x06, content);
}

/** The DER of an OBJECT IDENTIFIER, for use as an attribute value (e.g. a curve name). */
export function oidValue(oid: string): Uint8Array {
  return oidTlv(oid, 'oid');
}

/** Encodes CSR attributes as DER. Each attribute value must be exactly one DER TLV. */
export function encodeCsrAttrs(attrs: readonly CsrAttr[]): Uint8Array {
  if (!Array.isArray(attrs as unknown)) throw new InvalidArgumentError('attrs', 'expected an array');
  const items = attrs.map((a: CsrAttr, i: number) => {
    if (a === null || typeof a !== 'object') throw new InvalidArgumentError(`attrs[${i}]`, 'expected { oid } or { type, values }');
    if ('oid' in a) return oidTlv(a.oid, `attrs[${i}].oid`);
    if (!Array.isArray(a.values as unknown) || a.values.length === 0) throw new InvalidArgumentError(`attrs[${i}].values`, 'an Attribute needs at least one value (SET SIZE(1..MAX))');
    const values = a.values.map((v: Uint8Array, j: number) => {
      if (!(v instanceof Uint8Array) || typeof wholeTlv(v) === 'string') throw new InvalidArgumentError(`attrs[${i}].values[${j}]`, 'expected one DER TLV');
      return v;
    });
    // X.690 §11.6: DER sorts the components of a SET OF.
    const sorted = [...values].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    return derSequence(oidTlv(a.type, `attrs[${i}].type`), derTlv(0x31, Buffer.concat(sorted)));
  });
  return derSequence(...items);
}

function readOid(der: Uint8Array, start: number, end: number, what: string): string {
  const r = decodeOidContent(der.subarray(start, end));
  if (typeof r === 'string') throw fail(`${what}: ${r}`);
  return r.oid;
}

/** Decodes CSR attributes (DER). Malformed input is ERR_EST_MALFORMED_CSRATTRS. */
export function decodeCsrAttrs(der: Uint8Array, options: DecodeCsrAttrsOptions = {}): CsrAttr[] {
  const maxLength = options.maxLength ?? 64 * 1024;
  const maxEntries = options.maxEntries ?? 256;
  assertInteger(maxLength, 'options.maxLength', 1);
  assertInteger(maxEntries, 'options.maxEntries', 1);
  if (!(der instanceof Uint8Array)) throw new InvalidArgumentError('der', 'expected a Uint8Array');
  if (der.length > maxLength) throw fail(`longer than ${maxLength} bytes`);
  const outer = wholeTlv(der);
  if (typeof outer === 'string') throw fail(`CsrAttrs: ${outer}`);
  if (outer.tag !== 0x30) throw fail('CsrAttrs is not a SEQUENCE');
  const entries = childrenOf(der, outer, maxEntries);
  if (typeof entries === 'string') throw fail(`CsrAttrs: ${entries}`);
  return entries.map((e, i): CsrAttr => {
    if (e.tag === 0x06) return { oid: readOid(der, e.start, e.end, `CsrAttrs[${i}]`) };
    if (e.tag !== 0x30) throw fail(`CsrAttrs[${i}] is neither an OBJECT IDENTIFIER nor an Attribute`);
    const parts = childrenOf(der, e);
    if (typeof parts === 'string') throw fail(`CsrAttrs[${i}]: ${parts}`);
    const [type, set] = parts;
    if (parts.length !== 2 || type?.tag !== 0x06 || set?.tag !== 0x31) throw fail(`CsrAttrs[${i}] is not SEQUENCE { type OID, values SET }`);
    const values = childrenOf(der, set);
    if (typeof values === 'string') throw fail(`CsrAttrs[${i}].values: ${values}`);
    if (values.length === 0) throw fail(`CsrAttrs[${i}].values is empty (SET SIZE(1..MAX))`);
    return { type: readOid(der, type.start, type.end, `CsrAttrs[${i}].type`), values: values.map((v) => der.slice(v.offset, v.end)) };
  });
}
