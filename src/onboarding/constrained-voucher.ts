/**
 * Constrained vouchers (cBRSKI, draft-ietf-anima-constrained-voucher): vouchers and voucher
 * requests as YANG-in-CBOR (RFC 9254) with the SIDs of the ietf-voucher / ietf-voucher-request
 * modules (draft-ietf-anima-rfc8366bis, SID ranges 2450+ and 2500+), signed as COSE_Sign1
 * (RFC 9052), Content-Format 836 application/voucher+cose.
 *
 * Payload, RFC 9254 §3.2/§4.2: a one-entry map whose key is the container's absolute SID (2451
 * voucher, 2501 voucher request) and whose value maps each leaf's SID *delta* (leaf SID minus
 * 2451 / 2501) to its value: enumeration `assertion` as its integer (verified 0, logged 1,
 * proximity 2), yang:date-and-time as a text string, binary as a byte string, booleans as CBOR
 * true/false. The draft's examples (test/vectors/constrained-voucher/) re-encode byte for byte.
 * Decoding is strict: unknown SIDs, leaves rootline does not implement, wrong CBOR types, values
 * out of range and missing mandatory leaves are ERR_VOUCHER_MALFORMED. The name-keyed form
 * (RFC 9254 §3.3, `{"ietf-voucher-request:voucher": {"serial-number": …}}`), which the draft says
 * a voucher request may use, is read too; we always write SIDs.
 *
 * Signing: the MASA's voucher carries the MASA certificate (and its chain) as x5bag (label 32,
 * RFC 9360) in the *protected* header — the draft's §9.2.3 case of a pledge that stores the MASA
 * CA rather than the MASA's own key. A voucher with no protected certificates (the draft's common
 * case: the pledge stores the MASA key) verifies when the signature verifies under a trust
 * anchor's own key. Certificates in the unprotected bucket are never used: nothing signs them.
 * rootline's pledge carries its IDevID as protected x5chain (33) so the registrar and the MASA
 * can check its request (the draft's "MAY … for communication of certificate chains to the MASA").
 */
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Signer } from '../crypto/keystore/types.js';
import { CborTag, decodeCbor, encodeCbor } from '../cose/cbor.js';
import { CoseAlgorithm, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../cose/algorithms.js';
import { CoseTag, messageAlgorithm, parseMessage, protectedForStructure, type ParsedMessage } from '../cose/message.js';
import { sign1 } from '../cose/sign1.js';
import { sigStructure1 } from '../cose/structures.js';
import { assertKeyFitsSignatureAlgorithm, toPublicKeyObject, verifySignature } from '../cose/signature-keys.js';
import { InvalidArgumentError, RootlineError } from '../errors.js';
import { findAttribute, parseCertificate, verifyChain, type CertificateInput, type ParsedCertificate } from '../pki/index.js';
import { MalformedSignedVoucherError, MalformedVoucherError, OnboardingError, UntrustedVoucherSignerError, VoucherSignatureError } from './errors.js';
import { checkVoucherFor, type OpenedVoucherRequest, type SigningIdentity, type VerifiedVoucher } from './signed-voucher.js';
import { VOUCHER_ASSERTIONS, VOUCHER_LIMITS, VOUCHER_MEMBER, VOUCHER_REQUEST_MEMBER, encodeVoucherRequest, parseVoucherRequest, type Voucher, type VoucherRequest } from './voucher.js';

/** COSE header label x5bag (RFC 9360 §2): an unordered bag of certificates. */
export const X5BAG = 32;
/** COSE header label x5chain (RFC 9360 §2): leaf first. */
export const X5CHAIN = 33;
/** Content-Format 836 (draft-ietf-anima-constrained-voucher §15.3). */
export const VOUCHER_COSE_MEDIA_TYPE = 'application/voucher+cose';

/** SID of the ietf-voucher `voucher` container (rfc8366bis .sid file; draft Appendix C.5: 2451). */
export const VOUCHER_SID = 2451;
/** SID of the ietf-voucher-request `voucher` container (draft Appendix C.3: 2501). */
export const VOUCHER_REQUEST_SID = 2501;

const MAX_COSE_VOUCHER = 65_536;
/** A SubjectPublicKeyInfo (pinned-domain-pubk, proximity-registrar-pubk) of at most this many bytes. */
const MAX_SPKI = 1_024;

type LeafKind = 'date' | 'binary' | 'string' | 'boolean' | 'assertion';
interface Leaf {
  name: string;
  sid: number;
  kind: LeafKind;
  /** Leaves the JSON data model (voucher.ts) does not have: property name and exact/max length. */
  extra?: { key: ExtraKey; length?: number; max?: number };
}
type ExtraKey = 'pinnedDomainPubk' | 'pinnedDomainPubkSha256' | 'proximityRegistrarPubk' | 'proximityRegistrarPubkSha256';

interface Schema {
  what: string;
  sid: number;
  member: string;
  bySid: ReadonlyMap<number, Leaf>;
  byName: ReadonlyMap<string, Leaf>;
  /** Leaves that have a SID but that rootline does not implement: refused by name. */
  unsupported: ReadonlyMap<number, string>;
}

function schema(what: string, sid: number, member: string, leaves: Leaf[], unsupported: Record<string, number>): Schema {
  return {
    what,
    sid,
    member,
    bySid: new Map(leaves.map((l) => [l.sid, l])),
    byName: new Map(leaves.map((l) => [l.name, l])),
    unsupported: new Map(Object.entries(unsupported).map(([name, s]) => [s, name])),
  };
}

// SIDs from the .sid files of draft-ietf-anima-rfc8366bis (ietf-voucher@2025-12-18.sid,
// ietf-voucher-request@2025-12-18.sid), the same numbers as draft-ietf-anima-constrained-voucher's
// ietf-voucher(-request)-constrained@2021-04-15.sid; checked against test/vectors/constrained-voucher/sids.json.
const VOUCHER_SCHEMA = schema(
  'voucher',
  VOUCHER_SID,
  VOUCHER_MEMBER,
  [
    { name: 'assertion', sid: 2452, kind: 'assertion' },
    { name: 'created-on', sid: 2453, kind: 'date' },
    { name: 'domain-cert-revocation-checks', sid: 2454, kind: 'boolean' },
    { name: 'expires-on', sid: 2455, kind: 'date' },
    { name: 'idevid-issuer', sid: 2456, kind: 'binary' },
    { name: 'last-renewal-date', sid: 2457, kind: 'date' },
    { name: 'nonce', sid: 2458, kind: 'binary' },
    { name: 'pinned-domain-cert', sid: 2459, kind: 'binary' },
    { name: 'pinned-domain-pubk', sid: 2460, kind: 'binary', extra: { key: 'pinnedDomainPubk', max: MAX_SPKI } },
    { name: 'pinned-domain-pubk-sha256', sid: 2461, kind: 'binary', extra: { key: 'pinnedDomainPubkSha256', length: 32 } },
    { name: 'serial-number', sid: 2462, kind: 'string' },
  ],
  { 'additional-configuration-url': 2463, 'est-domain': 2464, 'manufacturer-private': 2465, extensions: 2466 },
);

const VOUCHER_REQUEST_SCHEMA = schema(
  'voucher request',
  VOUCHER_REQUEST_SID,
  VOUCHER_REQUEST_MEMBER,
  [
    { name: 'assertion', sid: 2502, kind: 'assertion' },
    { name: 'created-on', sid: 2503, kind: 'date' },
    { name: 'domain-cert-revocation-checks', sid: 2504, kind: 'boolean' },
    { name: 'expires-on', sid: 2505, kind: 'date' },
    { name: 'idevid-issuer', sid: 2506, kind: 'binary' },
    { name: 'last-renewal-date', sid: 2507, kind: 'date' },
    { name: 'nonce', sid: 2508, kind: 'binary' },
    { name: 'pinned-domain-cert', sid: 2509, kind: 'binary' },
    { name: 'prior-signed-voucher-request', sid: 2510, kind: 'binary' },
    { name: 'proximity-registrar-cert', sid: 2511, kind: 'binary' },
    { name: 'proximity-registrar-pubk-sha256', sid: 2512, kind: 'binary', extra: { key: 'proximityRegistrarPubkSha256', length: 32 } },
    { name: 'proximity-registrar-pubk', sid: 2513, kind: 'binary', extra: { key: 'proximityRegistrarPubk', max: MAX_SPKI } },
    { name: 'serial-number', sid: 2514, kind: 'string' },
  ],
  {
    'agent-provided-proximity-registrar-cert': 2515,
    'agent-sign-cert': 2516,
    'agent-signed-data': 2517,
    'pinned-domain-pubk': 2518,
    'pinned-domain-pubk-sha256': 2519,
    'additional-configuration-url': 2520,
    'est-domain': 2521,
    extensions: 2522,
    'manufacturer-private': 2523,
  },
);

/** The SID tables as `{ path: sid }`, in the .sid files' identifier form (for tests and tools). */
export function constrainedVoucherSids(): { voucher: Record<string, number>; voucherRequest: Record<string, number> } {
  const table = (s: Schema, module: string): Record<string, number> => {
    const out: Record<string, number> = { [`/${module}:voucher`]: s.sid };
    for (const l of s.bySid.values()) out[`/${module}:voucher/${l.name}`] = l.sid;
    for (const [sid, name] of s.unsupported) out[`/${module}:voucher/${name}`] = sid;
    return out;
  };
  return { voucher: table(VOUCHER_SCHEMA, 'ietf-voucher'), voucherRequest: table(VOUCHER_REQUEST_SCHEMA, 'ietf-voucher-request') };
}

/** A voucher as the constrained model has it: a raw public key may be pinned instead of a certificate. */
export type ConstrainedVoucher = Omit<Voucher, 'pinnedDomainCert'> & {
  pinnedDomainCert?: Uint8Array;
  /** SubjectPublicKeyInfo DER of the registrar's raw public key. */
  pinnedDomainPubk?: Uint8Array;
  /** SHA-256 of that SubjectPublicKeyInfo. */
  pinnedDomainPubkSha256?: Uint8Array;
};

/** A voucher request with the constrained model's alternatives to proximity-registrar-cert. */
export interface ConstrainedVoucherRequest extends VoucherRequest {
  /** SubjectPublicKeyInfo DER of the registrar's key (draft §9.1.1). */
  proximityRegistrarPubk?: Uint8Array;
  proximityRegistrarPubkSha256?: Uint8Array;
}

// RFC 9254 §6.6: an enumeration is its integer value; YANG assigns 0, 1, 2 in declaration order
// (RFC 8366 §5.3: verified, logged, proximity) — draft §9.1.3: proximity (2), verified (0).
const ASSERTION_VALUES: ReadonlyMap<string, number> = new Map(VOUCHER_ASSERTIONS.map((a, i) => [a, i]));

const EXTRA_KEYS: readonly ExtraKey[] = ['pinnedDomainPubk', 'pinnedDomainPubkSha256', 'proximityRegistrarPubk', 'proximityRegistrarPubkSha256'];
const VOUCHER_KEYS = ['createdOn', 'expiresOn', 'assertion', 'serialNumber', 'idevidIssuer', 'pinnedDomainCert', 'domainCertRevocationChecks', 'nonce', 'lastRenewalDate'] as const;

/** JSON leaves (via voucher.ts's checked encoder) + the constrained-only leaves → SID-keyed CBOR. */
function encodeArtifact(json: Uint8Array, extras: Partial<Record<ExtraKey, unknown>>, s: Schema): Uint8Array {
  const doc = JSON.parse(new TextDecoder().decode(json)) as Record<string, Record<string, unknown>>;
  const inner = new Map<number, unknown>();
  for (const [name, value] of Object.entries(Object.values(doc)[0]!)) {
    const leaf = s.byName.get(name);
    if (leaf === undefined) throw new InvalidArgumentError(name, `is not a leaf of the ${s.what}`);
    // RFC 9254 §4.2: inside a container, keys are SID deltas from the parent.
    const delta = leaf.sid - s.sid;
    if (leaf.kind === 'binary') inner.set(delta, new Uint8Array(Buffer.from(value as string, 'base64')));
    else if (leaf.kind === 'assertion') inner.set(delta, ASSERTION_VALUES.get(value as string)!);
    else inner.set(delta, value);
  }
  for (const leaf of s.bySid.values()) {
    if (leaf.extra === undefined) continue;
    const v = extras[leaf.extra.key];
    if (v === undefined) continue;
    if (!(v instanceof Uint8Array) || (leaf.extra.length !== undefined && v.length !== leaf.extra.length) || (leaf.extra.max !== undefined && (v.length === 0 || v.length > leaf.extra.max))) {
      throw new InvalidArgumentError(leaf.extra.key, leaf.extra.length !== undefined ? `expected ${leaf.extra.length} bytes` : `expected 1..${leaf.extra.max} bytes`);
    }
    inner.set(leaf.sid - s.sid, v);
  }
  // encodeCbor is deterministic (RFC 8949 §4.2.1): keys sorted, as in the draft's examples.
  return encodeCbor(new Map([[s.sid, inner]]));
}

function pick<T extends object>(value: T, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if ((value as Record<string, unknown>)[k] !== undefined) out[k] = (value as Record<string, unknown>)[k];
  return out;
}

/** The voucher as SID-keyed CBOR (the COSE payload). */
export function encodeConstrainedVoucher(voucher: ConstrainedVoucher): Uint8Array {
  if (voucher === null || typeof voucher !== 'object') throw new InvalidArgumentError('voucher', 'expected an object');
  for (const k of ['createdOn', 'assertion', 'serialNumber'] as const) {
    if (voucher[k] === undefined) throw new InvalidArgumentError(k, 'is mandatory in a voucher');
  }
  if (voucher.pinnedDomainCert === undefined && voucher.pinnedDomainPubk === undefined && voucher.pinnedDomainPubkSha256 === undefined) {
    throw new InvalidArgumentError('pinnedDomainCert', 'a voucher pins a certificate or a public key');
  }
  if (voucher.expiresOn !== undefined && voucher.nonce !== undefined) throw new InvalidArgumentError('expiresOn', 'a voucher with a nonce carries no expires-on (RFC 8366 §5.3)');
  // The request encoder checks every shared leaf; only the voucher's own leaves are passed.
  const json = encodeVoucherRequest(pick(voucher, VOUCHER_KEYS) as unknown as VoucherRequest);
  return encodeArtifact(json, voucher, VOUCHER_SCHEMA);
}

/** The voucher request as SID-keyed CBOR (the COSE payload). */
export function encodeConstrainedVoucherRequest(request: ConstrainedVoucherRequest): Uint8Array {
  if (request === null || typeof request !== 'object') throw new InvalidArgumentError('request', 'expected an object');
  const json = encodeVoucherRequest(pick(request, Object.keys(request).filter((k) => !(EXTRA_KEYS as readonly string[]).includes(k))) as unknown as VoucherRequest);
  return encodeArtifact(json, request, VOUCHER_REQUEST_SCHEMA);
}

const cborType = (v: unknown): string => (v instanceof Uint8Array ? 'a byte string' : v instanceof Map ? 'a map' : Array.isArray(v) ? 'an array' : v instanceof CborTag ? 'a tag' : typeof v);

/**
 * SID-keyed (or name-keyed) CBOR → the strict JSON parser's input plus the constrained-only
 * leaves. Every CBOR type is checked here; the JSON parser then applies the value rules (date
 * syntax, lengths, mandatory serial-number) shared with RFC 8366 JSON vouchers.
 */
function decodeArtifact(cbor: Uint8Array, s: Schema): Record<string, unknown> {
  if (!(cbor instanceof Uint8Array)) throw new InvalidArgumentError('bytes', 'expected a Uint8Array');
  if (cbor.length > VOUCHER_LIMITS.maxLength) throw new MalformedVoucherError(`longer than ${VOUCHER_LIMITS.maxLength} bytes`);
  let value: unknown;
  try {
    value = decodeCbor(cbor, { maxDepth: 4 });
  } catch (err) {
    throw new MalformedVoucherError('the payload is not CBOR', { cause: err });
  }
  if (!(value instanceof Map) || value.size !== 1) throw new MalformedVoucherError(`the payload is not a one-entry CBOR map (a ${s.what})`);
  const [top, body] = [...value.entries()][0]!;
  const bySid = top === s.sid;
  if (!bySid && top !== s.member) throw new MalformedVoucherError(`expected the ${s.what} container (SID ${s.sid} or ${JSON.stringify(s.member)}), got ${typeof top === 'string' ? JSON.stringify(top.slice(0, 64)) : typeof top === 'number' ? `SID ${top}` : cborType(top)}`);
  if (!(body instanceof Map)) throw new MalformedVoucherError(`the ${s.what} container must be a map, got ${cborType(body)}`);
  const json = Object.create(null) as Record<string, unknown>;
  const extras: Record<string, Uint8Array> = {};
  const seen = new Set<string>();
  for (const [key, v] of body.entries()) {
    let leaf: Leaf | undefined;
    if (bySid) {
      // RFC 9254 §3.2: a delta from the parent SID, or an absolute SID as tag 47.
      let sid: number | undefined;
      if (typeof key === 'number' && Number.isSafeInteger(key)) sid = s.sid + key;
      else if (key instanceof CborTag && Number(key.tag) === 47 && typeof key.contents === 'number' && Number.isSafeInteger(key.contents)) sid = key.contents;
      if (sid === undefined) throw new MalformedVoucherError(`${s.what} keys must be SID deltas (integers), got ${cborType(key)}`);
      leaf = s.bySid.get(sid);
      if (leaf === undefined) {
        const name = s.unsupported.get(sid);
        throw new MalformedVoucherError(name !== undefined ? `${name} (SID ${sid}) is not supported` : `unknown SID ${sid} in the ${s.what}`);
      }
    } else {
      if (typeof key !== 'string') throw new MalformedVoucherError(`a name-keyed ${s.what} has text keys only, got ${cborType(key)}`);
      leaf = s.byName.get(key);
      if (leaf === undefined) throw new MalformedVoucherError(`unknown member ${JSON.stringify(key.slice(0, 64))}`);
    }
    // A delta and a tag-47 absolute SID can name the same leaf.
    if (seen.has(leaf.name)) throw new MalformedVoucherError(`${leaf.name} appears twice`);
    seen.add(leaf.name);
    switch (leaf.kind) {
      case 'assertion': {
        const name = typeof v === 'number' ? VOUCHER_ASSERTIONS[v] : undefined;
        if (name === undefined) throw new MalformedVoucherError(`assertion: expected an enumeration value 0..${VOUCHER_ASSERTIONS.length - 1}, got ${typeof v === 'number' ? v : cborType(v)}`);
        json[leaf.name] = name;
        break;
      }
      case 'binary':
        if (!(v instanceof Uint8Array)) throw new MalformedVoucherError(`${leaf.name}: expected a byte string, got ${cborType(v)}`);
        if (leaf.extra !== undefined) {
          const { length, max } = leaf.extra;
          if ((length !== undefined && v.length !== length) || (max !== undefined && (v.length === 0 || v.length > max))) throw new MalformedVoucherError(`${leaf.name}: expected ${length ?? `1..${max}`} bytes`);
          extras[leaf.extra.key] = v;
        } else json[leaf.name] = Buffer.from(v).toString('base64');
        break;
      case 'boolean':
        if (typeof v !== 'boolean') throw new MalformedVoucherError(`${leaf.name}: expected true or false, got ${cborType(v)}`);
        json[leaf.name] = v;
        break;
      case 'date':
      case 'string':
        // RFC 9254 §6.4: yang:date-and-time is a string type, so a text string (draft §9.1.3).
        if (typeof v !== 'string') throw new MalformedVoucherError(`${leaf.name}: expected a text string, got ${cborType(v)}`);
        json[leaf.name] = v;
        break;
    }
  }
  // Both artifacts go through the request parser: its fields are a superset, and the voucher
  // schema above cannot reach the request-only ones.
  const parsed = parseVoucherRequest(JSON.stringify({ [VOUCHER_REQUEST_MEMBER]: json })) as unknown as Record<string, unknown>;
  return Object.assign(parsed, extras);
}

/** Strictly decodes a SID-keyed (or name-keyed) constrained voucher. */
export function decodeConstrainedVoucher(cbor: Uint8Array): ConstrainedVoucher {
  const v = decodeArtifact(cbor, VOUCHER_SCHEMA) as Partial<ConstrainedVoucher>;
  if (v.createdOn === undefined) throw new MalformedVoucherError('created-on is mandatory');
  if (v.assertion === undefined) throw new MalformedVoucherError('assertion is mandatory');
  if (v.pinnedDomainCert === undefined && v.pinnedDomainPubk === undefined && v.pinnedDomainPubkSha256 === undefined) {
    throw new MalformedVoucherError('the voucher pins nothing: pinned-domain-cert, pinned-domain-pubk or pinned-domain-pubk-sha256 is mandatory');
  }
  // RFC 8366 §5.3, expires-on: must 'not(../nonce)'.
  if (v.expiresOn !== undefined && v.nonce !== undefined) throw new MalformedVoucherError('expires-on and nonce are mutually exclusive (RFC 8366 §5.3)');
  return v as ConstrainedVoucher;
}

/** Strictly decodes a SID-keyed (or name-keyed) constrained voucher request. */
export function decodeConstrainedVoucherRequest(cbor: Uint8Array): ConstrainedVoucherRequest {
  return decodeArtifact(cbor, VOUCHER_REQUEST_SCHEMA) as unknown as ConstrainedVoucherRequest;
}

function derOf(c: CertificateInput): Uint8Array {
  return typeof c === 'object' && c !== null && 'der' in c && c.der instanceof Uint8Array ? c.der : parseCertificate(c as Uint8Array | string).der;
}

async function signConstrained(payload: Uint8Array, identity: SigningIdentity, label: typeof X5BAG | typeof X5CHAIN): Promise<Uint8Array> {
  if (identity === null || typeof identity !== 'object' || !Array.isArray(identity.certificates)) throw new InvalidArgumentError('identity', 'expected { signer, certificates }');
  const chain = identity.certificates.map(derOf);
  if (chain.length === 0) throw new RootlineError('ERR_INVALID_ARGUMENT', "certificates: expected the signer's certificate first");
  if (chain.length > MAX_CARRIED) throw new InvalidArgumentError('certificates', `at most ${MAX_CARRIED} certificates`);
  // RFC 9360 §2: one certificate as a bstr, several as an array (x5chain: leaf first).
  const carried = chain.length === 1 ? chain[0] : chain;
  return sign1({ payload, signer: identity.signer, protectedHeader: new Map<number, unknown>([[label, carried]]) });
}

/** The MASA's voucher: COSE_Sign1 over SID-keyed CBOR, MASA certificate(s) as protected x5bag. */
export function signConstrainedVoucher(voucher: ConstrainedVoucher, identity: SigningIdentity): Promise<Uint8Array> {
  return signConstrained(encodeConstrainedVoucher(voucher), identity, X5BAG);
}

/** A voucher request: COSE_Sign1 over SID-keyed CBOR, signer certificate (+ chain) as protected x5chain. */
export function signConstrainedVoucherRequest(request: ConstrainedVoucherRequest, identity: SigningIdentity): Promise<Uint8Array> {
  return signConstrained(encodeConstrainedVoucherRequest(request), identity, X5CHAIN);
}

interface OpenedCose {
  /** The CBOR payload exactly as signed. */
  payload: Uint8Array;
  signerCertificate: ParsedCertificate;
  certificates: ParsedCertificate[];
}

/** COSE_Sign1 with tag 18 (0xd2) or untagged (a 4-array, 0x84): how a voucher (request) tells itself apart from CMS (0x30). */
export function looksLikeCoseSign1(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.length > 0 && (bytes[0] === 0xd2 || bytes[0] === 0x84);
}

const MAX_CARRIED = 8;

/** The protected x5chain or x5bag, parsed; undefined when the protected bucket carries neither. */
function carriedCertificates(parsed: ParsedMessage): { kind: 'x5chain' | 'x5bag'; certs: ParsedCertificate[] } | undefined {
  // RFC 9360 §2: certificates belong in the protected bucket when the signature is to cover
  // them; an unprotected set could be swapped for another one certifying the same key, so it is
  // never looked at (the draft's MASA puts one there for the registrar only).
  const chain = parsed.protectedHeader.get(X5CHAIN);
  const bag = parsed.protectedHeader.get(X5BAG);
  if (chain !== undefined && bag !== undefined) throw new MalformedSignedVoucherError('both x5chain and x5bag in the protected header');
  const x5 = chain ?? bag;
  if (x5 === undefined) return undefined;
  const ders = x5 instanceof Uint8Array ? [x5] : Array.isArray(x5) && x5.length > 0 && x5.length <= MAX_CARRIED && x5.every((c) => c instanceof Uint8Array) ? (x5 as Uint8Array[]) : undefined;
  if (ders === undefined) throw new MalformedSignedVoucherError(`${chain !== undefined ? 'x5chain' : 'x5bag'} must be a certificate or an array of 1..${MAX_CARRIED}`);
  try {
    return { kind: chain !== undefined ? 'x5chain' : 'x5bag', certs: ders.map((d) => parseCertificate(d)) };
  } catch (err) {
    throw new MalformedSignedVoucherError('the protected header holds a malformed certificate', { cause: err });
  }
}

function keyFor(cert: ParsedCertificate, alg: SignatureAlgorithm): KeyObject | undefined {
  try {
    const key = toPublicKeyObject(cert.publicKey, 'certificate');
    assertKeyFitsSignatureAlgorithm(key, alg);
    return key;
  } catch (err) {
    if (err instanceof RootlineError) return undefined;
    throw err;
  }
}

/**
 * Verifies the COSE_Sign1 synchronously (node:crypto verifies in one call; the MASA opens the
 * pledge's prior-signed request inside synchronous code). The signer is, in this order: the
 * first certificate of a protected x5chain; the certificate of a protected x5bag whose key
 * verifies the signature; else a trust anchor whose own key verifies it (a pledge that stores the
 * MASA's certificate, draft §9.2.3). Carried certificates must chain to `trustAnchors`; without
 * anchors only the signature under the carried certificate is checked, as `verifyCms` does for a
 * registrar's request.
 */
function openConstrainedSync(bytes: Uint8Array, trustAnchors: readonly CertificateInput[] | undefined, at: Date | null): OpenedCose {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_COSE_VOUCHER) throw new MalformedSignedVoucherError(`expected a COSE_Sign1 of at most ${MAX_COSE_VOUCHER} bytes`);
  let anchors: ParsedCertificate[] | undefined;
  if (trustAnchors !== undefined) {
    if (!Array.isArray(trustAnchors)) throw new InvalidArgumentError('trustAnchors', 'expected an array of certificates');
    try {
      anchors = trustAnchors.map(toParsed);
    } catch (err) {
      throw new InvalidArgumentError('trustAnchors', `not certificates: ${(err as Error).message}`);
    }
  }
  try {
    const parsed = parseMessage(bytes, 'COSE_Sign1', CoseTag.Sign1, 4, { cbor: { maxDepth: 6 } });
    const [payload, signature] = parsed.rest;
    if (!(payload instanceof Uint8Array)) throw new MalformedSignedVoucherError('the COSE_Sign1 payload must be an attached bstr');
    if (!(signature instanceof Uint8Array)) throw new MalformedSignedVoucherError('the COSE_Sign1 signature must be a bstr');
    const alg = messageAlgorithm(parsed, SIGNATURE_ALGORITHMS, 'signature', [CoseAlgorithm.ES256, CoseAlgorithm.EdDSA]);
    // RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload].
    const toBeSigned = sigStructure1(protectedForStructure(parsed), new Uint8Array(0), payload);
    const verifiesUnder = (cert: ParsedCertificate): boolean => {
      const key = keyFor(cert, alg);
      return key !== undefined && verifySignature(alg, key, toBeSigned, signature);
    };
    const carried = carriedCertificates(parsed);
    let signer: ParsedCertificate;
    let certs: ParsedCertificate[];
    if (carried === undefined) {
      if (anchors === undefined || anchors.length === 0) throw new UntrustedVoucherSignerError('no x5chain or x5bag in the protected header and no trusted key to verify with');
      const found = anchors.find(verifiesUnder);
      if (found === undefined) throw new VoucherSignatureError('the COSE signature verifies under no trusted key (and no certificates are carried)');
      signer = found;
      certs = [found];
    } else {
      const found = carried.kind === 'x5chain' ? carried.certs[0]! : carried.certs.find(verifiesUnder);
      if (found === undefined) throw new VoucherSignatureError('the COSE signature verifies under no certificate of x5bag');
      signer = found;
      certs = [found, ...carried.certs.filter((c) => c !== found)];
      if (anchors !== undefined) {
        try {
          verifyChain(signer, certs.slice(1), anchors, at !== null ? { at } : {});
        } catch (err) {
          throw new UntrustedVoucherSignerError(`the signer certificate does not chain to a trusted anchor: ${(err as Error).message}`, { cause: err });
        }
      }
      if (keyFor(signer, alg) === undefined) throw new MalformedSignedVoucherError(`the signer certificate's key does not fit ${alg.name ?? 'the algorithm'}`);
      if (carried.kind === 'x5chain' && !verifiesUnder(signer)) throw new VoucherSignatureError('the COSE signature does not verify');
    }
    if (signer.keyUsage !== undefined && !signer.keyUsage.includes('digitalSignature')) throw new UntrustedVoucherSignerError('the signer certificate may not make digital signatures');
    return { payload, signerCertificate: signer, certificates: certs };
  } catch (err) {
    if (err instanceof OnboardingError) throw err;
    if (err instanceof RootlineError) throw new MalformedSignedVoucherError(`not an acceptable COSE_Sign1: ${err.message}`, { cause: err });
    throw err;
  }
}

export interface VerifyConstrainedVoucherOptions {
  /** The MASA CA (the voucher carries the MASA certificate) or the MASA's own certificate. */
  masaTrustAnchors: readonly CertificateInput[];
  serialNumber: string;
  nonce?: Uint8Array;
  now?: Date | null;
}

/** The pledge's checks on a COSE-signed voucher (same rules as verifyVoucher). */
export async function verifyConstrainedVoucher(bytes: Uint8Array, options: VerifyConstrainedVoucherOptions): Promise<VerifiedVoucher> {
  const now = options.now === undefined ? new Date() : options.now;
  const opened = openConstrainedSync(bytes, options.masaTrustAnchors, now);
  const decoded = decodeConstrainedVoucher(opened.payload);
  // rootline pledges pin a certificate: the RPK variant (draft §13) is not implemented.
  if (decoded.pinnedDomainCert === undefined) throw new MalformedVoucherError('the voucher pins a raw public key only (pinned-domain-pubk); this pledge needs pinned-domain-cert');
  const voucher = decoded as Voucher;
  checkVoucherFor(voucher, options.serialNumber, options.nonce, now);
  return { voucher, masaCertificate: opened.signerCertificate, pinnedDomainCertificate: voucher.pinnedDomainCert };
}

/**
 * Verifies a COSE-signed voucher request against `trustAnchors` (the manufacturer CAs, or the
 * pledge's own IDevID certificate for a request that carries none, as the draft's pledges send
 * them) and decodes it.
 */
export async function openConstrainedVoucherRequest(bytes: Uint8Array, options: { trustAnchors: readonly CertificateInput[]; at?: Date }): Promise<{ request: ConstrainedVoucherRequest; signerCertificate: ParsedCertificate }> {
  const opened = openConstrainedSync(bytes, options.trustAnchors, options.at ?? new Date());
  return { request: decodeConstrainedVoucherRequest(opened.payload), signerCertificate: opened.signerCertificate };
}

/**
 * The COSE twin of `openSignedVoucherRequest` (same result shape, synchronous): what lets the
 * MASA and the registrar take a constrained pledge's request as prior-signed-voucher-request.
 * `trustAnchors` absent: the signature is checked under the carried certificate only.
 */
export function openCoseSignedVoucherRequest(bytes: Uint8Array, options: { trustAnchors?: readonly CertificateInput[]; at?: Date } = {}): OpenedVoucherRequest {
  const opened = openConstrainedSync(bytes, options.trustAnchors, options.at ?? new Date());
  return { request: decodeConstrainedVoucherRequest(opened.payload), content: opened.payload, signerCertificate: opened.signerCertificate, certificates: opened.certificates };
}

export interface ConstrainedPledgeVoucherRequestOptions {
  /** The IDevID key. */
  signer: Signer;
  /** The IDevID certificate, then its chain if the pledge carries one (x5chain). */
  idevid: readonly CertificateInput[];
  /** The registrar's DTLS end-entity certificate the pledge saw (proximity, RFC 8995 §5.2). */
  registrarCertificate: CertificateInput;
  /** Default: 16 random bytes. */
  nonce?: Uint8Array;
  /** created-on; omitted for a pledge without a clock (`null`). Default now. */
  now?: Date | null;
}

/** The constrained pledge voucher request (PVR): proximity, nonce, signed as COSE_Sign1 with the IDevID. */
export async function createConstrainedPledgeVoucherRequest(options: ConstrainedPledgeVoucherRequestOptions): Promise<{ bytes: Uint8Array; request: VoucherRequest }> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (!Array.isArray(options.idevid) || options.idevid.length === 0) throw new InvalidArgumentError('idevid', 'expected the IDevID certificate first');
  const idevid = toParsed(options.idevid[0]!);
  const serialNumber = findAttribute(idevid.subjectRdns, 'serialNumber');
  if (serialNumber === undefined) throw new InvalidArgumentError('idevid', 'the IDevID has no subject serialNumber');
  const nonce = options.nonce ?? new Uint8Array(randomBytes(16));
  if (!(nonce instanceof Uint8Array) || nonce.length < 8 || nonce.length > 64) throw new InvalidArgumentError('nonce', 'expected 8..64 bytes');
  const request: VoucherRequest = {
    assertion: 'proximity',
    serialNumber,
    nonce,
    proximityRegistrarCert: toParsed(options.registrarCertificate).der,
  };
  if (options.now !== null) {
    const createdOn = new Date(options.now ?? new Date());
    createdOn.setUTCMilliseconds(0);
    request.createdOn = createdOn;
  }
  return { bytes: await signConstrainedVoucherRequest(request, { signer: options.signer, certificates: options.idevid }), request };
}

function toParsed(c: CertificateInput): ParsedCertificate {
  return typeof c === 'object' && c !== null && 'der' in c && (c as ParsedCertificate).der instanceof Uint8Array ? (c as ParsedCertificate) : parseCertificate(c as Uint8Array | string);
}
