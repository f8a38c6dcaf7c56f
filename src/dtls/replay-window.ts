/**
 * Anti-replay sliding window (RFC 6347 §4.1.2.6), 64 records wide.
 *
 * RFC 6347 §4.1.2.6: "A new right edge is initialized ... The receiver MUST [only update the
 * window] if the MAC verification succeeds" — so `check()` is called before decryption and
 * `accept()` only after the record authenticated. "Duplicates are rejected through the use of a
 * sliding receive window ... Records falling below the window are rejected."
 */
export const REPLAY_WINDOW_SIZE = 64;

export class ReplayWindow {
  /** Highest sequence number accepted so far, -1 before the first. */
  private top = -1;
  /**
   * The 64-bit bitmap as two 32-bit words (no BigInt: this runs for every record). Bit i set ⇔
   * sequence number (top - i) was accepted; bit 0 of `lo` is `top` itself. Kept as signed
   * 32-bit values (`| 0`), which V8 stores as small integers: no heap number per session.
   */
  private lo = 0;
  private hi = 0;

  /** Highest sequence number accepted so far (-1 before any). */
  get highest(): number {
    return this.top;
  }

  private bit(i: number): number {
    return i < 32 ? (this.lo >>> i) & 1 : (this.hi >>> (i - 32)) & 1;
  }

  /** True if `seq` is new: above the window, or inside it and not yet seen. */
  check(seq: number): boolean {
    if (seq > this.top) return true;
    const diff = this.top - seq;
    if (diff >= REPLAY_WINDOW_SIZE) return false;
    return this.bit(diff) === 0;
  }

  /** Marks `seq` as received; call only after the record authenticated. */
  accept(seq: number): void {
    if (seq > this.top) {
      const shift = this.top < 0 ? REPLAY_WINDOW_SIZE : seq - this.top;
      if (shift >= 64) {
        this.hi = 0;
        this.lo = 0;
      } else if (shift >= 32) {
        this.hi = shift === 32 ? this.lo : this.lo << (shift - 32);
        this.lo = 0;
      } else {
        this.hi = (this.hi << shift) | (this.lo >>> (32 - shift));
        this.lo = this.lo << shift;
      }
      this.lo = this.lo | 1;
      this.top = seq;
      return;
    }
    const diff = this.top - seq;
    if (diff >= REPLAY_WINDOW_SIZE) return;
    if (diff < 32) this.lo = this.lo | (1 << diff);
    else this.hi = this.hi | (1 << (diff - 32));
  }

  /** The bitmap's low and high 32 bits (unsigned), for handing the window to the native fast path. */
  get low(): number {
    return this.lo >>> 0;
  }

  get high(): number {
    return this.hi >>> 0;
  }

  /** Takes a window back from the native fast path: highest sequence number and bitmap words. */
  restore(top: number, low: number, high: number): void {
    this.top = top;
    this.lo = low | 0;
    this.hi = high | 0;
  }

  /** Forgets everything (a new epoch starts a new window). */
  reset(): void {
    this.top = -1;
    this.lo = 0;
    this.hi = 0;
  }
}
