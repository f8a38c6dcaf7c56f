import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  applyDeltaToBuffer,
  createDelta,
  createPatcher,
  HEADER_SIZE,
  type PatcherOptions,
} from '../../../src/fota/delta/index.js';
import { fixRelease, makeProgram, render } from './images.js';

const prog = makeProgram(60, 11);
const v1 = render(prog);
const v2 = render(fixRelease(prog, 12));
const patch = createDelta(v1, v2);

function code(err: unknown): string {
  return (err as { code?: string }).code ?? String(err);
}

async function applyCode(old: Uint8Array, p: Uint8Array, opts: Partial<PatcherOptions> = {}): Promise<{ code: string; written: number }> {
  let written = 0;
  const patcher = createPatcher({
    readOld: (o, l) => old.subarray(o, o + l),
    writeNew: (c) => {
      written += c.length;
    },
    ...opts,
  });
  try {
    await patcher.push(p);
    await patcher.finish();
    return { code: 'OK', written };
  } catch (err) {
    return { code: code(err), written };
  }
}

describe('delta: bad input gives typed errors', () => {
  it('wrong base image (same size) is refused before anything is written', async () => {
    const other = v1.slice();
    other[100] ^= 1;
    assert.deepEqual(await applyCode(other, patch), { code: 'ERR_DELTA_WRONG_BASE', written: 0 });
  });
  it('wrong base size given by the caller', async () => {
    assert.equal((await applyCode(v1, patch, { oldSize: v1.length + 1 })).code, 'ERR_DELTA_WRONG_BASE');
    await assert.rejects(applyDeltaToBuffer(v1.subarray(1), patch), { code: 'ERR_DELTA_WRONG_BASE' });
  });
  it('without base verification a wrong base ends in a digest mismatch', async () => {
    const other = v1.slice();
    other[100] ^= 1;
    assert.equal((await applyCode(other, patch, { verifyBase: false })).code, 'ERR_DELTA_DIGEST_MISMATCH');
  });
  it('expected digest differs from the patch: refused before writing', async () => {
    const r = await applyCode(v1, patch, { expectedDigest: createHash('sha256').update(v1).digest() });
    assert.deepEqual(r, { code: 'ERR_DELTA_DIGEST_MISMATCH', written: 0 });
  });
  it('bad magic, unknown version, damaged header', async () => {
    const m = patch.slice();
    m[0] = 0x42;
    assert.equal((await applyCode(v1, m)).code, 'ERR_DELTA_BAD_MAGIC');
    const v = patch.slice();
    v[4] = 2;
    assert.equal((await applyCode(v1, v)).code, 'ERR_DELTA_UNSUPPORTED_VERSION');
    for (const at of [5, 6, 12, 20, 50, 80]) {
      const h = patch.slice();
      h[at] ^= 0x04;
      assert.equal((await applyCode(v1, h)).code, 'ERR_DELTA_CORRUPT', `header byte ${at}`);
    }
  });
  it('every truncation is ERR_DELTA_TRUNCATED', async () => {
    for (let cut = 0; cut < patch.length; cut++) {
      const r = await applyCode(v1, patch.subarray(0, cut));
      assert.equal(r.code, 'ERR_DELTA_TRUNCATED', `cut at ${cut} of ${patch.length}`);
      assert.ok(r.written <= v2.length);
    }
    await assert.rejects(applyDeltaToBuffer(v1, patch.subarray(0, 40)), { code: 'ERR_DELTA_TRUNCATED' });
    await assert.rejects(applyDeltaToBuffer(v1, Uint8Array.of(0x58, 0x4c, 0x44, 0x54, 1, 0)), { code: 'ERR_DELTA_BAD_MAGIC' });
  });
  it('oversize package (bytes after the end) is ERR_DELTA_TRAILING_DATA', async () => {
    for (const extra of [1, 7, 300]) {
      const p = new Uint8Array(patch.length + extra);
      p.set(patch);
      assert.equal((await applyCode(v1, p)).code, 'ERR_DELTA_TRAILING_DATA', `+${extra}`);
    }
    const empty = createDelta(v1, new Uint8Array(0));
    assert.equal(empty.length, HEADER_SIZE);
    assert.equal((await applyCode(v1, Uint8Array.from([...empty, 0]))).code, 'ERR_DELTA_TRAILING_DATA');
  });
  it('new image larger than the slot limit', async () => {
    assert.deepEqual(await applyCode(v1, patch, { maxNewSize: v2.length - 1 }), { code: 'ERR_DELTA_LIMIT_EXCEEDED', written: 0 });
    await assert.rejects(applyDeltaToBuffer(v1, patch, { maxNewSize: 10 }), { code: 'ERR_DELTA_LIMIT_EXCEEDED' });
    assert.throws(() => createDelta(v1, v2, { maxImageSize: 100 }), { code: 'ERR_DELTA_LIMIT_EXCEEDED' });
  });
  it('corrupted body bytes never pass and never overflow the declared size', async () => {
    for (let at = HEADER_SIZE; at < patch.length; at += 3) {
      const p = patch.slice();
      p[at] ^= 0x5a;
      const r = await applyCode(v1, p);
      assert.ok(r.code.startsWith('ERR_DELTA_'), `byte ${at}: ${r.code}`);
      assert.ok(r.written <= v2.length);
    }
  });
  it('callback failures are ERR_DELTA_IO with the cause', async () => {
    const boom = new Error('flash read failed');
    const p = createPatcher({
      readOld: () => {
        throw boom;
      },
      writeNew: () => undefined,
    });
    await assert.rejects(p.push(patch), (err: unknown) => code(err) === 'ERR_DELTA_IO' && (err as Error).cause === boom);
    assert.equal((await applyCode(v1, patch, { readOld: (o, l) => v1.subarray(o, o + l - 1) })).code, 'ERR_DELTA_IO');
    assert.equal(
      (await applyCode(v1, patch, {
        writeNew: () => Promise.reject(new Error('flash full')),
      })).code,
      'ERR_DELTA_IO',
    );
  });
  it('misuse: push after finish, finish twice, errors are sticky', async () => {
    const p = createPatcher({ readOld: (o, l) => v1.subarray(o, o + l), writeNew: () => undefined });
    await p.push(patch);
    await p.finish();
    await assert.rejects(p.push(patch), { code: 'ERR_DELTA_STATE' });
    await assert.rejects(p.finish(), { code: 'ERR_DELTA_STATE' });
    const q = createPatcher({ readOld: (o, l) => v1.subarray(o, o + l), writeNew: () => undefined });
    await q.push(Uint8Array.of(1, 2, 3, 4, 5)); // not yet a whole header: nothing to judge
    await assert.rejects(q.push(new Uint8Array(HEADER_SIZE)), { code: 'ERR_DELTA_BAD_MAGIC' });
    await assert.rejects(q.push(patch), { code: 'ERR_DELTA_BAD_MAGIC' });
  });
  it('bad arguments are ERR_INVALID_ARGUMENT', () => {
    assert.throws(() => createDelta('x' as unknown as Uint8Array, v2), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => createPatcher({ readOld: (o, l) => v1.subarray(o, o + l), writeNew: () => undefined, bufferSize: 8 }), {
      code: 'ERR_INVALID_ARGUMENT',
    });
    assert.throws(
      () => createPatcher({ readOld: (o, l) => v1.subarray(o, o + l), writeNew: () => undefined, expectedDigest: new Uint8Array(31) }),
      { code: 'ERR_INVALID_ARGUMENT' },
    );
  });
  it('working memory is a small constant, whatever the image', async () => {
    const p = createPatcher({ readOld: (o, l) => v1.subarray(o, o + l), writeNew: () => undefined });
    const before = p.workingMemoryBytes;
    assert.ok(before <= 16 * 1024, `${before} bytes`);
    await p.push(patch);
    await p.finish();
    assert.equal(p.workingMemoryBytes, before);
  });
});
