/**
 * Small synthetic "firmware" images for the delta tests: instruction-like byte soup with
 * absolute 32-bit addresses into the image and relative call displacements, so that inserting
 * code shifts later addresses the way a real relink does (the case the delta engine is built for).
 */

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

const BASE = 0x08000000;

/** Functions as byte strings; `render` lays them out and patches the addresses in. */
export interface FakeProgram {
  funcs: Uint8Array[];
  /** Per function: offsets of 4-byte absolute address slots and the function index they point to. */
  refs: { at: number; target: number }[][];
}

export function makeProgram(nFuncs: number, seed: number): FakeProgram {
  const r = prng(seed);
  const funcs: Uint8Array[] = [];
  const refs: { at: number; target: number }[][] = [];
  for (let f = 0; f < nFuncs; f++) {
    const len = 24 + Math.floor(r() * 200);
    const body = new Uint8Array(len);
    const fr: { at: number; target: number }[] = [];
    for (let i = 0; i < len; i++) body[i] = [0x55, 0x89, 0xe5, 0x8b, 0x45, 0x08, 0x83, 0xc4, 0x5d, 0xc3][Math.floor(r() * 10)]!;
    for (let i = 4; i + 5 < len; i += 12 + Math.floor(r() * 20)) {
      body[i] = r() < 0.5 ? 0xe8 : 0xb8;
      fr.push({ at: i + 1, target: Math.floor(r() * nFuncs) });
    }
    funcs.push(body);
    refs.push(fr);
  }
  return { funcs, refs };
}

export function render(p: FakeProgram): Uint8Array {
  const offsets: number[] = [];
  let size = 0;
  for (const f of p.funcs) {
    offsets.push(size);
    size += f.length;
  }
  const out = new Uint8Array(size);
  p.funcs.forEach((f, i) => {
    out.set(f, offsets[i]!);
    for (const ref of p.refs[i]!) {
      const at = offsets[i]! + ref.at;
      const isCall = f[ref.at - 1] === 0xe8;
      const value = isCall ? offsets[ref.target]! - (at + 4) : BASE + offsets[ref.target]!;
      new DataView(out.buffer).setUint32(at, value >>> 0, true);
    }
  });
  return out;
}

/** A "security fix": a few functions grow by a check early in their body, one constant changes. */
export function fixRelease(p: FakeProgram, seed: number): FakeProgram {
  const r = prng(seed);
  const funcs = p.funcs.map((f) => f.slice());
  const refs = p.refs.map((fr) => fr.map((x) => ({ ...x })));
  for (let k = 0; k < 3; k++) {
    const i = Math.floor(r() * funcs.length);
    const check = Uint8Array.of(0x83, 0xf8, 0x40, 0x73, 0x05);
    const f = funcs[i]!;
    const grown = new Uint8Array(f.length + check.length);
    grown.set(f.subarray(0, 1));
    grown.set(check, 1);
    grown.set(f.subarray(1), 1 + check.length);
    funcs[i] = grown;
    refs[i] = refs[i]!.map((x) => ({ at: x.at + check.length, target: x.target }));
  }
  const c = funcs[Math.floor(r() * funcs.length)]!;
  c[c.length - 1] ^= 0x11;
  return { funcs, refs };
}
