/**
 * SUIT_Digest = [ suit-digest-algorithm-id: int, suit-digest-bytes: bstr ]
 * (draft-ietf-suit-manifest §10, COSE hash algorithm ids of RFC 9054). rootline computes and
 * accepts SHA-256 (-16) only: it is the algorithm every example and every SUIT profile uses, and
 * accepting a weaker one would let an attacker pick it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { encodeCbor } from '../../cose/cbor.js';
import { SHA256_ALG } from './labels.js';
import { SuitMalformedError, SuitUnsupportedError } from './errors.js';
import { decodeNested } from './cbor-util.js';

export interface SuitDigest {
  alg: number;
  bytes: Uint8Array;
}

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

export function encodeDigest(digest: SuitDigest): Uint8Array {
  return encodeCbor([digest.alg, digest.bytes]);
}

/**
 * SHA-256 over the bstr-wrapped form of `content`: the manifest digest in the authentication
 * wrapper and the digests of severed members cover the encoded `bstr .cbor` item, header
 * included (checked against the draft's examples: the digest 6658ea56... of Example 0 is the
 * hash of 0x5871 || manifest, not of the manifest alone).
 */
export function wrappedDigestOf(content: Uint8Array): SuitDigest {
  return { alg: SHA256_ALG, bytes: sha256(encodeCbor(content)) };
}

/** SUIT_Digest of `data` with SHA-256. */
export function digestOf(data: Uint8Array): SuitDigest {
  return { alg: SHA256_ALG, bytes: sha256(data) };
}

/** Reads a decoded SUIT_Digest array. */
export function digestFromValue(value: unknown, where: string): SuitDigest {
  if (!Array.isArray(value) || value.length < 2) throw new SuitMalformedError(`${where}: SUIT_Digest must be [alg, bytes]`);
  const [alg, bytes] = value as unknown[];
  if (typeof alg !== 'number' || !Number.isSafeInteger(alg)) throw new SuitMalformedError(`${where}: digest algorithm must be an integer`);
  if (!(bytes instanceof Uint8Array)) throw new SuitMalformedError(`${where}: digest bytes must be a bstr`);
  return { alg, bytes };
}

/** Decodes a bstr .cbor SUIT_Digest. */
export function decodeDigest(bytes: Uint8Array, where: string): SuitDigest {
  return digestFromValue(decodeNested(bytes, where), where);
}

/** Throws unless the algorithm is one this room computes. */
export function assertSupportedDigest(digest: SuitDigest, where: string): void {
  if (digest.alg !== SHA256_ALG) throw new SuitUnsupportedError(`${where}: digest algorithm ${digest.alg} is not supported (only SHA-256, -16)`);
  if (digest.bytes.length !== 32) throw new SuitMalformedError(`${where}: a SHA-256 digest is 32 bytes, got ${digest.bytes.length}`);
}

/** Constant-time comparison of a computed SHA-256 with an expected digest. */
export function digestMatches(expected: SuitDigest, actual: Uint8Array): boolean {
  return expected.alg === SHA256_ALG && expected.bytes.length === actual.length && timingSafeEqual(expected.bytes, actual);
}
