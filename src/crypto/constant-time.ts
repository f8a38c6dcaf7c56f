/** Constant-time comparison for secrets (tags, MACs, keys). */
import { timingSafeEqual } from 'node:crypto';
import { assertBytes } from '../util/assert.js';

/**
 * True when `a` and `b` hold the same bytes. The time taken depends only on the length, never on
 * where the first difference is (crypto.timingSafeEqual); lengths are treated as public, so arrays
 * of different lengths return false at once.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  assertBytes(a, 'a');
  assertBytes(b, 'b');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
