/**
 * LEA, the Korean 128-bit ARX block cipher (TTA/KS X 3246, ISO/IEC 29192-2:2019), written here
 * because OpenSSL does not ship it. 128/192/256-bit keys, 24/28/32 rounds.
 *
 * Speed notes: round keys are expanded once into an Int32Array; a block is four 32-bit words held
 * in locals; four rounds are unrolled so the word rotation of the round function becomes a
 * renaming of variables instead of moves; nothing is allocated per block.
 *
 * Byte order: the specification reads a 16-byte block as four little-endian 32-bit words
 * (P = P[0]||P[1]||P[2]||P[3], P[0] from bytes 0..3), and the key the same way.
 */
import { assertBlock, type BlockCipher } from './block-cipher.js';

/** Key-schedule constants δ[0..7] (the spec's table; derived from √766965, "LEA" in ASCII). */
const DELTA = [0xc3efe9db, 0x44626b02, 0x79e27c8a, 0x78df30ec, 0x715ea49e, 0xc785da0a, 0xe04ef22a, 0xe5c40957];

const rol = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

function readWordLE(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/** Expands the key into rounds × 6 round-key words (RK_i[0..5]). */
export function leaKeySchedule(key: Uint8Array): Int32Array {
  const nk = key.length / 4;
  const rounds = nk === 4 ? 24 : nk === 6 ? 28 : 32;
  const t = new Int32Array(nk);
  for (let i = 0; i < nk; i++) t[i] = readWordLE(key, 4 * i);
  const rk = new Int32Array(rounds * 6);
  // ROL by i+k where i+k may exceed 31: rotation amounts are taken mod 32.
  const rolm = (x: number, r: number): number => {
    const s = r & 31;
    return s === 0 ? x | 0 : rol(x, s);
  };
  for (let i = 0; i < rounds; i++) {
    const o = 6 * i;
    if (nk === 4) {
      const d = DELTA[i % 4]!;
      t[0] = rol((t[0]! + rolm(d, i)) | 0, 1);
      t[1] = rol((t[1]! + rolm(d, i + 1)) | 0, 3);
      t[2] = rol((t[2]! + rolm(d, i + 2)) | 0, 6);
      t[3] = rol((t[3]! + rolm(d, i + 3)) | 0, 11);
      // RK_i = (T0, T1, T2, T1, T3, T1)
      rk[o] = t[0]!;
      rk[o + 1] = t[1]!;
      rk[o + 2] = t[2]!;
      rk[o + 3] = t[1]!;
      rk[o + 4] = t[3]!;
      rk[o + 5] = t[1]!;
    } else if (nk === 6) {
      const d = DELTA[i % 6]!;
      t[0] = rol((t[0]! + rolm(d, i)) | 0, 1);
      t[1] = rol((t[1]! + rolm(d, i + 1)) | 0, 3);
      t[2] = rol((t[2]! + rolm(d, i + 2)) | 0, 6);
      t[3] = rol((t[3]! + rolm(d, i + 3)) | 0, 11);
      t[4] = rol((t[4]! + rolm(d, i + 4)) | 0, 13);
      t[5] = rol((t[5]! + rolm(d, i + 5)) | 0, 17);
      for (let j = 0; j < 6; j++) rk[o + j] = t[j]!;
    } else {
      const d = DELTA[i % 8]!;
      const shifts = [1, 3, 6, 11, 13, 17];
      for (let j = 0; j < 6; j++) {
        const idx = (6 * i + j) % 8;
        t[idx] = rol((t[idx]! + rolm(d, i + j)) | 0, shifts[j]!);
        rk[o + j] = t[idx]!;
      }
    }
  }
  return rk;
}

/**
 * Encrypts one block. Round function (spec §2.3):
 *   X0' = ROL9((X0⊕RK0) ⊞ (X1⊕RK1)), X1' = ROR5((X1⊕RK2) ⊞ (X2⊕RK3)),
 *   X2' = ROR3((X2⊕RK4) ⊞ (X3⊕RK5)), X3' = X0.
 * Written as "D ← ROR3, C ← ROR5, B ← ROL9" into the variables of the old D, C, B, after which the
 * state is (B, C, D, A): four rounds bring the names back to (x0, x1, x2, x3).
 */
function encryptWords(rk: Int32Array, src: Uint8Array, so: number, dst: Uint8Array, dOff: number): void {
  encryptCore(rk, readWordLE(src, so), readWordLE(src, so + 4), readWordLE(src, so + 8), readWordLE(src, so + 12), STATE, 0);
  writeWords(dst, dOff, STATE[0]!, STATE[1]!, STATE[2]!, STATE[3]!);
}

/** Little-endian host: a 4-byte-aligned block can be read and written as LEA's words directly. */
const HOST_LE = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const STATE = new Int32Array(4);

function encryptCore(rk: Int32Array, x0: number, x1: number, x2: number, x3: number, out: Int32Array, oo: number): void {
  const n = rk.length;
  let t: number;
  for (let k = 0; k < n; k += 24) {
    t = ((x2 ^ rk[k + 4]!) + (x3 ^ rk[k + 5]!)) | 0; x3 = (t >>> 3) | (t << 29);
    t = ((x1 ^ rk[k + 2]!) + (x2 ^ rk[k + 3]!)) | 0; x2 = (t >>> 5) | (t << 27);
    t = ((x0 ^ rk[k]!) + (x1 ^ rk[k + 1]!)) | 0; x1 = (t << 9) | (t >>> 23);
    // state (x1, x2, x3, x0)
    t = ((x3 ^ rk[k + 10]!) + (x0 ^ rk[k + 11]!)) | 0; x0 = (t >>> 3) | (t << 29);
    t = ((x2 ^ rk[k + 8]!) + (x3 ^ rk[k + 9]!)) | 0; x3 = (t >>> 5) | (t << 27);
    t = ((x1 ^ rk[k + 6]!) + (x2 ^ rk[k + 7]!)) | 0; x2 = (t << 9) | (t >>> 23);
    // state (x2, x3, x0, x1)
    t = ((x0 ^ rk[k + 16]!) + (x1 ^ rk[k + 17]!)) | 0; x1 = (t >>> 3) | (t << 29);
    t = ((x3 ^ rk[k + 14]!) + (x0 ^ rk[k + 15]!)) | 0; x0 = (t >>> 5) | (t << 27);
    t = ((x2 ^ rk[k + 12]!) + (x3 ^ rk[k + 13]!)) | 0; x3 = (t << 9) | (t >>> 23);
    // state (x3, x0, x1, x2)
    t = ((x1 ^ rk[k + 22]!) + (x2 ^ rk[k + 23]!)) | 0; x2 = (t >>> 3) | (t << 29);
    t = ((x0 ^ rk[k + 20]!) + (x1 ^ rk[k + 21]!)) | 0; x1 = (t >>> 5) | (t << 27);
    t = ((x3 ^ rk[k + 18]!) + (x0 ^ rk[k + 19]!)) | 0; x0 = (t << 9) | (t >>> 23);
    // state (x0, x1, x2, x3)
  }
  out[oo] = x0;
  out[oo + 1] = x1;
  out[oo + 2] = x2;
  out[oo + 3] = x3;
}

/**
 * Decrypts one block: the rounds in reverse, each inverted (spec §2.4):
 *   X0 = X3', X1 = (ROR9(X0') ⊟ (X0⊕RK0)) ⊕ RK1, X2 = (ROL5(X1') ⊟ (X1⊕RK2)) ⊕ RK3,
 *   X3 = (ROL3(X2') ⊟ (X2⊕RK4)) ⊕ RK5.
 */
function decryptWords(rk: Int32Array, src: Uint8Array, so: number, dst: Uint8Array, dOff: number): void {
  let x0 = readWordLE(src, so);
  let x1 = readWordLE(src, so + 4);
  let x2 = readWordLE(src, so + 8);
  let x3 = readWordLE(src, so + 12);
  for (let k = rk.length - 24; k >= 0; k -= 24) {
    // round k/6+3 : state (x0, x1, x2, x3) → (x3, x0, x1, x2)
    x0 = ((((x0 >>> 9) | (x0 << 23)) - (x3 ^ rk[k + 18]!)) ^ rk[k + 19]!) | 0;
    x1 = ((((x1 << 5) | (x1 >>> 27)) - (x0 ^ rk[k + 20]!)) ^ rk[k + 21]!) | 0;
    x2 = ((((x2 << 3) | (x2 >>> 29)) - (x1 ^ rk[k + 22]!)) ^ rk[k + 23]!) | 0;
    // round k/6+2 : state (x3, x0, x1, x2) → (x2, x3, x0, x1)
    x3 = ((((x3 >>> 9) | (x3 << 23)) - (x2 ^ rk[k + 12]!)) ^ rk[k + 13]!) | 0;
    x0 = ((((x0 << 5) | (x0 >>> 27)) - (x3 ^ rk[k + 14]!)) ^ rk[k + 15]!) | 0;
    x1 = ((((x1 << 3) | (x1 >>> 29)) - (x0 ^ rk[k + 16]!)) ^ rk[k + 17]!) | 0;
    // round k/6+1 : state (x2, x3, x0, x1) → (x1, x2, x3, x0)
    x2 = ((((x2 >>> 9) | (x2 << 23)) - (x1 ^ rk[k + 6]!)) ^ rk[k + 7]!) | 0;
    x3 = ((((x3 << 5) | (x3 >>> 27)) - (x2 ^ rk[k + 8]!)) ^ rk[k + 9]!) | 0;
    x0 = ((((x0 << 3) | (x0 >>> 29)) - (x3 ^ rk[k + 10]!)) ^ rk[k + 11]!) | 0;
    // round k/6 : state (x1, x2, x3, x0) → (x0, x1, x2, x3)
    x1 = ((((x1 >>> 9) | (x1 << 23)) - (x0 ^ rk[k]!)) ^ rk[k + 1]!) | 0;
    x2 = ((((x2 << 5) | (x2 >>> 27)) - (x1 ^ rk[k + 2]!)) ^ rk[k + 3]!) | 0;
    x3 = ((((x3 << 3) | (x3 >>> 29)) - (x2 ^ rk[k + 4]!)) ^ rk[k + 5]!) | 0;
  }
  writeWords(dst, dOff, x0, x1, x2, x3);
}

function writeWords(d: Uint8Array, o: number, x0: number, x1: number, x2: number, x3: number): void {
  d[o] = x0; d[o + 1] = x0 >>> 8; d[o + 2] = x0 >>> 16; d[o + 3] = x0 >>> 24;
  d[o + 4] = x1; d[o + 5] = x1 >>> 8; d[o + 6] = x1 >>> 16; d[o + 7] = x1 >>> 24;
  d[o + 8] = x2; d[o + 9] = x2 >>> 8; d[o + 10] = x2 >>> 16; d[o + 11] = x2 >>> 24;
  d[o + 12] = x3; d[o + 13] = x3 >>> 8; d[o + 14] = x3 >>> 16; d[o + 15] = x3 >>> 24;
}

/** A LEA BlockCipher; the key length (16/24/32) was checked by createBlockCipher. */
export function createLea(key: Uint8Array): BlockCipher {
  const rk = leaKeySchedule(key);
  return {
    name: 'LEA',
    keyLength: key.length,
    blockSize: 16,
    encryptBlock(block) {
      assertBlock(block);
      const out = new Uint8Array(16);
      encryptWords(rk, block, 0, out, 0);
      return out;
    },
    decryptBlock(block) {
      assertBlock(block);
      const out = new Uint8Array(16);
      decryptWords(rk, block, 0, out, 0);
      return out;
    },
    encryptBlockInto(src, so, dst, dOff) {
      encryptWords(rk, src, so, dst, dOff);
    },
    decryptBlockInto(src, so, dst, dOff) {
      decryptWords(rk, src, so, dst, dOff);
    },
    encryptBlocks(input, output) {
      const n = input.length & ~15;
      if (HOST_LE && (input.byteOffset & 3) === 0 && (output.byteOffset & 3) === 0) {
        const i32 = new Int32Array(input.buffer, input.byteOffset, n >> 2);
        const o32 = new Int32Array(output.buffer, output.byteOffset, n >> 2);
        for (let w = 0; w < i32.length; w += 4) encryptCore(rk, i32[w]!, i32[w + 1]!, i32[w + 2]!, i32[w + 3]!, o32, w);
        return;
      }
      for (let o = 0; o < n; o += 16) encryptWords(rk, input, o, output, o);
    },
  };
}
