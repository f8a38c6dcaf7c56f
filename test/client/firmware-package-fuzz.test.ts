/**
 * Fuzzing the device's package reader (CONVENTIONS: every parser is fuzzed): random bytes and
 * mutated valid packages under random chunking only ever end in FirmwareUpdateError with an
 * Update Result in 2..9, and an accepted package hands on exactly the bytes its header declares.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FirmwareUpdateError, PackageReader, updateResultFor } from '../../src/client/index.js';
import { encodePackageHeader } from '../../src/fota/drivers/index.js';

async function feed(bytes: Uint8Array, cuts: number[]): Promise<{ manifest: number; payload: number } | FirmwareUpdateError> {
  let manifest = 0;
  let payload = 0;
  const reader = new PackageReader({ manifest: async (_h, m) => void (manifest += m.length), payload: async (c) => void (payload += c.length) }, { maxManifestSize: 4096 });
  try {
    let at = 0;
    for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
      if (cut > at) await reader.push(bytes.subarray(at, cut));
      at = Math.max(at, cut);
    }
    reader.finish();
    return { manifest, payload };
  } catch (err) {
    assert.ok(err instanceof FirmwareUpdateError, `unexpected ${String(err)}`);
    const result = updateResultFor(err);
    assert.ok(result >= 2 && result <= 9, `result ${result}`);
    return err;
  }
}

test('package reader: random input yields only FirmwareUpdateError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(400), { maxLength: 6 }), async (bytes, cuts) => {
      await feed(bytes, cuts);
    }),
    { numRuns: 300 },
  );
});

test('package reader: mutated valid packages are refused or accepted with exactly the declared lengths', async () => {
  const pkg = new Uint8Array(Buffer.concat([encodePackageHeader('full', new Uint8Array(120).fill(7), 300), new Uint8Array(300).fill(9)]));
  await fc.assert(
    fc.asyncProperty(fc.nat(pkg.length - 1), fc.integer({ min: 1, max: 255 }), fc.integer({ min: -20, max: 20 }), fc.array(fc.nat(pkg.length), { maxLength: 5 }), async (pos, flip, grow, cuts) => {
      const m = pkg.slice();
      m[pos]! ^= flip;
      const bytes = grow >= 0 ? new Uint8Array(Buffer.concat([m, new Uint8Array(grow)])) : m.subarray(0, m.length + grow);
      const out = await feed(bytes, cuts);
      if (!(out instanceof FirmwareUpdateError)) {
        const view = new DataView(bytes.buffer, bytes.byteOffset);
        assert.equal(out.manifest, view.getUint32(6));
        assert.equal(out.payload, view.getUint32(10));
        assert.equal(bytes.length, 14 + out.manifest + out.payload);
      }
    }),
    { numRuns: 300 },
  );
});
