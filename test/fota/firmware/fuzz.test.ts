/**
 * Fuzzing the firmware room's parsers: buildDeltaManifest reads a delta header from untrusted
 * bytes; random and mutated deltas fail with typed errors only, and only a delta whose header
 * names exactly the (from, to) pair is packaged.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { createDelta } from '../../../src/fota/delta/index.js';
import { buildDeltaManifest } from '../../../src/fota/firmware/index.js';
import type { FirmwareImageRecord } from '../../../src/store/firmware-types.js';

const v1 = new Uint8Array(randomBytes(3000));
const v2 = new Uint8Array(v1);
v2[100] = (v2[100]! + 1) & 0xff;
const record = (bytes: Uint8Array, version: string, sequence: number): FirmwareImageRecord => ({
  id: version,
  vendor: 'example.com',
  model: 'TH-1',
  version,
  sequence,
  size: bytes.length,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  manifest: Uint8Array.of(1),
  attributes: {},
  createdAt: new Date(0).toISOString(),
});
const from = record(v1, '1.0.0', 1);
const to = record(v2, '1.1.0', 2);
const signer = keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const delta = createDelta(v1, v2);

function typedOnly(err: unknown): void {
  const code = (err as { code?: unknown }).code;
  assert.ok(typeof code === 'string' && (code.startsWith('ERR_FIRMWARE_') || code === 'ERR_INVALID_ARGUMENT'), `unexpected ${String(err)}`);
}

describe('firmware fuzzing: delta headers', () => {
  it('random bytes and single-byte mutations of a real delta header', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.tuple(fc.nat(81), fc.integer({ min: 1, max: 255 })).map(([pos, x]) => {
        const d = new Uint8Array(delta);
        d[pos]! ^= x;
        return d;
      })), async (bytes) => {
        try {
          await buildDeltaManifest(from, to, bytes, signer);
          // Only a header that still names exactly this pair may pass: the check byte catches the rest.
          assert.deepEqual(bytes.subarray(0, 82), delta.subarray(0, 82));
        } catch (err) {
          typedOnly(err);
        }
      }),
      { numRuns: 300 },
    );
  });
});
