/**
 * Suffix array by induced sorting (SA-IS, Nong/Zhang/Chan 2009), linear time. Follows the
 * structure of the AtCoder Library's `sa_is`. bsdiff's qsufsort is O(n log n) and its worst
 * cases (long runs, as in erased-flash padding) are slow; SA-IS stays linear and needs only a
 * few Int32Arrays of the image size, which is fine on the server side for multi-megabyte images.
 */

/** Returns the suffix array of `s` (values in 0..upper). */
export function suffixArray(s: Uint8Array | Int32Array, upper = 255): Int32Array {
  const n = s.length;
  if (n === 0) return new Int32Array(0);
  if (n === 1) return Int32Array.of(0);
  if (n === 2) return s[0]! < s[1]! ? Int32Array.of(0, 1) : Int32Array.of(1, 0);
  const sa = new Int32Array(n);
  const ls = new Uint8Array(n); // 1 = S-type
  for (let i = n - 2; i >= 0; i--) {
    ls[i] = s[i] === s[i + 1] ? ls[i + 1]! : s[i]! < s[i + 1]! ? 1 : 0;
  }
  const sumL = new Int32Array(upper + 2);
  const sumS = new Int32Array(upper + 2);
  for (let i = 0; i < n; i++) {
    if (ls[i] === 0) sumS[s[i]!]!++;
    else sumL[s[i]! + 1]!++;
  }
  for (let i = 0; i <= upper; i++) {
    sumS[i]! += sumL[i]!;
    if (i < upper) sumL[i + 1]! += sumS[i]!;
  }
  const buf = new Int32Array(upper + 2);
  const induce = (lms: Int32Array, count: number): void => {
    sa.fill(-1);
    buf.set(sumS);
    for (let k = 0; k < count; k++) {
      const d = lms[k]!;
      if (d === n) continue;
      sa[buf[s[d]!]!++] = d;
    }
    buf.set(sumL);
    sa[buf[s[n - 1]!]!++] = n - 1;
    for (let i = 0; i < n; i++) {
      const v = sa[i]!;
      if (v >= 1 && ls[v - 1] === 0) sa[buf[s[v - 1]!]!++] = v - 1;
    }
    buf.set(sumL);
    for (let i = n - 1; i >= 0; i--) {
      const v = sa[i]!;
      if (v >= 1 && ls[v - 1] === 1) sa[--buf[s[v - 1]! + 1]!] = v - 1;
    }
  };
  const lmsMap = new Int32Array(n + 1).fill(-1);
  let m = 0;
  for (let i = 1; i < n; i++) if (ls[i - 1] === 0 && ls[i] === 1) lmsMap[i] = m++;
  const lms = new Int32Array(m);
  for (let i = 1, k = 0; i < n; i++) if (ls[i - 1] === 0 && ls[i] === 1) lms[k++] = i;
  induce(lms, m);
  if (m > 0) {
    const sortedLms = new Int32Array(m);
    for (let i = 0, k = 0; i < n; i++) {
      const v = sa[i]!;
      if (lmsMap[v] !== -1) sortedLms[k++] = v;
    }
    const recS = new Int32Array(m);
    let recUpper = 0;
    recS[lmsMap[sortedLms[0]!]!] = 0;
    for (let i = 1; i < m; i++) {
      let l = sortedLms[i - 1]!;
      let r = sortedLms[i]!;
      const endL = lmsMap[l]! + 1 < m ? lms[lmsMap[l]! + 1]! : n;
      const endR = lmsMap[r]! + 1 < m ? lms[lmsMap[r]! + 1]! : n;
      let same = true;
      if (endL - l !== endR - r) {
        same = false;
      } else {
        while (l < endL && s[l] === s[r]) {
          l++;
          r++;
        }
        if (l === n || s[l] !== s[r]) same = false;
      }
      if (!same) recUpper++;
      recS[lmsMap[sortedLms[i]!]!] = recUpper;
    }
    const recSa = suffixArray(recS, recUpper);
    for (let i = 0; i < m; i++) sortedLms[i] = lms[recSa[i]!]!;
    induce(sortedLms, m);
  }
  return sa;
}
