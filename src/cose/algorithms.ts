/**
 * The COSE algorithms this room implements, by IANA "COSE Algorithms" value (RFC 9053), plus the
 * private-use AEAD identifiers for LEA and ARIA documented in README.md.
 */
import type { AeadAlgorithm as CryptoAeadName } from '../crypto/index.js';

/** Algorithm identifiers, by their RFC 9053 names. */
export const CoseAlgorithm = {
  /** ECDSA w/ SHA-256 on P-256 (RFC 9053 §2.1). */
  ES256: -7,
  /** EdDSA, here Ed25519 only (RFC 9053 §2.2). */
  EdDSA: -8,
  /** HMAC w/ SHA-256 truncated to 64 bits (RFC 9053 §3.1). */
  HMAC_256_64: 4,
  HMAC_256_256: 5,
  HMAC_384_384: 6,
  HMAC_512_512: 7,
  /** AES-CBC-MAC, zero IV, zero padding (RFC 9053 §3.2). */
  AES_MAC_128_64: 14,
  AES_MAC_256_64: 15,
  AES_MAC_128_128: 25,
  AES_MAC_256_128: 26,
  /** AES-GCM, 96-bit nonce, 128-bit tag (RFC 9053 §4.1). */
  A128GCM: 1,
  A192GCM: 2,
  A256GCM: 3,
  /** AES-CCM-<L bits>-<tag bits>-<key bits> (RFC 9053 §4.2). L=16 → 13-byte nonce, L=64 → 7-byte nonce. */
  AES_CCM_16_64_128: 10,
  AES_CCM_16_64_256: 11,
  AES_CCM_64_64_128: 12,
  AES_CCM_64_64_256: 13,
  AES_CCM_16_128_128: 30,
  AES_CCM_16_128_256: 31,
  AES_CCM_64_128_128: 32,
  AES_CCM_64_128_256: 33,
  /**
   * LEA (KS X 3246) and ARIA (RFC 5794) under private-use identifiers (the IANA COSE Algorithms
   * registry reserves integers less than -65536 for private use). Same shapes as the AES
   * algorithms above; only peers that share this table understand them.
   */
  LEA_128_GCM: -65537,
  LEA_256_GCM: -65538,
  LEA_CCM_16_64_128: -65539,
  LEA_CCM_16_64_256: -65540,
  LEA_CCM_64_64_128: -65541,
  LEA_CCM_64_64_256: -65542,
  LEA_CCM_16_128_128: -65543,
  LEA_CCM_16_128_256: -65544,
  LEA_CCM_64_128_128: -65545,
  LEA_CCM_64_128_256: -65546,
  ARIA_128_GCM: -65547,
  ARIA_256_GCM: -65548,
  ARIA_CCM_16_64_128: -65549,
  ARIA_CCM_16_64_256: -65550,
  ARIA_CCM_64_64_128: -65551,
  ARIA_CCM_64_64_256: -65552,
  ARIA_CCM_16_128_128: -65553,
  ARIA_CCM_16_128_256: -65554,
  ARIA_CCM_64_128_128: -65555,
  ARIA_CCM_64_128_256: -65556,
} as const;

export type SignatureAlgorithmId = typeof CoseAlgorithm.ES256 | typeof CoseAlgorithm.EdDSA;

export interface SignatureAlgorithm {
  readonly id: SignatureAlgorithmId;
  readonly name: 'ES256' | 'EdDSA';
}

export interface MacAlgorithm {
  readonly id: number;
  readonly name: string;
  readonly engine: 'hmac' | 'aes-cbc-mac';
  /** HMAC hash; for AES-CBC-MAC the block cipher is AES with a key of `minKeyLength` bytes. */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | undefined;
  /** Bytes of the MAC output kept as the COSE tag. */
  readonly tagLength: number;
  /**
   * Key length bounds. HMAC: at least the hash output length (RFC 2104 §3: keys "less than L
   * bytes ... strongly discouraged"). AES-CBC-MAC: exactly the AES key size.
   */
  readonly minKeyLength: number;
  readonly maxKeyLength: number;
}

export interface AeadAlgorithm {
  readonly id: number;
  readonly name: string;
  /** How the room computes it: OpenSSL AES modes, or `createAead` from the crypto room. */
  readonly engine: 'aes-gcm' | 'aes-ccm' | 'crypto-aead';
  /** The crypto room's name for the cipher and mode (engine 'crypto-aead'). */
  readonly cryptoName?: CryptoAeadName;
  readonly keyLength: number;
  readonly nonceLength: number;
  readonly tagLength: number;
  /** Longest plaintext the mode can protect (CCM: 2^(8L) - 1 bytes). */
  readonly maxPlaintextLength: number;
}

export const SIGNATURE_ALGORITHMS: ReadonlyMap<number, SignatureAlgorithm> = new Map<number, SignatureAlgorithm>([
  [CoseAlgorithm.ES256, { id: CoseAlgorithm.ES256, name: 'ES256' }],
  [CoseAlgorithm.EdDSA, { id: CoseAlgorithm.EdDSA, name: 'EdDSA' }],
]);

function hmac(id: number, name: string, hash: 'sha256' | 'sha384' | 'sha512', tagLength: number, minKeyLength: number): [number, MacAlgorithm] {
  return [id, { id, name, engine: 'hmac', hash, tagLength, minKeyLength, maxKeyLength: 1024 }];
}

function aesMac(id: number, keyBits: 128 | 256, tagBits: 64 | 128): [number, MacAlgorithm] {
  const keyLength = keyBits / 8;
  return [id, { id, name: `AES-MAC ${keyBits}/${tagBits}`, engine: 'aes-cbc-mac', hash: undefined, tagLength: tagBits / 8, minKeyLength: keyLength, maxKeyLength: keyLength }];
}

export const MAC_ALGORITHMS: ReadonlyMap<number, MacAlgorithm> = new Map<number, MacAlgorithm>([
  hmac(CoseAlgorithm.HMAC_256_64, 'HMAC 256/64', 'sha256', 8, 32),
  hmac(CoseAlgorithm.HMAC_256_256, 'HMAC 256/256', 'sha256', 32, 32),
  hmac(CoseAlgorithm.HMAC_384_384, 'HMAC 384/384', 'sha384', 48, 48),
  hmac(CoseAlgorithm.HMAC_512_512, 'HMAC 512/512', 'sha512', 64, 64),
  aesMac(CoseAlgorithm.AES_MAC_128_64, 128, 64),
  aesMac(CoseAlgorithm.AES_MAC_256_64, 256, 64),
  aesMac(CoseAlgorithm.AES_MAC_128_128, 128, 128),
  aesMac(CoseAlgorithm.AES_MAC_256_128, 256, 128),
]);

// GCM: RFC 9053 §4.1 fixes a 96-bit nonce and the full 128-bit tag. Its plaintext limit
// (2^39 - 256 bits) is far beyond anything held in memory, so only CCM limits are checked.
const GCM_MAX = Number.MAX_SAFE_INTEGER;

function gcm(id: number, name: string, keyLength: number): [number, AeadAlgorithm] {
  return [id, { id, name, engine: 'aes-gcm', keyLength, nonceLength: 12, tagLength: 16, maxPlaintextLength: GCM_MAX }];
}

/** RFC 9053 §4.2: the nonce is 15 - L bytes; L=2 limits messages to 2^16 - 1 bytes. */
function ccm(id: number, lBits: 16 | 64, tagBits: 64 | 128, keyBits: 128 | 256): [number, AeadAlgorithm] {
  const l = lBits / 8;
  return [
    id,
    {
      id,
      name: `AES-CCM-${lBits}-${tagBits}-${keyBits}`,
      engine: 'aes-ccm',
      keyLength: keyBits / 8,
      nonceLength: 15 - l,
      tagLength: tagBits / 8,
      maxPlaintextLength: l >= 7 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * l) - 1,
    },
  ];
}

/** LEA/ARIA through the crypto room's createAead, mirroring the AES shapes (same nonce and tag sizes). */
function viaCrypto(cipher: 'LEA' | 'ARIA', firstId: number): [number, AeadAlgorithm][] {
  const out: [number, AeadAlgorithm][] = [];
  let id = firstId;
  for (const keyBits of [128, 256] as const) {
    out.push([id, { id, name: `${cipher}-${keyBits}-GCM`, engine: 'crypto-aead', cryptoName: `${cipher}-${keyBits}-GCM`, keyLength: keyBits / 8, nonceLength: 12, tagLength: 16, maxPlaintextLength: GCM_MAX }]);
    id--;
  }
  for (const tagBits of [64, 128] as const) {
    for (const lBits of [16, 64] as const) {
      for (const keyBits of [128, 256] as const) {
        const l = lBits / 8;
        out.push([
          id,
          {
            id,
            name: `${cipher}-CCM-${lBits}-${tagBits}-${keyBits}`,
            engine: 'crypto-aead',
            cryptoName: `${cipher}-${keyBits}-${tagBits === 64 ? 'CCM-8' : 'CCM'}`,
            keyLength: keyBits / 8,
            nonceLength: 15 - l,
            tagLength: tagBits / 8,
            maxPlaintextLength: l >= 7 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * l) - 1,
          },
        ]);
        id--;
      }
    }
  }
  return out;
}

export const AEAD_ALGORITHMS: ReadonlyMap<number, AeadAlgorithm> = new Map<number, AeadAlgorithm>([
  ...viaCrypto('LEA', CoseAlgorithm.LEA_128_GCM),
  ...viaCrypto('ARIA', CoseAlgorithm.ARIA_128_GCM),
  gcm(CoseAlgorithm.A128GCM, 'A128GCM', 16),
  gcm(CoseAlgorithm.A192GCM, 'A192GCM', 24),
  gcm(CoseAlgorithm.A256GCM, 'A256GCM', 32),
  ccm(CoseAlgorithm.AES_CCM_16_64_128, 16, 64, 128),
  ccm(CoseAlgorithm.AES_CCM_16_64_256, 16, 64, 256),
  ccm(CoseAlgorithm.AES_CCM_64_64_128, 64, 64, 128),
  ccm(CoseAlgorithm.AES_CCM_64_64_256, 64, 64, 256),
  ccm(CoseAlgorithm.AES_CCM_16_128_128, 16, 128, 128),
  ccm(CoseAlgorithm.AES_CCM_16_128_256, 16, 128, 256),
  ccm(CoseAlgorithm.AES_CCM_64_128_128, 64, 128, 128),
  ccm(CoseAlgorithm.AES_CCM_64_128_256, 64, 128, 256),
]);
