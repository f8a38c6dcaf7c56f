/**
 * A binary adaptive range coder (the LZMA design: 32-bit range, carry propagation through a
 * cached byte, 12-bit probabilities). Chosen over node:zlib because the decoder's whole state is
 * the few numbers below plus the caller's probability tables, so the device-side memory is known
 * exactly and tiny, and because binary context models let the delta use what the decoder already
 * knows (the old image's bytes) as context, which a general-purpose compressor cannot.
 */
import { DeltaCorruptError } from './errors.js';

export const PROB_BITS = 12;
const PROB_ONE = 1 << PROB_BITS;
const TOP = 0x1000000;

/**
 * Each entry packs a 12-bit probability of a 0 bit (high bits) and a 4-bit count of updates
 * (low bits). A fresh context adapts with rate 1/(n + 1.5), so rarely seen contexts learn in a
 * few steps instead of paying for a slow fixed-rate start; once the rate reaches 2^-shift it stays
 * there. The probability never leaves 1..4095, so no decision can cost more than 12 bits.
 */
export type ProbTable = Uint16Array;
const INIT = (PROB_ONE >>> 1) << 4;
const RATE = Uint16Array.from({ length: 16 }, (_, n) => Math.floor(65536 / (n + 1.5)));

export function newProbTable(size: number): ProbTable {
  return new Uint16Array(size).fill(INIT);
}

/** Updates an entry as if `bit` had been coded with it (for tables that only watch). */
export function updateProb(probs: ProbTable, i: number, bit: number, shift: number): void {
  update(probs, i, probs[i]!, bit, shift);
}

/** Number of updates an entry has seen, saturating at 15. */
export function probCount(probs: ProbTable, i: number): number {
  return probs[i]! & 15;
}

function update(probs: ProbTable, i: number, v: number, bit: number, shift: number): void {
  let p = v >>> 4;
  const n = v & 15;
  const floor = 65536 >>> shift;
  const rate = RATE[n]! > floor ? RATE[n]! : floor;
  if (bit === 0) p += ((PROB_ONE - p) * rate) >>> 16;
  else p -= (p * rate) >>> 16;
  probs[i] = (p << 4) | (n < 15 ? n + 1 : 15);
}

export class RangeEncoder {
  private low = 0; // up to 2^33: kept in a double, carry in bit 32
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private out: Uint8Array;
  private len = 0;

  constructor(initialCapacity = 1 << 16) {
    this.out = new Uint8Array(Math.max(16, initialCapacity));
  }

  encodeBit(probs: ProbTable, i: number, bit: number, shift: number): void {
    const v = probs[i]!;
    const bound = (this.range >>> PROB_BITS) * (v >>> 4);
    if (bit === 0) {
      this.range = bound;
    } else {
      this.low += bound;
      this.range -= bound;
    }
    update(probs, i, v, bit, shift);
    while (this.range < TOP) {
      this.range = (this.range << 8) >>> 0;
      this.shiftLow();
    }
  }

  /** `count` bits of `value` (high first) with probability one half: for bits no model predicts. */
  encodeDirect(value: number, count: number): void {
    for (let k = count - 1; k >= 0; k--) {
      this.range = this.range >>> 1;
      if (((value >>> k) & 1) !== 0) this.low += this.range;
      while (this.range < TOP) {
        this.range = (this.range << 8) >>> 0;
        this.shiftLow();
      }
    }
  }

  /** Flushes the coder and returns the coded bytes. The encoder must not be used afterwards. */
  finish(): Uint8Array {
    for (let k = 0; k < 5; k++) this.shiftLow();
    return this.out.subarray(0, this.len);
  }

  get length(): number {
    return this.len + this.cacheSize;
  }

  private shiftLow(): void {
    if (this.low < 0xff000000 || this.low >= 0x100000000) {
      const carry = this.low >= 0x100000000 ? 1 : 0;
      let temp = this.cache;
      do {
        this.put((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = (this.low >>> 24) & 0xff;
    }
    this.cacheSize++;
    this.low = (this.low & 0x00ffffff) * 256;
  }

  private put(b: number): void {
    if (this.len === this.out.length) {
      const next = new Uint8Array(this.out.length * 2);
      next.set(this.out);
      this.out = next;
    }
    this.out[this.len++] = b;
  }
}

/**
 * The decoder reads from a small buffer that its owner refills (`append`). The owner guarantees
 * enough bytes for the next token (or marks the input final); reading past the end of final input
 * yields zeros and counts `overrun`, which the owner reports as a truncated patch.
 */
export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private initBytes = 5;
  readonly buf: Uint8Array;
  private pos = 0;
  private end = 0;
  /** Bytes read beyond the end of final input. */
  overrun = 0;
  /** Total bytes consumed from the input. */
  consumed = 0;

  constructor(bufferSize: number) {
    this.buf = new Uint8Array(bufferSize);
  }

  /** Bytes buffered and not yet consumed. */
  get available(): number {
    return this.end - this.pos;
  }

  /** Room for more input (after compacting). */
  get space(): number {
    return this.buf.length - (this.end - this.pos);
  }

  /** Copies up to `space` bytes from `src[offset..]`; returns how many were taken. */
  append(src: Uint8Array, offset: number): number {
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
      this.end -= this.pos;
      this.pos = 0;
    }
    const n = Math.min(this.buf.length - this.end, src.length - offset);
    this.buf.set(src.subarray(offset, offset + n), this.end);
    this.end += n;
    return n;
  }

  /** Reads the 5 initial bytes (the first is always 0 from the encoder's cache). */
  get started(): boolean {
    return this.initBytes === 0;
  }

  start(): void {
    // the encoder's first byte is its empty cache: always 0, and otherwise silently ignored
    if (this.initBytes === 5 && this.next() !== 0) throw new DeltaCorruptError('coded stream does not start with 0');
    if (this.initBytes === 5) this.initBytes = 4;
    while (this.initBytes > 0) {
      this.code = ((this.code << 8) | this.next()) >>> 0;
      this.initBytes--;
    }
  }

  /**
   * After the last symbol of a stream the encoder flushed, `code` is exactly 0 (as in the LZMA
   * SDK's RangeDec_IsFinishedOK): this catches damage in the flush bytes, which no symbol reads.
   */
  get finishedCleanly(): boolean {
    return this.code === 0;
  }

  decodeBit(probs: ProbTable, i: number, shift: number): number {
    const v = probs[i]!;
    const bound = (this.range >>> PROB_BITS) * (v >>> 4);
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      bit = 1;
    }
    update(probs, i, v, bit, shift);
    while (this.range < TOP) {
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.next()) >>> 0;
    }
    return bit;
  }

  decodeDirect(count: number): number {
    let v = 0;
    for (let k = 0; k < count; k++) {
      this.range = this.range >>> 1;
      let bit = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        bit = 1;
      }
      v = v * 2 + bit;
      while (this.range < TOP) {
        this.range = (this.range << 8) >>> 0;
        this.code = ((this.code << 8) | this.next()) >>> 0;
      }
    }
    return v;
  }

  private next(): number {
    if (this.pos < this.end) {
      this.consumed++;
      return this.buf[this.pos++]!;
    }
    this.overrun++;
    return 0;
  }
}
