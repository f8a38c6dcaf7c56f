/**
 * AES and ARIA as BlockCiphers, backed by OpenSSL through node:crypto in ECB mode without padding.
 * One long-lived Cipher/Decipher object per direction: ECB keeps no state between blocks and with
 * padding off OpenSSL returns every complete block from update() at once, so the objects can be
 * fed block batches indefinitely.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { assertBlock, type BlockCipher } from './block-cipher.js';

export function createNodeBlockCipher(name: 'AES' | 'ARIA', key: Uint8Array): BlockCipher {
  const algo = `${name.toLowerCase()}-${key.length * 8}-ecb`;
  const enc = createCipheriv(algo, key, null).setAutoPadding(false);
  let dec: ReturnType<typeof createDecipheriv> | undefined;
  const decipher = () => (dec ??= createDecipheriv(algo, key, null).setAutoPadding(false));
  return {
    name,
    keyLength: key.length,
    blockSize: 16,
    encryptBlock(block) {
      assertBlock(block);
      return new Uint8Array(enc.update(block));
    },
    decryptBlock(block) {
      assertBlock(block);
      return new Uint8Array(decipher().update(block));
    },
    encryptBlockInto(src, so, dst, dOff) {
      dst.set(enc.update(src.subarray(so, so + 16)), dOff);
    },
    decryptBlockInto(src, so, dst, dOff) {
      dst.set(decipher().update(src.subarray(so, so + 16)), dOff);
    },
    encryptBlocks(input, output) {
      if (input.length === 0) return;
      output.set(enc.update(input), 0);
    },
  };
}
