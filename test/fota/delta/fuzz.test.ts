/**
 * Property tests of the patch decoder: whatever bytes arrive, only ERR_DELTA_* errors escape,
 * nothing beyond the declared new size is ever written, and an accepted patch always produced
 * exactly the image its header promised.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createDelta, createPatcher } from '../../../src/fota/delta/index.js';
import { encodeHeader, HEADER_SIZE } from '../../../src/fota/delta/format.js';
import { suffixArray } from '../../../src/fota/delta/suffix-array.js';
import { fixRelease, makeProgram, render } from './images.js';

interface Outcome {
  code: string;
  written: number;
  output: Uint8Array;
}

async function apply(old: Uint8Array, patch: Uint8Array, chunk: number, opts: { verifyBase?: boolean; maxNewSize?: number } = {}): Promise<Outcome> {
  const parts: Uint8Array[] = [];
  let written = 0;
  const p = createPatcher({
    readOld: (o, l) => {
      // the patcher must only ask for bytes inside the old image it was told about
      assert.ok(o >= 0 && l >= 0 && o + l <= Math.max(old.length, p.header?.oldSize ?? 0), `read ${o}+${l}`);
      const out = new Uint8Array(l);
      out.set(old.subarray(o, o + l));
      return out;
    },
    writeNew: (c) => {
      written += c.length;
      parts.push(c.slice());
    },
    ...opts,
  });
  const startMemory = p.workingMemoryBytes;
  try {
    for (let off = 0; off < patch.length; off += chunk) await p.push(patch.subarray(off, off + chunk));
    await p.finish();
    return { code: 'OK', written, output: new Uint8Array(Buffer.concat(parts)) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_DELTA_')) throw err;
    return { code, written, output: new Uint8Array(Buffer.concat(parts)) };
  } finally {
    assert.equal(p.workingMemoryBytes, startMemory);
    if (p.header !== undefined) assert.ok(written <= p.header.newSize, `${written} > ${p.header.newSize}`);
  }
}

const prog = makeProgram(40, 21);
const v1 = render(prog);
const v2 = render(fixRelease(prog, 22));
const valid = createDelta(v1, v2);
const v2Digest = createHash('sha256').update(v2).digest();

describe('delta decoder fuzzing', () => {
  it('random bytes: typed errors only', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 64 }), async (bytes, chunk) => {
        const r = await apply(v1, bytes, chunk);
        assert.notEqual(r.code, 'OK');
      }),
      { numRuns: 300 },
    );
  });

  it('valid header with a random body: typed errors only, never past the declared size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: v1.length }),
        fc.integer({ min: 0, max: 5000 }),
        fc.uint8Array({ maxLength: 400 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 500 }),
        async (oldSize, newSize, body, zeroFirst, chunk) => {
          const header = encodeHeader({ oldSize, newSize, oldDigest: new Uint8Array(32), newDigest: new Uint8Array(32) });
          const b = body.slice();
          if (zeroFirst && b.length > 0) b[0] = 0; // get past the coder's first-byte check more often
          const patch = new Uint8Array(HEADER_SIZE + b.length);
          patch.set(header);
          patch.set(b, HEADER_SIZE);
          const r = await apply(v1, patch, chunk, { verifyBase: false });
          assert.notEqual(r.code, 'OK');
          assert.ok(r.written <= newSize);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('mutated valid patches: rejected with a typed error, or the exact new image', async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 300 }), fc.boolean(), async (muts, chunk, verifyBase) => {
        let p = Array.from(valid);
        for (const m of muts) {
          const at = HEADER_SIZE + (m.at % Math.max(1, p.length - HEADER_SIZE));
          if (m.kind === 'flip' && at < p.length) p[at] = p[at]! ^ m.mask;
          else if (m.kind === 'cut') p = p.slice(0, at);
          else if (m.kind === 'insert') p.splice(at, 0, m.byte);
          else if (m.kind === 'delete') p.splice(at, 1);
        }
        const r = await apply(v1, Uint8Array.from(p), chunk, { verifyBase });
        if (r.code === 'OK') assert.deepEqual(createHash('sha256').update(r.output).digest(), v2Digest);
        assert.ok(r.written <= v2.length);
      }),
      { numRuns: 300 },
    );
  });

  it('random image pairs round-trip under random chunking', async () => {
    const edit = fc.record({ at: fc.nat(), del: fc.nat({ max: 40 }), ins: fc.uint8Array({ maxLength: 40 }) });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.array(edit, { maxLength: 6 }), fc.integer({ min: 1, max: 200 }), async (old, edits, chunk) => {
        const neu = Array.from(old);
        for (const e of edits) neu.splice(e.at % (neu.length + 1), e.del, ...e.ins);
        const next = Uint8Array.from(neu);
        const r = await apply(old, createDelta(old, next), chunk);
        assert.equal(r.code, 'OK');
        assert.deepEqual(r.output, next);
      }),
      { numRuns: 150 },
    );
  });

  it('firmware-like pairs round-trip for any seed, buffer size and chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1e6 }),
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 16, max: 700 }),
        fc.integer({ min: 1, max: 300 }),
        async (seed, funcs, bufferSize, chunk) => {
          const p = makeProgram(funcs, seed);
          const a = render(p);
          const b = render(fixRelease(p, seed + 1));
          const patch = createDelta(a, b);
          const parts: Uint8Array[] = [];
          const patcher = createPatcher({ readOld: (o, l) => a.subarray(o, o + l), writeNew: (c) => void parts.push(c.slice()), bufferSize });
          for (let off = 0; off < patch.length; off += chunk) await patcher.push(patch.subarray(off, off + chunk));
          await patcher.finish();
          assert.deepEqual(new Uint8Array(Buffer.concat(parts)), b);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('suffix array equals a naive sort', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 255 }), (raw, alphabet) => {
        const s = raw.map((b) => b % (alphabet + 1));
        const naive = Array.from(s.keys()).sort((a, b) => {
          for (let i = 0; ; i++) {
            if (a + i >= s.length) return -1;
            if (b + i >= s.length) return 1;
            if (s[a + i] !== s[b + i]) return s[a + i]! - s[b + i]!;
          }
        });
        assert.deepEqual(Array.from(suffixArray(s)), naive);
      }),
      { numRuns: 300 },
    );
  });
});
