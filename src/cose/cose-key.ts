/**
 * COSE_Key (RFC 9052 §7; key types and curves RFC 9053 §7): EC2 P-256, OKP Ed25519 and
 * Symmetric keys, encoded and decoded with every parameter checked. Decoding also checks that
 * a public point is on its curve and that a private scalar matches the public key given with it.
 */
import { ECDH, createECDH, createPrivateKey, createPublicKey } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, describeType } from '../util/assert.js';
import { decodeCbor, encodeCbor, type DecodeCborOptions } from './cbor.js';
import { CoseInvalidKeyError, CoseKeyMismatchError, CoseUnsupportedKeyError } from './errors.js';

/** COSE_Key labels (RFC 9052 Table 4) and key type parameters (RFC 9053 Tables 19-21). */
export const CoseKeyLabels = {
  kty: 1,
  kid: 2,
  alg: 3,
  keyOps: 4,
  baseIv: 5,
  crv: -1,
  x: -2,
  y: -3,
  d: -4,
  k: -1,
} as const;

/** Key types (RFC 9053 Table 17) and curves (Table 18) handled here. */
export const CoseKeyType = { OKP: 1, EC2: 2, Symmetric: 4 } as const;
export const CoseCurve = { P256: 1, Ed25519: 6 } as const;

export type CoseKeyLabel = number | string;

/** key_ops values (RFC 9052 §7.1, Table 5). */
export const CoseKeyOperation = {
  sign: 1,
  verify: 2,
  encrypt: 3,
  decrypt: 4,
  wrapKey: 5,
  unwrapKey: 6,
  deriveKey: 7,
  deriveBits: 8,
  macCreate: 9,
  macVerify: 10,
} as const;

interface CoseKeyCommon {
  kid?: Uint8Array;
  alg?: number | string;
  keyOps?: (number | string)[];
  baseIv?: Uint8Array;
  /** Parameters this library does not interpret, kept by label. */
  extra?: Map<CoseKeyLabel, unknown>;
}

/** RFC 9053 §7.1.1: public keys need x and y; private keys need d (x, y RECOMMENDED). */
export interface Ec2Key extends CoseKeyCommon {
  kty: 'EC2';
  crv: 'P-256';
  x?: Uint8Array;
  y?: Uint8Array;
  d?: Uint8Array;
}

export interface OkpKey extends CoseKeyCommon {
  kty: 'OKP';
  crv: 'Ed25519';
  x?: Uint8Array;
  d?: Uint8Array;
}

export interface SymmetricKey extends CoseKeyCommon {
  kty: 'Symmetric';
  k: Uint8Array;
}

export type CoseKey = Ec2Key | OkpKey | SymmetricKey;

const COORDINATE = 32;
const KNOWN_COMMON = new Set<CoseKeyLabel>([1, 2, 3, 4, 5]);

function fail(message: string): never {
  throw new CoseInvalidKeyError(message);
}

function bstr(map: Map<unknown, unknown>, label: number, name: string, length?: number): Uint8Array | undefined {
  const v = map.get(label);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) fail(`${name} must be a bstr, got ${describeType(v)}`);
  // RFC 9053 §7.1.1: "leading zero octets MUST be preserved" — coordinates have a fixed size.
  if (length !== undefined && v.length !== length) fail(`${name} must be ${length} bytes, got ${v.length}`);
  return v;
}

function isLabel(v: unknown): v is number | string {
  return (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'string';
}

/** The uncompressed point 04 || x || y for a P-256 x and (optionally compressed) y. */
function p256Point(x: Uint8Array, y: Uint8Array | boolean): Uint8Array {
  try {
    if (typeof y === 'boolean') {
      // RFC 9053 §7.1.1: y as a bool is point compression; the value is the sign bit.
      const compressed = Buffer.concat([Buffer.from([y ? 0x03 : 0x02]), x]);
      return new Uint8Array(ECDH.convertKey(compressed, 'prime256v1', undefined, undefined, 'uncompressed') as Buffer);
    }
    const point = new Uint8Array(65);
    point[0] = 0x04;
    point.set(x, 1);
    point.set(y, 33);
    // Importing checks that the point is on the curve.
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(x).toString('base64url'), y: Buffer.from(y).toString('base64url') }, format: 'jwk' });
    return point;
  } catch (err) {
    throw new CoseInvalidKeyError('x, y is not a point on P-256', { cause: err });
  }
}

/** Public point of a P-256 private scalar. */
export function p256PublicFromPrivate(d: Uint8Array): { x: Uint8Array; y: Uint8Array } {
  try {
    // setPrivateKey rejects scalars outside 1..n-1 and computes d·G.
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(d));
    const point = new Uint8Array(ecdh.getPublicKey(null, 'uncompressed'));
    return { x: point.subarray(1, 33), y: point.subarray(33, 65) };
  } catch (err) {
    throw new CoseInvalidKeyError('d is not a valid P-256 private key', { cause: err });
  }
}

/** Ed25519 public key of a 32-byte seed (RFC 8032 §5.1.5). */
export function ed25519PublicFromPrivate(d: Uint8Array): Uint8Array {
  // PKCS#8 wrapping of an Ed25519 seed (RFC 8410 §7): fixed 16-byte prefix, then the 32 bytes.
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), d]);
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(b);
}

function decodeCommon(map: Map<unknown, unknown>): CoseKeyCommon {
  const common: CoseKeyCommon = {};
  const kid = bstr(map, CoseKeyLabels.kid, 'kid');
  if (kid !== undefined) common.kid = kid;
  const alg = map.get(CoseKeyLabels.alg);
  if (alg !== undefined) {
    if (!isLabel(alg)) fail('alg must be an int or tstr');
    common.alg = alg;
  }
  const ops = map.get(CoseKeyLabels.keyOps);
  if (ops !== undefined) {
    if (!Array.isArray(ops) || ops.length === 0 || !ops.every(isLabel)) fail('key_ops must be a non-empty array of int or tstr');
    common.keyOps = ops as (number | string)[];
  }
  const baseIv = bstr(map, CoseKeyLabels.baseIv, 'Base IV');
  if (baseIv !== undefined) common.baseIv = baseIv;
  return common;
}

function extras(map: Map<unknown, unknown>, known: readonly number[]): Map<CoseKeyLabel, unknown> | undefined {
  const out = new Map<CoseKeyLabel, unknown>();
  for (const [label, value] of map) {
    if (!isLabel(label)) fail(`key parameter label ${describeType(label)} is not an int or tstr`);
    if (!KNOWN_COMMON.has(label) && !known.includes(label as number)) out.set(label, value);
  }
  return out.size > 0 ? out : undefined;
}

/** Validates a decoded COSE_Key map and returns it typed. */
export function coseKeyFromMap(value: unknown): CoseKey {
  if (!(value instanceof Map)) throw new CoseInvalidKeyError(`a COSE_Key must be a map, got ${describeType(value)}`);
  const map = value as Map<unknown, unknown>;
  const kty = map.get(CoseKeyLabels.kty);
  if (kty === undefined) fail('kty is missing');
  if (!isLabel(kty)) fail('kty must be an int or tstr');
  const common = decodeCommon(map);

  if (kty === CoseKeyType.Symmetric) {
    const k = bstr(map, CoseKeyLabels.k, 'k');
    if (k === undefined || k.length === 0) fail('a Symmetric key needs a non-empty k');
    const extra = extras(map, [CoseKeyLabels.k]);
    return { kty: 'Symmetric', k, ...common, ...(extra ? { extra } : {}) };
  }

  if (kty !== CoseKeyType.EC2 && kty !== CoseKeyType.OKP) throw new CoseUnsupportedKeyError(`key type ${JSON.stringify(kty)} is not supported`);
  const crv = map.get(CoseKeyLabels.crv);
  if (crv === undefined) fail('crv is missing');
  if (!isLabel(crv)) fail('crv must be an int or tstr');

  if (kty === CoseKeyType.EC2) {
    if (crv !== CoseCurve.P256) throw new CoseUnsupportedKeyError(`EC2 curve ${JSON.stringify(crv)} is not supported (P-256 only)`);
    const x = bstr(map, CoseKeyLabels.x, 'x', COORDINATE);
    const yRaw = map.get(CoseKeyLabels.y);
    if (yRaw !== undefined && typeof yRaw !== 'boolean' && !(yRaw instanceof Uint8Array)) fail('y must be a bstr or bool');
    if (yRaw instanceof Uint8Array && yRaw.length !== COORDINATE) fail(`y must be ${COORDINATE} bytes, got ${yRaw.length}`);
    const d = bstr(map, CoseKeyLabels.d, 'd', COORDINATE);
    if ((x === undefined) !== (yRaw === undefined)) fail('x and y must be given together');
    if (x === undefined && d === undefined) fail('an EC2 key needs x and y, or d');
    const key: Ec2Key = { kty: 'EC2', crv: 'P-256', ...common };
    if (x !== undefined) {
      const point = p256Point(x, yRaw as Uint8Array | boolean);
      key.x = point.subarray(1, 33);
      key.y = point.subarray(33, 65);
    }
    if (d !== undefined) {
      const pub = p256PublicFromPrivate(d);
      if (key.x !== undefined && (!equalBytes(pub.x, key.x) || !equalBytes(pub.y, key.y!))) fail('d does not match x, y');
      key.d = d;
    }
    const extra = extras(map, [CoseKeyLabels.crv, CoseKeyLabels.x, CoseKeyLabels.y, CoseKeyLabels.d]);
    if (extra) key.extra = extra;
    return key;
  }

  if (crv !== CoseCurve.Ed25519) throw new CoseUnsupportedKeyError(`OKP curve ${JSON.stringify(crv)} is not supported (Ed25519 only)`);
  const x = bstr(map, CoseKeyLabels.x, 'x', COORDINATE);
  const d = bstr(map, CoseKeyLabels.d, 'd', COORDINATE);
  if (x === undefined && d === undefined) fail('an OKP key needs x or d');
  const key: OkpKey = { kty: 'OKP', crv: 'Ed25519', ...common };
  if (x !== undefined) {
    try {
      createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(x).toString('base64url') }, format: 'jwk' });
    } catch (err) {
      throw new CoseInvalidKeyError('x is not an Ed25519 public key', { cause: err });
    }
    key.x = x;
  }
  if (d !== undefined) {
    if (x !== undefined && !equalBytes(ed25519PublicFromPrivate(d), x)) fail('d does not match x');
    key.d = d;
  }
  const extra = extras(map, [CoseKeyLabels.crv, CoseKeyLabels.x, CoseKeyLabels.d]);
  if (extra) key.extra = extra;
  return key;
}

/**
 * Throws ERR_COSE_KEY_MISMATCH unless `key` may be used for `operation` under algorithm `alg`.
 * RFC 9052 §7.1 alg: "If the algorithms do not match, then this key object MUST NOT be used to
 * perform the cryptographic operation"; key_ops restricts "the set of operations that a key is
 * to be used for".
 */
export function assertCoseKeyPermits(key: CoseKey, alg: number, operation: keyof typeof CoseKeyOperation): void {
  if (key.alg !== undefined && key.alg !== alg) throw new CoseKeyMismatchError(`the COSE_Key is restricted to algorithm ${String(key.alg)}, the message uses ${alg}`);
  if (key.keyOps !== undefined && !key.keyOps.includes(CoseKeyOperation[operation])) {
    throw new CoseKeyMismatchError(`the COSE_Key's key_ops [${key.keyOps.join(', ')}] do not include ${operation} (${CoseKeyOperation[operation]})`);
  }
}

/** Decodes one COSE_Key. Malformed CBOR: ERR_COSE_MALFORMED_CBOR; a bad key: ERR_COSE_INVALID_KEY. */
export function decodeCoseKey(bytes: Uint8Array, options?: DecodeCborOptions): CoseKey {
  assertBytes(bytes, 'bytes');
  return coseKeyFromMap(decodeCbor(bytes, options));
}

/** Decodes a COSE_KeySet (RFC 9052 §7: "COSE_KeySet = [+COSE_Key]"). */
export function decodeCoseKeySet(bytes: Uint8Array, options?: DecodeCborOptions): CoseKey[] {
  assertBytes(bytes, 'bytes');
  const value = decodeCbor(bytes, options);
  if (!Array.isArray(value) || value.length === 0) throw new CoseInvalidKeyError('a COSE_KeySet must be a non-empty array');
  return value.map(coseKeyFromMap);
}

function assertOptionalBytes(value: unknown, name: string, len?: number): void {
  if (value !== undefined) assertBytes(value, name, len === undefined ? {} : { len });
}

/** The COSE_Key as a label → value Map (checked like a decoded key). */
export function coseKeyToMap(key: CoseKey): Map<CoseKeyLabel, unknown> {
  if (typeof key !== 'object' || key === null) throw new InvalidArgumentError('key', `expected a COSE key object, got ${describeType(key)}`);
  const map = new Map<CoseKeyLabel, unknown>();
  switch (key.kty) {
    case 'Symmetric':
      assertBytes(key.k, 'key.k', { min: 1 });
      map.set(CoseKeyLabels.kty, CoseKeyType.Symmetric).set(CoseKeyLabels.k, key.k);
      break;
    case 'EC2':
      if (key.crv !== 'P-256') throw new InvalidArgumentError('key.crv', 'only P-256 is supported for EC2');
      assertOptionalBytes(key.x, 'key.x', COORDINATE);
      assertOptionalBytes(key.y, 'key.y', COORDINATE);
      assertOptionalBytes(key.d, 'key.d', COORDINATE);
      map.set(CoseKeyLabels.kty, CoseKeyType.EC2).set(CoseKeyLabels.crv, CoseCurve.P256);
      if (key.x !== undefined) map.set(CoseKeyLabels.x, key.x);
      if (key.y !== undefined) map.set(CoseKeyLabels.y, key.y);
      if (key.d !== undefined) map.set(CoseKeyLabels.d, key.d);
      break;
    case 'OKP':
      if (key.crv !== 'Ed25519') throw new InvalidArgumentError('key.crv', 'only Ed25519 is supported for OKP');
      assertOptionalBytes(key.x, 'key.x', COORDINATE);
      assertOptionalBytes(key.d, 'key.d', COORDINATE);
      map.set(CoseKeyLabels.kty, CoseKeyType.OKP).set(CoseKeyLabels.crv, CoseCurve.Ed25519);
      if (key.x !== undefined) map.set(CoseKeyLabels.x, key.x);
      if (key.d !== undefined) map.set(CoseKeyLabels.d, key.d);
      break;
    default:
      throw new InvalidArgumentError('key.kty', `unsupported key type ${describeType((key as { kty: unknown }).kty)}`);
  }
  if (key.kid !== undefined) assertBytes(key.kid, 'key.kid');
  if (key.kid !== undefined) map.set(CoseKeyLabels.kid, key.kid);
  if (key.alg !== undefined) {
    if (!isLabel(key.alg)) throw new InvalidArgumentError('key.alg', 'expected an integer or string');
    map.set(CoseKeyLabels.alg, key.alg);
  }
  if (key.keyOps !== undefined) {
    if (!Array.isArray(key.keyOps) || key.keyOps.length === 0 || !key.keyOps.every(isLabel)) throw new InvalidArgumentError('key.keyOps', 'expected a non-empty array of integers or strings');
    map.set(CoseKeyLabels.keyOps, key.keyOps);
  }
  if (key.baseIv !== undefined) {
    assertBytes(key.baseIv, 'key.baseIv');
    map.set(CoseKeyLabels.baseIv, key.baseIv);
  }
  for (const [label, value] of key.extra ?? []) {
    if (map.has(label)) throw new InvalidArgumentError('key.extra', `label ${JSON.stringify(label)} duplicates a known parameter`);
    map.set(label, value);
  }
  return map;
}

/**
 * Encodes a COSE_Key deterministically. The result decodes with decodeCoseKey, which also
 * validates the key material; encoding only checks shapes and lengths.
 */
export function encodeCoseKey(key: CoseKey): Uint8Array {
  return encodeCbor(coseKeyToMap(key));
}
