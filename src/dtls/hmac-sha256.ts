/**
 * HMAC-SHA-256 (RFC 2104, FIPS 180-4) in JavaScript, for the TLS PRF's short inputs, and a
 * running SHA-256 of the handshake transcript (`Sha256`).
 *
 * Why not node:crypto: the PRF of one DTLS handshake is ~12 HMACs of 32–110 bytes under two or
 * three keys. `createHmac` costs ~7.5 µs each on Node 20 (OpenSSL 3 builds a context and fetches
 * the digest per object), which made the PRF ~15 % of the server's CPU per registration and ~8 %
 * of the simulator's (bench/lwm2m.ts profiles). Here a key's inner and outer pad blocks are
 * compressed once (`HmacSha256Key`), and each MAC is then two or three SHA-256 compressions of
 * plain integer arithmetic (~0.3 µs each, no allocation).
 *
 * SHA-256 uses only additions, rotations and bitwise operations on 32-bit words: no branch and no
 * table index depends on the data, so this code is as constant-time as the JIT's integer code.
 * The message schedule and the scratch block, which hold key-derived data while a MAC runs, are
 * wiped by `wipeScratch()` (the PRF calls it when it is done).
 */

import { createHash, type Hash } from 'node:crypto';

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** Message schedule (secret-derived while a MAC runs). */
const W = new Int32Array(64);
/** Working state of the hash being finished. */
const S = new Int32Array(8);
/** Message bytes plus padding, grown on demand (PRF inputs are short). */
let scratch = new Uint8Array(256);

/** One SHA-256 compression of block[off .. off+64) into state. */
function compress(state: Int32Array, block: Uint8Array, off: number): void {
  const w = W;
  for (let i = 0; i < 16; i++) {
    const j = off + 4 * i;
    w[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + s1 + ch + K[i]! + w[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + ((s0 + maj) | 0)) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/**
 * Finishes a hash whose first `prefixBytes` (a multiple of 64) are already compressed into
 * `state`, over the `n` message bytes in `scratch[0..n)`: pads, compresses, leaves the result
 * in `state`.
 */
function finish(state: Int32Array, prefixBytes: number, n: number): void {
  const padded = (n + 9 + 63) & ~63;
  if (scratch.length < padded) {
    const bigger = new Uint8Array(padded * 2);
    bigger.set(scratch.subarray(0, n));
    scratch.fill(0);
    scratch = bigger;
  }
  const buf = scratch;
  buf[n] = 0x80;
  buf.fill(0, n + 1, padded - 8);
  // Message length in bits, big-endian 64-bit (inputs here are far below 2^32 bits).
  const bits = (prefixBytes + n) * 8;
  buf[padded - 8] = 0;
  buf[padded - 7] = 0;
  buf[padded - 6] = 0;
  buf[padded - 5] = Math.floor(bits / 2 ** 32) & 0xff;
  buf[padded - 4] = bits >>> 24;
  buf[padded - 3] = (bits >>> 16) & 0xff;
  buf[padded - 2] = (bits >>> 8) & 0xff;
  buf[padded - 1] = bits & 0xff;
  for (let off = 0; off < padded; off += 64) compress(state, buf, off);
}

function writeState(state: Int32Array, out: Uint8Array, off: number): void {
  for (let i = 0; i < 8; i++) {
    const v = state[i]!;
    out[off + 4 * i] = v >>> 24;
    out[off + 4 * i + 1] = (v >>> 16) & 0xff;
    out[off + 4 * i + 2] = (v >>> 8) & 0xff;
    out[off + 4 * i + 3] = v & 0xff;
  }
}

/** SHA-256 of `data` (used for HMAC keys longer than the block). */
export function sha256Js(data: Uint8Array): Uint8Array {
  const n = data.length;
  if (scratch.length < n + 72) {
    scratch.fill(0);
    scratch = new Uint8Array((n + 72) * 2);
  }
  scratch.set(data, 0);
  S.set(IV);
  finish(S, 0, n);
  const out = new Uint8Array(32);
  writeState(S, out, 0);
  return out;
}

/** An HMAC-SHA-256 key with its pad blocks compressed once. */
export class HmacSha256Key {
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);

  constructor(key: Uint8Array) {
    const k = key.length > 64 ? sha256Js(key) : key;
    const pad = new Uint8Array(64);
    for (let i = 0; i < 64; i++) pad[i] = (i < k.length ? k[i]! : 0) ^ 0x36;
    this.#inner.set(IV);
    compress(this.#inner, pad, 0);
    for (let i = 0; i < 64; i++) pad[i]! ^= 0x36 ^ 0x5c;
    this.#outer.set(IV);
    compress(this.#outer, pad, 0);
    pad.fill(0);
    if (k !== key) k.fill(0);
  }

  /**
   * HMAC(key, a ‖ b) written as 32 bytes at out[off..off+32). `out` may be `a` or `b` (the inputs
   * are copied before the output is written).
   */
  macInto(a: Uint8Array, b: Uint8Array | undefined, out: Uint8Array, off: number): void {
    const n = a.length + (b?.length ?? 0);
    if (scratch.length < n + 72) {
      scratch.fill(0);
      scratch = new Uint8Array((n + 72) * 2);
    }
    scratch.set(a, 0);
    if (b !== undefined) scratch.set(b, a.length);
    S.set(this.#inner);
    finish(S, 64, n);
    writeState(S, scratch, 0);
    S.set(this.#outer);
    finish(S, 64, 32);
    writeState(S, out, off);
  }

  /** Forgets the pad states. */
  destroy(): void {
    this.#inner.fill(0);
    this.#outer.fill(0);
  }
}

/**
 * Incremental SHA-256 whose digest() does not end it: the DTLS handshake hashes its transcript
 * up to three times as it grows (extended master secret, both Finished messages); each message
 * is hashed once, and a digest is taken from a copy of the running hash. This one is node's
 * (OpenSSL, with the CPU's SHA extensions): for a certificate handshake's ~1.7 KB transcript and
 * three digests it measured 4.2 µs CPU against 9.0 µs for the JavaScript compression above, which
 * stays for the PRF's short HMACs, where a per-call OpenSSL context is what costs. For public
 * data (the transcript): nothing to wipe.
 */
export class Sha256 {
  readonly #hash: Hash = createHash('sha256');

  update(data: Uint8Array): this {
    this.#hash.update(data);
    return this;
  }

  /** The hash of everything so far; more may be added afterwards. */
  digest(): Uint8Array {
    const d = this.#hash.copy().digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
}

/** Zeroes the shared scratch state (message schedule, working state, padded block). */
export function wipeScratch(): void {
  W.fill(0);
  S.fill(0);
  scratch.fill(0);
}
