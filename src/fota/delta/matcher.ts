/**
 * bsdiff's matching (Colin Percival, "Naive differences of executable code", 2003): walk the new
 * image, find the longest exact match of each position in the old image through the suffix
 * array, and only start a new command when that match beats the current "approximate" alignment
 * (old and new advanced in lock-step) by more than 8 bytes. The lock-step regions become diff
 * bytes, which are mostly zero even where compiled code moved (only embedded addresses change),
 * and which the context model codes in well under a bit per byte.
 */
import { suffixArray } from './suffix-array.js';

/** One command: move the old position by `seek`, `add` diff bytes against old[oldPos..], then `extra` literal bytes. */
export interface Command {
  /** Signed move of the old position before the command. */
  seek: number;
  add: number;
  extra: number;
}

function matchLength(old: Uint8Array, oldPos: number, neu: Uint8Array, newPos: number): number {
  const max = Math.min(old.length - oldPos, neu.length - newPos);
  let i = 0;
  while (i < max && old[oldPos + i] === neu[newPos + i]) i++;
  return i;
}

/** Longest match of neu[newPos..] among the old image's suffixes: binary search over `sa`. */
function search(sa: Int32Array, old: Uint8Array, neu: Uint8Array, newPos: number, result: { pos: number }): number {
  let st = 0;
  let en = sa.length - 1;
  if (en < 0) {
    result.pos = 0;
    return 0;
  }
  while (en - st >= 2) {
    const x = st + ((en - st) >>> 1);
    const p = sa[x]!;
    // compare old[p..] with neu[newPos..] lexicographically over their common length
    const max = Math.min(old.length - p, neu.length - newPos);
    let i = 0;
    while (i < max && old[p + i] === neu[newPos + i]) i++;
    const less = i < max ? old[p + i]! < neu[newPos + i]! : old.length - p < neu.length - newPos;
    if (less) st = x;
    else en = x;
  }
  const a = matchLength(old, sa[st]!, neu, newPos);
  const b = matchLength(old, sa[en]!, neu, newPos);
  if (a > b) {
    result.pos = sa[st]!;
    return a;
  }
  result.pos = sa[en]!;
  return b;
}

/** Computes the bsdiff command list turning `old` into `neu`. */
export function matchImages(old: Uint8Array, neu: Uint8Array): Command[] {
  const sa = suffixArray(old);
  const commands: Command[] = [];
  const oldSize = old.length;
  const newSize = neu.length;
  const found = { pos: 0 };
  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastScan = 0;
  let lastPos = 0;
  let lastOffset = 0;
  let pendingSeek = 0;
  while (scan < newSize) {
    let oldScore = 0;
    let scsc = (scan += len);
    for (; scan < newSize; scan++) {
      len = search(sa, old, neu, scan, found);
      pos = found.pos;
      for (; scsc < scan + len; scsc++) {
        if (scsc + lastOffset < oldSize && old[scsc + lastOffset] === neu[scsc]) oldScore++;
      }
      if ((len === oldScore && len !== 0) || len > oldScore + 8) break;
      if (scan + lastOffset < oldSize && old[scan + lastOffset] === neu[scan]) oldScore--;
    }
    if (len !== oldScore || scan === newSize) {
      // forward extension of the previous match: the longest prefix at least half equal
      let s = 0;
      let sf = 0;
      let lenF = 0;
      for (let i = 0; lastScan + i < scan && lastPos + i < oldSize; ) {
        if (old[lastPos + i] === neu[lastScan + i]) s++;
        i++;
        if (s * 2 - i > sf * 2 - lenF) {
          sf = s;
          lenF = i;
        }
      }
      // backward extension of the new match
      let lenB = 0;
      if (scan < newSize) {
        s = 0;
        let sb = 0;
        for (let i = 1; scan >= lastScan + i && pos >= i; i++) {
          if (old[pos - i] === neu[scan - i]) s++;
          if (s * 2 - i > sb * 2 - lenB) {
            sb = s;
            lenB = i;
          }
        }
      }
      // the two extensions overlap: split where the forward one stops paying
      if (lastScan + lenF > scan - lenB) {
        const overlap = lastScan + lenF - (scan - lenB);
        s = 0;
        let ss = 0;
        let lenS = 0;
        for (let i = 0; i < overlap; i++) {
          if (neu[lastScan + lenF - overlap + i] === old[lastPos + lenF - overlap + i]) s++;
          if (neu[scan - lenB + i] === old[pos - lenB + i]) s--;
          if (s > ss) {
            ss = s;
            lenS = i + 1;
          }
        }
        lenF += lenS - overlap;
        lenB -= lenS;
      }
      const extra = scan - lenB - (lastScan + lenF);
      commands.push({ seek: pendingSeek, add: lenF, extra });
      pendingSeek = pos - lenB - (lastPos + lenF);
      lastScan = scan - lenB;
      lastPos = pos - lenB;
      lastOffset = pos - scan;
    }
  }
  return mergeEmpty(commands);
}

/** Folds commands that produce no bytes into their successor, so every coded command makes progress. */
function mergeEmpty(commands: Command[]): Command[] {
  const out: Command[] = [];
  let carry = 0;
  for (const c of commands) {
    if (c.add === 0 && c.extra === 0) {
      carry += c.seek;
      continue;
    }
    out.push({ seek: c.seek + carry, add: c.add, extra: c.extra });
    carry = 0;
  }
  return out;
}
