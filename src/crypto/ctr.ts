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
  for (let pos = 0; pos < n; pos += batch.length) {
    const chunk = Math.min(batch.length, n - pos);
    const blocks = Math.ceil(chunk / 16);
    for (let b = 0; b < blocks; b++) {
      batch.set(counter, b * 16);
      increment(counter, incrementBits);
    }
    const ks = batch.subarray(0, blocks * 16);
    cipher.encryptBlocks(ks, ks);
    for (let i = 0; i < chunk; i++) output[pos + i] = input[pos + i]! ^ ks[i]!;
  }
}

function increment(counter: Uint8Array, bits: 32 | 128): void {
  const stop = bits === 32 ? 12 : 0;
  for (let i = 15; i >= stop; i--) {
    counter[i] = (counter[i]! + 1) & 0xff;
    if (counter[i] !== 0) return;
  }
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
