/**
 * GHASH (NIST SP 800-38D §6.4), table-driven: for a hash key H we precompute, for each of the 16
 * byte positions of a block and each of the 256 byte values, the product (that byte at that
 * position)·H. Multiplying the running state Y by H is then 16 table look-ups XORed together, with
 * no per-bit work and no reduction step (the reduction is folded into the tables). 64 KiB per key.
 *
 * Field elements are kept as four big-endian 32-bit words: word 0 holds bytes 0..3, and bit 0 of
 * the element (the coefficient of x^0) is the most significant bit of byte 0, as the spec has it.
 */

/** Builds the 16×256 product table for hash key `h` (16 bytes). */
export function ghashTable(h: Uint8Array): Int32Array {
  // p[k] = H·x^k for k = 0..127: multiplying by x is a one-bit right shift of the bit string,
  // reduced by R = 11100001 || 0^120 when a bit falls off the end (SP 800-38D Algorithm 1).
  const p = new Int32Array(128 * 4);
  let v0 = (h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!;
  let v1 = (h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!;
  let v2 = (h[8]! << 24) | (h[9]! << 16) | (h[10]! << 8) | h[11]!;
  let v3 = (h[12]! << 24) | (h[13]! << 16) | (h[14]! << 8) | h[15]!;
  for (let k = 0; k < 128; k++) {
    p[4 * k] = v0;
    p[4 * k + 1] = v1;
    p[4 * k + 2] = v2;
    p[4 * k + 3] = v3;
    const carry = v3 & 1;
    v3 = (v3 >>> 1) | (v2 << 31);
    v2 = (v2 >>> 1) | (v1 << 31);
    v1 = (v1 >>> 1) | (v0 << 31);
    v0 = (v0 >>> 1) ^ (carry ? 0xe1000000 : 0);
  }
  const t = new Int32Array(16 * 256 * 4);
  for (let i = 0; i < 16; i++) {
    for (let b = 1; b < 256; b++) {
      const low = b & -b; // lowest set bit of the byte value
      const j = 7 - (31 - Math.clz32(low)); // its bit index counted from the MSB
      const src = ((i << 8) | (b ^ low)) << 2;
      const dst = ((i << 8) | b) << 2;
      const pk = (8 * i + j) << 2;
      t[dst] = t[src]! ^ p[pk]!;
      t[dst + 1] = t[src + 1]! ^ p[pk + 1]!;
      t[dst + 2] = t[src + 2]! ^ p[pk + 2]!;
      t[dst + 3] = t[src + 3]! ^ p[pk + 3]!;
    }
  }
  return t;
}

/**
 * Absorbs `len` bytes of `data` from `off` into the GHASH state `s` (four words), zero-padding a
 * final partial block (GCM pads A and C separately to whole blocks, so callers feed each in one call).
 */
export function ghashUpdate(t: Int32Array, s: Int32Array, data: Uint8Array, off: number, len: number): void {
  let y0 = s[0]!;
  let y1 = s[1]!;
  let y2 = s[2]!;
  let y3 = s[3]!;
  const end = off + len;
  for (let q = off; q < end; q += 16) {
    if (end - q >= 16) {
      y0 ^= (data[q]! << 24) | (data[q + 1]! << 16) | (data[q + 2]! << 8) | data[q + 3]!;
      y1 ^= (data[q + 4]! << 24) | (data[q + 5]! << 16) | (data[q + 6]! << 8) | data[q + 7]!;
      y2 ^= (data[q + 8]! << 24) | (data[q + 9]! << 16) | (data[q + 10]! << 8) | data[q + 11]!;
      y3 ^= (data[q + 12]! << 24) | (data[q + 13]! << 16) | (data[q + 14]! << 8) | data[q + 15]!;
    } else {
      const last = new Uint8Array(16);
      last.set(data.subarray(q, end));
      y0 ^= (last[0]! << 24) | (last[1]! << 16) | (last[2]! << 8) | last[3]!;
      y1 ^= (last[4]! << 24) | (last[5]! << 16) | (last[6]! << 8) | last[7]!;
      y2 ^= (last[8]! << 24) | (last[9]! << 16) | (last[10]! << 8) | last[11]!;
      y3 ^= (last[12]! << 24) | (last[13]! << 16) | (last[14]! << 8) | last[15]!;
    }
    let i: number;
    i = (y0 >>> 24) << 2;
    let z0 = t[i]!, z1 = t[i + 1]!, z2 = t[i + 2]!, z3 = t[i + 3]!;
    i = (256 | ((y0 >>> 16) & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (512 | ((y0 >>> 8) & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (768 | (y0 & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (1024 | (y1 >>> 24)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (1280 | ((y1 >>> 16) & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (1536 | ((y1 >>> 8) & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (1792 | (y1 & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (2048 | (y2 >>> 24)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (2304 | ((y2 >>> 16) & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (2560 | ((y2 >>> 8) & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (2816 | (y2 & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (3072 | (y3 >>> 24)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (3328 | ((y3 >>> 16) & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (3584 | ((y3 >>> 8) & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (3840 | (y3 & 255)) << 2; z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    y0 = z0; y1 = z1; y2 = z2; y3 = z3;
  }
  s[0] = y0;
  s[1] = y1;
  s[2] = y2;
  s[3] = y3;
}

/** Writes the GHASH state as 16 bytes. */
export function ghashDigest(s: Int32Array, out: Uint8Array, off = 0): void {
  for (let w = 0; w < 4; w++) {
    const v = s[w]!;
    out[off + 4 * w] = v >>> 24;
    out[off + 4 * w + 1] = v >>> 16;
    out[off + 4 * w + 2] = v >>> 8;
    out[off + 4 * w + 3] = v;
  }
}
