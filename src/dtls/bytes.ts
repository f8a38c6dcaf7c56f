/**
 * Bounds-checked big-endian reader and a growable writer for the TLS presentation language
 * (RFC 5246 §4): fixed integers and opaque vectors with 1-, 2- or 3-byte length prefixes.
 * Every overrun becomes a DtlsDecodeError, never a RangeError or an out-of-bounds read.
 */
import { DtlsDecodeError } from './errors.js';

export class ByteReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new DtlsDecodeError(`${this.what}: truncated (need ${n} bytes at offset ${this.pos}, have ${this.remaining})`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = (this.buf[this.pos]! << 16) | (this.buf[this.pos + 1]! << 8) | this.buf[this.pos + 2]!;
    this.pos += 3;
    return v;
  }

  u48(): number {
    const hi = this.u16();
    const lo = this.u32();
    // Small values as 32-bit integers: V8 then keeps a stored sequence number as a small
    // integer rather than a heap number (every session stores one).
    return hi === 0 && lo <= 0x7fff_ffff ? lo | 0 : hi * 0x1_0000_0000 + lo;
  }

  u32(): number {
    this.need(4);
    const v =
      this.buf[this.pos]! * 0x100_0000 + ((this.buf[this.pos + 1]! << 16) | (this.buf[this.pos + 2]! << 8) | this.buf[this.pos + 3]!);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** An opaque vector `<min..max>` with a `lenBytes`-byte length prefix. */
  vector(lenBytes: 1 | 2 | 3, min: number, max: number, field: string): Uint8Array {
    const n = lenBytes === 1 ? this.u8() : lenBytes === 2 ? this.u16() : this.u24();
    if (n < min || n > max) throw new DtlsDecodeError(`${this.what}: ${field} length ${n} outside ${min}..${max}`);
    return this.bytes(n);
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** Requires that every byte was consumed. */
  end(): void {
    if (this.pos !== this.buf.length) throw new DtlsDecodeError(`${this.what}: ${this.remaining} trailing bytes`);
  }
}

/**
 * Spare 256-byte writer buffers. A writer lives for one synchronous encoding (construct, write,
 * finish — which copies the bytes out), and a handshake runs a dozen of them: a fresh
 * 256-byte typed array each (off V8's heap: a malloc, zeroing, and a backing store for the GC to
 * sweep) showed as ~2 % of the simulator's CPU. A finished writer gives its buffer back, zeroed.
 */
const WRITER_BUFFER = 256;
const spareWriterBuffers: Uint8Array[] = [];
const MAX_SPARE_WRITER_BUFFERS = 16;
const NO_BYTES = new Uint8Array(0);

export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = WRITER_BUFFER) {
    this.buf = initial <= WRITER_BUFFER ? (spareWriterBuffers.pop() ?? new Uint8Array(WRITER_BUFFER)) : new Uint8Array(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = Math.max(64, this.buf.length * 2);
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  get length(): number {
    return this.pos;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u48(v: number): this {
    this.u16(Math.floor(v / 0x1_0000_0000));
    const lo = v % 0x1_0000_0000;
    this.ensure(4);
    this.buf[this.pos++] = (lo >>> 24) & 0xff;
    this.buf[this.pos++] = (lo >>> 16) & 0xff;
    this.buf[this.pos++] = (lo >>> 8) & 0xff;
    this.buf[this.pos++] = lo & 0xff;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Writes an opaque vector with a `lenBytes`-byte length prefix. */
  vector(lenBytes: 1 | 2 | 3, b: Uint8Array): this {
    const max = lenBytes === 1 ? 0xff : lenBytes === 2 ? 0xffff : 0xffffff;
    if (b.length > max) throw new RangeError(`vector of ${b.length} bytes does not fit a ${lenBytes}-byte length`);
    if (lenBytes === 1) this.u8(b.length);
    else if (lenBytes === 2) this.u16(b.length);
    else this.u24(b.length);
    return this.bytes(b);
  }

  /**
   * The bytes written, copied out (into short-lived memory, see `shortLivedBytes`); the writer is
   * done after this (its buffer may be reused).
   */
  finish(): Uint8Array {
    const buf = this.buf;
    const out = shortLivedBytes(this.pos);
    out.set(buf.subarray(0, this.pos));
    if (buf.length === WRITER_BUFFER && spareWriterBuffers.length < MAX_SPARE_WRITER_BUFFERS) {
      buf.fill(0, 0, this.pos);
      spareWriterBuffers.push(buf);
    }
    this.buf = NO_BYTES;
    this.pos = 0;
    return out;
  }
}

/**
 * A zeroed array of `n` bytes for a value that lives as long as a handshake step at most (an
 * encoded message or record, a PRF seed): above 64 bytes, where V8 stops keeping typed arrays
 * on its own heap, it is a view of a shared 8 KiB slab instead of an ArrayBuffer of its own
 * (~0.3 µs to allocate, plus the GC's tracking of it; a view costs ~25 ns). Such a view keeps
 * its whole slab alive, so nothing an idle session or a cache keeps may come from here: copy
 * it out first. Never for secrets (slabs are not wiped).
 */
export function shortLivedBytes(n: number): Uint8Array {
  if (n <= 64 || n > SLAB_MAX_TAKE) return new Uint8Array(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  // 8-byte steps keep every view aligned (and the next one from sharing a word with this one).
  slabUsed += (n + 7) & ~7;
  return out;
}

const SLAB_SIZE = 8192;
const SLAB_MAX_TAKE = 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

/** The parts joined, in short-lived memory (see `shortLivedBytes`). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = shortLivedBytes(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
