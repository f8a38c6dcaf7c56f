import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { applyDeltaToBuffer, createDelta, createPatcher, HEADER_SIZE } from '../../../src/fota/delta/index.js';
import { fixRelease, makeProgram, prng, randomBytes, render } from './images.js';

async function roundTrip(old: Uint8Array, neu: Uint8Array): Promise<Uint8Array> {
  const patch = createDelta(old, neu);
  const out = await applyDeltaToBuffer(old, patch);
  assert.deepEqual(out, neu);
  return patch;
}

/** Applies with the streaming patcher, feeding the patch in the given chunk sizes. */
export async function applyChunked(old: Uint8Array, patch: Uint8Array, sizes: () => number, bufferSize = 64): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const p = createPatcher({
    readOld: (o, l) => old.slice(o, o + l),
    writeNew: (c) => {
      parts.push(c.slice());
    },
    bufferSize,
  });
  for (let off = 0; off < patch.length; ) {
    const n = Math.max(1, Math.min(patch.length - off, sizes()));
    await p.push(patch.subarray(off, off + n));
    off += n;
  }
  await p.finish();
  return new Uint8Array(Buffer.concat(parts));
}

describe('delta round trips', () => {
  const prog = makeProgram(120, 1);
  const v1 = render(prog);
  const v2 = render(fixRelease(prog, 2));

  it('firmware-like fix release: small patch, exact output', async () => {
    const patch = await roundTrip(v1, v2);
    assert.ok(patch.length < v2.length / 10, `patch ${patch.length} B for a ${v2.length} B image`);
  });
  it('identical images', async () => {
    const patch = await roundTrip(v1, v1);
    assert.ok(patch.length < HEADER_SIZE + v1.length / 100, `patch ${patch.length} B`);
  });
  it('empty old image', async () => {
    await roundTrip(new Uint8Array(0), v2);
  });
  it('empty new image', async () => {
    await roundTrip(v1, new Uint8Array(0));
  });
  it('both empty', async () => {
    await roundTrip(new Uint8Array(0), new Uint8Array(0));
  });
  it('completely different (random) images', async () => {
    await roundTrip(randomBytes(3000, 3), randomBytes(2500, 4));
  });
  it('random image with a shifted insert and small edits', async () => {
    const a = randomBytes(8000, 5);
    const b = new Uint8Array(8100);
    b.set(a.subarray(0, 3000));
    b.set(randomBytes(100, 6), 3000);
    b.set(a.subarray(3000), 3100);
    b[50] ^= 1;
    b[7000] ^= 0x80;
    const patch = await roundTrip(a, b);
    assert.ok(patch.length < 400, `patch ${patch.length} B`);
  });
  it('single-byte images and long runs', async () => {
    await roundTrip(Uint8Array.of(7), Uint8Array.of(8));
    await roundTrip(new Uint8Array(5000).fill(0xff), new Uint8Array(6000).fill(0xff));
    await roundTrip(new Uint8Array(5000), new Uint8Array(4000).fill(0xff));
  });
  it('one byte at a time gives the same output', async () => {
    const patch = createDelta(v1, v2);
    assert.deepEqual(await applyChunked(v1, patch, () => 1), v2);
  });
  it('random splits and buffer sizes give the same output', async () => {
    const patch = createDelta(v1, v2);
    const r = prng(9);
    for (const bufferSize of [16, 100, 1024, 65536]) {
      assert.deepEqual(await applyChunked(v1, patch, () => 1 + Math.floor(r() * 700), bufferSize), v2);
    }
  });
  it('async callbacks and the reported result', async () => {
    const patch = createDelta(v1, v2);
    let written = 0;
    const h = createHash('sha256');
    const p = createPatcher({
      readOld: async (o, l) => {
        await new Promise((res) => setImmediate(res));
        return v1.slice(o, o + l);
      },
      writeNew: async (c) => {
        h.update(c);
        written += c.length;
        await new Promise((res) => setImmediate(res));
      },
      expectedDigest: createHash('sha256').update(v2).digest(),
    });
    await p.push(patch);
    const result = await p.finish();
    assert.equal(written, v2.length);
    assert.equal(result.newSize, v2.length);
    assert.deepEqual(Buffer.from(result.newDigest), h.digest());
    assert.equal(p.written, v2.length);
  });
});
