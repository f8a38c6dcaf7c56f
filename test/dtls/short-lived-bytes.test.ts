/**
 * shortLivedBytes / ByteWriter.finish / concatBytes hand out views of a shared slab above 64
 * bytes: every result must be zeroed (shortLivedBytes), exactly as long as asked, and never
 * overlap another live result — a write to one must not show in any other.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteWriter, concatBytes, shortLivedBytes } from '../../src/dtls/bytes.js';

describe('short-lived byte arrays', () => {
  it('are zeroed, of the asked length, and never alias one another', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 60 }), (sizes) => {
        const outs = sizes.map((n) => shortLivedBytes(n));
        outs.forEach((o, i) => {
          assert.equal(o.length, sizes[i]);
          assert.ok(o.every((b) => b === 0));
        });
        // Fill each with its own index; every array must still hold only its own afterwards.
        outs.forEach((o, i) => o.fill((i % 255) + 1));
        outs.forEach((o, i) => assert.ok(o.every((b) => b === (i % 255) + 1), `array ${i} (${o.length} bytes) was overwritten`));
      }),
    );
  });

  it('ByteWriter.finish and concatBytes return independent copies', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 400 }), { minLength: 1, maxLength: 8 }), (parts) => {
        const joined = concatBytes(...parts);
        const w = new ByteWriter();
        for (const p of parts) w.bytes(p);
        const written = w.finish();
        const expected = Buffer.concat(parts);
        assert.deepEqual(Buffer.from(joined), expected);
        assert.deepEqual(Buffer.from(written), expected);
        // Later encodings reuse the writer's buffer and the slab: the results must not change.
        const again = new ByteWriter();
        again.bytes(new Uint8Array(expected.length).fill(0xee));
        const other = again.finish();
        concatBytes(new Uint8Array(200).fill(0xdd), new Uint8Array(100).fill(0xcc));
        assert.deepEqual(Buffer.from(joined), expected);
        assert.deepEqual(Buffer.from(written), expected);
        assert.ok(other.every((b) => b === 0xee));
      }),
    );
  });
});
