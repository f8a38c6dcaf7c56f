/**
 * Counter mode over any BlockCipher (NIST SP 800-38A §6.5), the keystream half of GCM and CCM and
 * a public mode of its own. Keystream is produced in batches of up to 256 blocks so that
 * OpenSSL-backed ciphers cross into native code once per 4 KiB.
 */
import { assertBytes } from '../util/assert.js';
import { assertBlockCipher, type BlockCipher } from './block-cipher.js';

const BATCH_BLOCKS = 256;

/**
 * XORs the keystream E(K, ctr), E(K, ctr+1), … into `input`, writing `output` (same length; may be
 * the same array). `counter` (16 bytes) is advanced in place past the last block used.
 * `incrementBits` 128 counts over the whole block (SP 800-38A's standard incrementing function, as
 * OpenSSL's *-ctr ciphers do); 32 counts over the last four bytes only, GCM's inc32 (SP 800-38D §6.2).
 */
export function ctrXorInto(cipher: BlockCipher, counter: Uint8Array, input: Uint8Array, output: Uint8Array, incrementBits: 32 | 128): void {
  const n = input.length;
  if (n === 0) return;
  const batch = new Uint8Array(Math.min(BATCH_BLOCKS, Math.ceil(n / 16)) * 16);
  const bv = new DataView(batch.buffer);
  const cv = new DataView(counter.buffer, counter.byteOffset, 16);
  // The counter as four big-endian words; only the low word changes on all but 1 in 2^32 blocks.
  let c0 = cv.getUint32(0);
  let c1 = cv.getUint32(4);
  let c2 = cv.getUint32(8);
  let c3 = cv.getUint32(12);
  const wordAligned = (input.byteOffset & 3) === 0 && (output.byteOffset & 3) === 0;
  for (let pos = 0; pos < n; pos += batch.length) {
    const chunk = Math.min(batch.length, n - pos);
    const blocks = (chunk + 15) >>> 4;
    for (let o = 0; o < blocks * 16; o += 16) {
      bv.setUint32(o, c0);
      bv.setUint32(o + 4, c1);
      bv.setUint32(o + 8, c2);
      bv.setUint32(o + 12, c3);
      c3 = (c3 + 1) >>> 0;
      if (c3 === 0 && incrementBits === 128) {
        c2 = (c2 + 1) >>> 0;
        if (c2 === 0) {
          c1 = (c1 + 1) >>> 0;
          if (c1 === 0) c0 = (c0 + 1) >>> 0;
        }
      }
    }
    const ks = batch.subarray(0, blocks * 16);
    cipher.encryptBlocks(ks, ks);
    let i = 0;
    if (wordAligned) {
      // XOR is byte-wise, so 32-bit views give the same result on any host byte order.
      const words = chunk >>> 2;
      const in32 = new Int32Array(input.buffer, input.byteOffset + pos, words);
      const out32 = new Int32Array(output.buffer, output.byteOffset + pos, words);
      const ks32 = new Int32Array(batch.buffer, 0, words);
      for (let w = 0; w < words; w++) out32[w] = in32[w]! ^ ks32[w]!;
      i = words << 2;
    }
    for (; i < chunk; i++) output[pos + i] = input[pos + i]! ^ batch[i]!;
  }
  cv.setUint32(0, c0);
  cv.setUint32(4, c1);
  cv.setUint32(8, c2);
  cv.setUint32(12, c3);
}

/**
 * CTR-mode encryption or decryption (the same operation) of `data` under `cipher`, starting from
 * the 16-byte `initialCounter` and incrementing the whole block as a big-endian integer.
 * Never reuse a counter value under one key: CTR has no integrity and a reused counter leaks the
 * XOR of the plaintexts. Prefer createAead unless a protocol prescribes raw CTR.
 */
export function ctrCrypt(cipher: BlockCipher, initialCounter: Uint8Array, data: Uint8Array): Uint8Array {
  assertBytes(initialCounter, 'initialCounter', { len: 16 });
  assertBytes(data, 'data');
  assertBlockCipher(cipher, 'cipher');
  const out = new Uint8Array(data.length);
  ctrXorInto(cipher, Uint8Array.from(initialCounter), data, out, 128);
  return out;
}
