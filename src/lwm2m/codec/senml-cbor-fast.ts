/**
 * A fast path for the SenML CBOR documents devices send most: an array of maps whose keys are
 * integers or ASCII text and whose values are small integers, ASCII text, byte strings, booleans
 * or 32/64-bit floats (a Read of /3/0/3 answers `[{0: "/3/0/3", 3: "1.0.0"}]`). The general
 * decoder (cbor2 behind `decodeCbor`) costs ~40 µs for such a document — a tenth of the server's
 * Register path; this reads it in a few. Pure.
 *
 * It never decides validity: anything outside that shape, or anything the strict decoder might
 * judge differently — indefinite lengths, tags, 64-bit arguments, half floats, simple values
 * other than true/false, non-ASCII text, float or byte-string keys, duplicate keys, truncation,
 * trailing bytes, a depth limit under 2 — returns `undefined`, and the caller runs the strict
 * decoder, which then accepts or refuses the input exactly as before. What it returns equals what
 * `decodeCbor` returns for the same bytes (maps as Map, byte strings copied).
 */
export function decodeSimpleSenmlCbor(bytes: Uint8Array, maxDepth: number): unknown[] | undefined {
  if (maxDepth < 2 || bytes.length === 0) return undefined;
  const r = new Reader(bytes);
  const count = r.header(4);
  if (count < 0 || count > bytes.length) return undefined;
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const pairs = r.header(5);
    if (pairs < 0 || pairs > bytes.length) return undefined;
    const map = new Map<unknown, unknown>();
    for (let j = 0; j < pairs; j++) {
      const key = r.key();
      if (key === undefined || map.has(key)) return undefined;
      const value = r.value();
      if (value === FAIL) return undefined;
      map.set(key, value);
    }
    out.push(map);
  }
  return r.pos === bytes.length ? out : undefined;
}

const FAIL: unique symbol = Symbol('fail');

class Reader {
  pos = 0;
  readonly #b: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#b = bytes;
  }

  /** The argument of a definite-length item of `major` type (at most 32 bits), or -1. */
  header(major: number): number {
    if (this.pos >= this.#b.length) return -1;
    const ib = this.#b[this.pos++]!;
    if (ib >> 5 !== major) return -1;
    return this.#argument(ib & 0x1f);
  }

  #argument(ai: number): number {
    const b = this.#b;
    if (ai < 24) return ai;
    const p = this.pos;
    if (ai === 24 && p + 1 <= b.length) {
      this.pos = p + 1;
      return b[p]!;
    }
    if (ai === 25 && p + 2 <= b.length) {
      this.pos = p + 2;
      return (b[p]! << 8) | b[p + 1]!;
    }
    if (ai === 26 && p + 4 <= b.length) {
      this.pos = p + 4;
      return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    }
    return -1;
  }

  key(): number | string | undefined {
    if (this.pos >= this.#b.length) return undefined;
    const ib = this.#b[this.pos++]!;
    const major = ib >> 5;
    const arg = this.#argument(ib & 0x1f);
    if (arg < 0) return undefined;
    if (major === 0) return arg;
    if (major === 1) return -1 - arg;
    if (major === 3) return this.#ascii(arg);
    return undefined;
  }

  value(): unknown {
    const b = this.#b;
    if (this.pos >= b.length) return FAIL;
    const ib = b[this.pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (major === 7) {
      if (ai === 20) return false;
      if (ai === 21) return true;
      const p = this.pos;
      if (ai === 26 && p + 4 <= b.length) {
        this.pos = p + 4;
        return new DataView(b.buffer, b.byteOffset + p, 4).getFloat32(0);
      }
      if (ai === 27 && p + 8 <= b.length) {
        this.pos = p + 8;
        return new DataView(b.buffer, b.byteOffset + p, 8).getFloat64(0);
      }
      return FAIL;
    }
    const arg = this.#argument(ai);
    if (arg < 0) return FAIL;
    if (major === 0) return arg;
    if (major === 1) return -1 - arg;
    if (major === 3) return this.#ascii(arg) ?? FAIL;
    if (major === 2) {
      if (this.pos + arg > b.length) return FAIL;
      const copy = b.slice(this.pos, this.pos + arg);
      this.pos += arg;
      return copy;
    }
    return FAIL;
  }

  #ascii(length: number): string | undefined {
    const b = this.#b;
    const start = this.pos;
    const end = start + length;
    if (end > b.length) return undefined;
    for (let i = start; i < end; i++) if (b[i]! > 0x7f) return undefined;
    this.pos = end;
    return Buffer.from(b.buffer, b.byteOffset + start, length).toString('latin1');
  }
}
