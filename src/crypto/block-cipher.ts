/**
 * The BlockCipher interface: what every mode in this room (CTR, GCM, CCM) is written against,
 * once. LEA is implemented here; ARIA and AES come from OpenSSL through node:crypto.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertOneOf, describeType } from '../util/assert.js';
import { createLea } from './lea.js';
import { createNodeBlockCipher } from './node-block-cipher.js';

export type BlockCipherName = 'LEA' | 'ARIA' | 'AES';
export const BLOCK_CIPHER_NAMES: readonly BlockCipherName[] = ['LEA', 'ARIA', 'AES'];

/** A 128-bit block cipher keyed once. Instances hold key material: do not log them. */
export interface BlockCipher {
  readonly name: BlockCipherName;
  /** Key length in bytes (16, 24 or 32). */
  readonly keyLength: number;
  readonly blockSize: 16;
  /** Encrypts one 16-byte block into a new array. */
  encryptBlock(block: Uint8Array): Uint8Array;
  /** Decrypts one 16-byte block into a new array. */
  decryptBlock(block: Uint8Array): Uint8Array;
  /**
   * Encrypts the block at `src[srcOffset..+16]` into `dst[dstOffset..+16]` without allocating.
   * `src` and `dst` may be the same array (in place). Offsets are not re-validated: internal use.
   */
  encryptBlockInto(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void;
  decryptBlockInto(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void;
  /**
   * ECB-encrypts `input` (a whole number of blocks) into `output` of the same length; the two may
   * be the same array. The batch form lets OpenSSL-backed ciphers cross into native code once per
   * batch instead of once per block (what makes CTR over them fast).
   */
  encryptBlocks(input: Uint8Array, output: Uint8Array): void;
}

/** Creates a block cipher: `LEA` (KS X 3246 / ISO/IEC 29192-2), `ARIA` (RFC 5794) or `AES`. */
export function createBlockCipher(name: BlockCipherName, key: Uint8Array): BlockCipher {
  assertOneOf(name, 'name', BLOCK_CIPHER_NAMES);
  assertBytes(key, 'key', { len: [16, 24, 32] });
  return name === 'LEA' ? createLea(key) : createNodeBlockCipher(name, key);
}

/** Checks a single-block argument for the public encryptBlock/decryptBlock methods. */
export function assertBlock(block: unknown, name = 'block'): asserts block is Uint8Array {
  assertBytes(block, name, { len: 16 });
}

/** Asserts that `value` looks like a BlockCipher made by createBlockCipher. */
export function assertBlockCipher(value: unknown, name: string): asserts value is BlockCipher {
  const v = value as Partial<BlockCipher> | null;
  if (
    typeof v !== 'object' || v === null || v.blockSize !== 16 ||
    typeof v.encryptBlocks !== 'function' || typeof v.encryptBlockInto !== 'function'
  ) {
    throw new InvalidArgumentError(name, `expected a BlockCipher, got ${describeType(value)}`);
  }
}
