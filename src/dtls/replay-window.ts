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
  /** Bit i set ⇔ sequence number (top - i) was accepted; bit 0 is `top` itself. */
  private bits = 0n;

  /** Highest sequence number accepted so far (-1 before any). */
  get highest(): number {
    return this.top;
  }

  /** True if `seq` is new: above the window, or inside it and not yet seen. */
  check(seq: number): boolean {
    if (seq > this.top) return true;
    const diff = this.top - seq;
    if (diff >= REPLAY_WINDOW_SIZE) return false;
    return ((this.bits >> BigInt(diff)) & 1n) === 0n;
  }

  /** Marks `seq` as received; call only after the record authenticated. */
  accept(seq: number): void {
    if (seq > this.top) {
      const shift = this.top < 0 ? REPLAY_WINDOW_SIZE : seq - this.top;
      this.bits = shift >= REPLAY_WINDOW_SIZE ? 1n : ((this.bits << BigInt(shift)) | 1n) & 0xffff_ffff_ffff_ffffn;
      this.top = seq;
      return;
    }
    const diff = this.top - seq;
    if (diff < REPLAY_WINDOW_SIZE) this.bits |= 1n << BigInt(diff);
  }

  /** Forgets everything (a new epoch starts a new window). */
  reset(): void {
    this.top = -1;
    this.bits = 0n;
  }
}
