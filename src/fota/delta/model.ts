/**
 * The context model shared by the generator and the patcher. Each field of the command stream is
 * coded with binary decisions through one `BitCoder`; the encoder passes the value it knows and
 * the decoder gets it back, so both sides run literally the same modelling code and cannot drift
 * apart.
 *
 * Why these contexts (measured on compiled firmware pairs, see README):
 * - diff bytes (new - old under an approximate match) are mostly zero; whether one is zero is
 *   predicted by the old byte at that position (known to the decoder) and the last three
 *   zero/non-zero outcomes. Non-zero diffs repeat (every call into a shifted region changes by
 *   the same displacement), so "same as the last/second-last non-zero diff" is tried first.
 * - extra bytes (new code, no match in the old image) get a bit-tree per high bits of the
 *   previous output byte: a cheap order-1 hint within the memory budget.
 * Every table is a Uint16Array, so `modelBytes` is the model's whole memory.
 */
import { DeltaCorruptError } from './errors.js';
import { newProbTable, type ProbTable, type RangeDecoder, type RangeEncoder } from './range-coder.js';

/** One binary decision: the encoder codes `bit` and returns it; the decoder returns the coded bit. */
export interface BitCoder {
  bit(probs: ProbTable, i: number, bit: number, shift: number): number;
  direct(value: number, count: number): number;
}

export function encoderBitCoder(enc: RangeEncoder): BitCoder {
  return {
    bit(probs, i, bit, shift) {
      enc.encodeBit(probs, i, bit, shift);
      return bit;
    },
    direct(value, count) {
      enc.encodeDirect(value, count);
      return value;
    },
  };
}

export function decoderBitCoder(dec: RangeDecoder): BitCoder {
  return {
    bit: (probs, i, _bit, shift) => dec.decodeBit(probs, i, shift),
    direct: (_value, count) => dec.decodeDirect(count),
  };
}

/** Length kinds: each has its own statistics. */
export const LEN_ADD = 0;
export const LEN_EXTRA = 1;
export const LEN_SEEK = 2;
const LEN_KINDS = 3;
/** Largest length/offset the format carries (sizes are limited to 2^31 - 2). */
export const MAX_FIELD = 0x7ffffffe;

const SHIFT_FAST = 4;
const SHIFT_SLOW = 5;
const EXTRA_CTX_SHIFT = 5; // 256 >> 5 = 8 contexts for extra bytes
const LEN_TOP_BITS = 2;

export class DeltaModel {
  private readonly lenBits = newProbTable(LEN_KINDS * 64);
  private readonly lenTop = newProbTable(LEN_KINDS * 33 * (1 << LEN_TOP_BITS));
  private readonly seekSign = newProbTable(1);
  private readonly zeroFlag = newProbTable(8 * 256);
  private readonly sameAsLast = newProbTable(8 * 2);
  private readonly diffTree = newProbTable(2 * 256);
  private readonly extraTree = newProbTable((256 >> EXTRA_CTX_SHIFT) * 256);
  private hist = 0;
  private lastNz1 = 1;
  private lastNz2 = 0xff;
  private prevOut = 0;

  /** Bytes held by the probability tables. */
  get modelBytes(): number {
    return (
      this.lenBits.byteLength + this.lenTop.byteLength + this.seekSign.byteLength + this.zeroFlag.byteLength +
      this.sameAsLast.byteLength + this.diffTree.byteLength + this.extraTree.byteLength
    );
  }

  /** Codes a length 0..MAX_FIELD: bit count of v+1 with a 6-level tree, top bits modelled, rest direct. */
  length(c: BitCoder, kind: number, v: number): number {
    const x = v + 1;
    const nb = x >= 0x80000000 ? 32 : 32 - Math.clz32(x);
    let node = 1;
    for (let k = 5; k >= 0; k--) {
      const b = c.bit(this.lenBits, kind * 64 + node, (nb >>> k) & 1, SHIFT_FAST);
      node = (node << 1) | b;
    }
    const bits = node - 64;
    if (bits < 1 || bits > 31) throw new DeltaCorruptError(`length of ${bits} bits`);
    let value = 1;
    const below = bits - 1;
    const top = Math.min(below, LEN_TOP_BITS);
    let t = 1;
    for (let k = 0; k < top; k++) {
      const shiftBy = below - 1 - k;
      const b = c.bit(this.lenTop, ((kind * 33 + bits) << LEN_TOP_BITS) + t, Math.floor(x / 2 ** shiftBy) & 1, SHIFT_FAST);
      t = (t << 1) | b;
      value = value * 2 + b;
    }
    const rest = below - top;
    if (rest > 0) {
      const low = c.direct(x % 2 ** rest, rest);
      value = value * 2 ** rest + low;
    }
    return value - 1;
  }

  /** Codes a signed seek of the old position. */
  seek(c: BitCoder, v: number): number {
    const neg = c.bit(this.seekSign, 0, v < 0 ? 1 : 0, SHIFT_FAST);
    const mag = this.length(c, LEN_SEEK, Math.abs(v));
    return neg === 1 ? -mag : mag;
  }

  /** Codes one diff byte d = (new - old) & 0xff at a position whose old byte is `oldByte`. */
  diff(c: BitCoder, d: number, oldByte: number): number {
    const h = this.hist;
    let out: number;
    if (c.bit(this.zeroFlag, (h << 8) | oldByte, d === 0 ? 0 : 1, SHIFT_SLOW) === 0) {
      out = 0;
    } else if (c.bit(this.sameAsLast, h * 2, d === this.lastNz1 ? 1 : 0, SHIFT_FAST) === 1) {
      out = this.lastNz1;
    } else if (c.bit(this.sameAsLast, h * 2 + 1, d === this.lastNz2 ? 1 : 0, SHIFT_FAST) === 1) {
      out = this.lastNz2;
    } else {
      const base = (h & 1) << 8;
      let node = 1;
      for (let k = 7; k >= 0; k--) node = (node << 1) | c.bit(this.diffTree, base + node, (d >>> k) & 1, SHIFT_FAST);
      out = node & 0xff;
    }
    if (out !== 0) {
      if (out !== this.lastNz1) {
        this.lastNz2 = this.lastNz1;
        this.lastNz1 = out;
      }
    }
    this.hist = ((h << 1) | (out === 0 ? 0 : 1)) & 7;
    this.prevOut = (oldByte + out) & 0xff;
    return out;
  }

  /** Codes one extra byte (a new byte not predicted from the old image). */
  extra(c: BitCoder, v: number): number {
    const base = (this.prevOut >>> EXTRA_CTX_SHIFT) << 8;
    let node = 1;
    for (let k = 7; k >= 0; k--) node = (node << 1) | c.bit(this.extraTree, base + node, (v >>> k) & 1, SHIFT_FAST);
    const out = node & 0xff;
    this.prevOut = out;
    return out;
  }
}
