/**
 * The context model shared by the generator and the patcher. Each field of the command stream is
 * coded with binary decisions through one `BitCoder`; the encoder passes the value it knows and
 * the decoder gets it back, so both sides run literally the same modelling code and cannot drift
 * apart.
 *
 * Why these contexts (measured on compiled firmware pairs, see README):
 * - diff bytes (new - old under an approximate match) are mostly zero. They are non-zero where
 *   the old bytes hold an address into a region that moved, and then they equal that region's
 *   displacement. The decoder knows the old bytes, so the model reads the old word at each
 *   position as a possible address, hashes its region, and learns per region whether bytes
 *   change (see `region`). When a low byte changed, the region's last whole-word change
 *   (new word - old word, remembered per region) predicts the address's next three bytes,
 *   carries included; misses fall back to the carry of the previous byte's change.
 * - extra bytes (new code, no match in the old image) get a bit-tree per high bits of the
 *   previous output byte: a cheap order-1 hint within the memory budget.
 * `modelBytes` adds up every table: the model's whole memory.
 */
import { DeltaCorruptError } from './errors.js';
import { newProbTable, probCount, updateProb, type ProbTable, type RangeDecoder, type RangeEncoder } from './range-coder.js';

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
const EXTRA_CTX_SHIFT = 6; // 256 >> 6 = 4 contexts for extra bytes
const LEN_TOP_BITS = 2;
const ZERO_HASH_BITS = 11;
const VALUE_HASH_BITS = 10;
/** Address granularity (log2 bytes) of the regions that predict "changes" and "by how much". */
const ZERO_REGION_SHIFT = 15;
const VALUE_REGION_SHIFT = 13;
const X86_CALL = 0xe8;
/** Offset of call-target region keys: above every address key (shift ≥ 13 leaves ≤ 2^19 keys). */
const CALL_KEYS = 0x40000000;
const MIN_REGION_COUNT = 4;

function hash(x: number, bits: number): number {
  return Math.imul(x, 0x9e3779b1) >>> (32 - bits);
}

/**
 * The region an old byte would point into if it starts a 32-bit little-endian address: for an
 * x86 `call rel32` (opcode E8 before it) the absolute target computed from its old position,
 * otherwise the word itself. Every reference into a region that moved changes by that region's
 * displacement, so the region predicts both whether the byte changes and its diff. Returned as
 * an unhashed key (call targets in their own key range) so that neighbours can be looked up.
 */
function regionKey(pos: number, prevByte: number, word: number, shift: number): number {
  if (prevByte === X86_CALL) return (((pos + 4 + (word | 0)) >>> 0) >>> shift) + CALL_KEYS;
  return word >>> shift;
}
export class DeltaModel {
  private readonly lenBits = newProbTable(LEN_KINDS * 64);
  private readonly lenTop = newProbTable(LEN_KINDS * 33 * (1 << LEN_TOP_BITS));
  private readonly seekSign = newProbTable(1);
  private readonly zeroRegion = newProbTable(1 << ZERO_HASH_BITS);
  private readonly zeroFollow = newProbTable(16);
  private readonly zeroFallback = newProbTable(8);
  private readonly valueHit = newProbTable(1 << VALUE_HASH_BITS);
  /** Per region: the last whole-word change of an address into it (new word - old word). */
  private readonly regionDelta = new Int32Array(1 << VALUE_HASH_BITS);
  private readonly addrHit = newProbTable(16);
  private readonly neighbourHit = newProbTable(1);
  private readonly errorTree = newProbTable(256);
  private readonly sameAsLast = newProbTable(2);
  private readonly diffTree = newProbTable(256);
  private readonly extraTree = newProbTable((256 >> EXTRA_CTX_SHIFT) * 256);
  private hist = 0;
  private prevD = 0;
  // the address whose low byte changed last: position, bytes done, old word, its region,
  // the predicted new word, the new bytes so far, and whether all bytes so far were as predicted
  private addrPos = 0;
  private addrLen = 0;
  private addrOld = 0;
  private addrRegion = 0;
  private addrPredicted = 0;
  private addrNew = 0;
  private addrHits = 0;
  private lastNz = 1;
  private prevOut = 0;

  /** Bytes held by the model's tables. */
  get modelBytes(): number {
    return (
      this.lenBits.byteLength + this.lenTop.byteLength + this.seekSign.byteLength + this.zeroRegion.byteLength +
      this.zeroFollow.byteLength + this.zeroFallback.byteLength + this.valueHit.byteLength + this.regionDelta.byteLength + this.addrHit.byteLength + this.neighbourHit.byteLength + this.errorTree.byteLength + this.sameAsLast.byteLength +
      this.diffTree.byteLength + this.extraTree.byteLength
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

  /**
   * Codes one diff byte d = (new - old) & 0xff at old position `pos`. `prevByte` is old[pos - 1]
   * and `word` the little-endian 32-bit word old[pos..pos+3] (bytes past either end read as 0).
   */
  diff(c: BitCoder, d: number, pos: number, prevByte: number, word: number): number {
    const oldByte = word & 0xff;
    let out: number;
    if (this.addrLen > 0 && pos === this.addrPos + this.addrLen) {
      out = this.addressByte(c, d, oldByte, prevByte);
    } else {
      this.addrLen = 0;
      out = this.regionByte(c, d, pos, prevByte, word);
    }
    this.hist = ((this.hist << 1) | (out === 0 ? 0 : 1)) & 7;
    this.prevD = out;
    this.prevOut = (oldByte + out) & 0xff;
    return out;
  }

  /** A byte not inside an address being changed: predicted by the region its old word points at. */
  private regionByte(c: BitCoder, d: number, pos: number, prevByte: number, word: number): number {
    const follows = this.prevD !== 0;
    let zeroProbs: ProbTable;
    let zeroCtx: number;
    let valueCtx = 0;
    let valueKey = 0;
    if (follows) {
      zeroProbs = this.zeroFollow;
      zeroCtx = this.followContext(prevByte);
    } else {
      zeroProbs = this.zeroRegion;
      zeroCtx = hash(regionKey(pos, prevByte, word, ZERO_REGION_SHIFT), ZERO_HASH_BITS);
      valueKey = regionKey(pos, prevByte, word, VALUE_REGION_SHIFT);
      valueCtx = hash(valueKey, VALUE_HASH_BITS);
    }
    let changed: number;
    if (!follows && probCount(zeroProbs, zeroCtx) < MIN_REGION_COUNT) {
      // a region seen too rarely to trust: code with the history-only table, let the region learn
      changed = c.bit(this.zeroFallback, this.hist, d === 0 ? 0 : 1, SHIFT_SLOW);
      updateProb(zeroProbs, zeroCtx, changed, SHIFT_SLOW);
    } else {
      changed = c.bit(zeroProbs, zeroCtx, d === 0 ? 0 : 1, SHIFT_SLOW);
      if (!follows) updateProb(this.zeroFallback, this.hist, changed, SHIFT_SLOW);
    }
    if (changed === 0) return 0;
    let delta = follows ? 0 : this.regionDelta[valueCtx]!;
    let hitProbs = this.valueHit;
    let hitCtx = valueCtx;
    if (!follows && delta === 0) {
      // a region not seen changing yet usually moved like the region just below it
      delta = this.regionDelta[hash(valueKey - 1, VALUE_HASH_BITS)]!;
      hitProbs = this.neighbourHit;
      hitCtx = 0;
    }
    const predicted = delta & 0xff;
    let out: number;
    if (predicted === 0) {
      out = this.changedValue(c, d, follows);
    } else if (c.bit(hitProbs, hitCtx, d === predicted ? 1 : 0, SHIFT_FAST) === 1) {
      out = predicted;
    } else {
      // the region moved again, usually by a little more or less: code the difference
      let node = 1;
      const e = (d - predicted) & 0xff;
      for (let k = 7; k >= 0; k--) node = (node << 1) | c.bit(this.errorTree, node, (e >>> k) & 1, SHIFT_FAST);
      out = (predicted + node) & 0xff;
      if (out === 0 || out === predicted) throw new DeltaCorruptError('impossible value after a missed prediction');
      this.lastNz = out;
    }
    if (!follows) {
      // the low byte of a (possibly) moved address: predict its next three bytes from the
      // region's last whole-word change, carries included
      this.addrPos = pos;
      this.addrLen = 1;
      this.addrOld = word;
      this.addrRegion = valueCtx;
      this.addrPredicted = (word + delta) >>> 0;
      this.addrNew = (word + out) & 0xff;
      this.addrHits = out === predicted ? 1 : 0;
    }
    return out;
  }

  /** Byte `addrLen` (1..3) of an address whose low byte changed. */
  private addressByte(c: BitCoder, d: number, oldByte: number, prevByte: number): number {
    const k = this.addrLen;
    const shiftBy = 8 * k;
    const predicted = (((this.addrPredicted >>> shiftBy) & 0xff) - oldByte) & 0xff;
    const known = this.regionDelta[this.addrRegion] !== 0 ? 1 : 0;
    const hitCtx = (((known << 1) | this.addrHits) << 2) | k;
    let out: number;
    if (c.bit(this.addrHit, hitCtx, d === predicted ? 1 : 0, SHIFT_FAST) === 1) {
      out = predicted;
    } else if (predicted !== 0 && c.bit(this.zeroFollow, this.followContext(prevByte), d === 0 ? 0 : 1, SHIFT_SLOW) === 0) {
      out = 0;
    } else {
      out = this.changedValue(c, d, true);
      if (out === predicted) throw new DeltaCorruptError('predicted value coded as a miss');
    }
    this.addrNew = (this.addrNew | (((oldByte + out) & 0xff) << shiftBy)) >>> 0;
    this.addrHits &= out === predicted ? 1 : 0;
    this.addrLen = k + 1;
    if (this.addrLen === 4) {
      this.regionDelta[this.addrRegion] = (this.addrNew - this.addrOld) | 0;
      this.addrLen = 0;
    }
    return out;
  }

  /** After a changed byte: carry/borrow of that change (computable by the decoder) and history. */
  private followContext(prevByte: number): number {
    const carry = (prevByte + this.prevD) >>> 8;
    const sign = this.prevD >>> 7;
    return (((carry << 1) | sign) << 2) | (this.hist & 3);
  }

  /** A non-zero diff that no prediction matched: "same as the last one", else an 8-bit tree. */
  private changedValue(c: BitCoder, d: number, follows: boolean): number {
    let out: number;
    if (c.bit(this.sameAsLast, follows ? 1 : 0, d === this.lastNz ? 1 : 0, SHIFT_FAST) === 1) {
      out = this.lastNz;
    } else {
      let node = 1;
      for (let k = 7; k >= 0; k--) node = (node << 1) | c.bit(this.diffTree, node, (d >>> k) & 1, SHIFT_FAST);
      out = node & 0xff;
      // a zero here contradicts the zero flag: only a corrupt stream codes it
      if (out === 0) throw new DeltaCorruptError('zero coded as a changed byte');
    }
    this.lastNz = out;
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
