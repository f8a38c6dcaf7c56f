import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplayWindow, REPLAY_WINDOW_SIZE } from '../../src/dtls/replay-window.js';

describe('anti-replay window (RFC 6347 §4.1.2.6)', () => {
  it('accepts new numbers and rejects duplicates', () => {
    const w = new ReplayWindow();
    assert.equal(w.check(0), true);
    w.accept(0);
    assert.equal(w.check(0), false);
    assert.equal(w.check(1), true);
    w.accept(5);
    assert.equal(w.check(3), true, 'a gap inside the window is still acceptable');
    w.accept(3);
    assert.equal(w.check(3), false);
  });

  it('rejects numbers that fell off the left edge', () => {
    const w = new ReplayWindow();
    w.accept(1000);
    assert.equal(w.check(1000 - REPLAY_WINDOW_SIZE + 1), true);
    assert.equal(w.check(1000 - REPLAY_WINDOW_SIZE), false);
  });

  it('behaves like a reference set model for any sequence of numbers', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }), (seqs) => {
        const w = new ReplayWindow();
        const seen = new Set<number>();
        let top = -1;
        for (const s of seqs) {
          const expected = !seen.has(s) && (s > top || top - s < REPLAY_WINDOW_SIZE);
          assert.equal(w.check(s), expected, `seq ${s} top ${top}`);
          if (expected) {
            w.accept(s);
            seen.add(s);
            top = Math.max(top, s);
          }
        }
      }),
    );
  });

  it('matches the model for walks with jumps around the 32- and 64-bit word edges', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -70, max: 70 }), { maxLength: 300 }), (steps) => {
        const w = new ReplayWindow();
        const seen = new Set<number>();
        let top = -1;
        let cur = 100;
        for (const step of steps) {
          cur = Math.max(0, cur + step);
          const expected = !seen.has(cur) && (cur > top || top - cur < REPLAY_WINDOW_SIZE);
          assert.equal(w.check(cur), expected, `seq ${cur} top ${top}`);
          if (expected) {
            w.accept(cur);
            seen.add(cur);
            top = Math.max(top, cur);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('handles 48-bit sequence numbers', () => {
    const w = new ReplayWindow();
    const big = 2 ** 48 - 1;
    w.accept(big - 10);
    w.accept(big);
    assert.equal(w.check(big - 10), false);
    assert.equal(w.check(big - 9), true);
  });
});
