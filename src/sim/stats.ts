/** Counters and latency samples of a fleet run, and the summary they produce. */

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles (ms, rounded to 0.1); all zero for no samples. */
export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number): number => {
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return Math.round(sorted[rank - 1]! * 10) / 10;
  };
  return { count: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: at(100) };
}

export interface FleetSummary {
  devices: number;
  registered: number;
  failed: number;
  /** Failures by error code (plus the CoAP code for a refused Register, e.g. ERR_LWM2M_REGISTRATION_FAILED 4.03). */
  failedByReason: Record<string, number>;
  /** Start of the DTLS handshake until the session is up (ms). */
  handshakeMs: Percentiles;
  /** Start of the device until its Register was answered 2.01 (handshake included, ms). */
  registrationMs: Percentiles;
  /** Registered devices per second over the ramp (first start to last registration). */
  registrationsPerSecond: number;
  /** Registration Updates answered 2.04, and those that failed (the SDK retries them). */
  updates: number;
  updateErrors: number;
  /** Notifications of observed resources the devices sent (see README: how they are counted). */
  notificationsSent: number;
  /** Values the devices reported to server Reads and Observe registrations (not notifications). */
  readsAnswered: number;
  /** Devices still registered when the summary was taken. */
  stillRegistered: number;
  elapsedSeconds: number;
}

/** Mutable counters the devices and the fleet update while running. */
export class FleetCounters {
  registered = 0;
  failed = 0;
  readonly failedByReason = new Map<string, number>();
  readonly handshakeMs: number[] = [];
  readonly registrationMs: number[] = [];
  updates = 0;
  updateErrors = 0;
  notificationsSent = 0;
  readsAnswered = 0;
  firstStartAt = 0;
  lastRegisteredAt = 0;

  fail(reason: string): void {
    this.failed++;
    this.failedByReason.set(reason, (this.failedByReason.get(reason) ?? 0) + 1);
  }

  summary(devices: number, stillRegistered: number, elapsedMs: number): FleetSummary {
    const rampMs = this.lastRegisteredAt - this.firstStartAt;
    return {
      devices,
      registered: this.registered,
      failed: this.failed,
      failedByReason: Object.fromEntries([...this.failedByReason].sort((a, b) => b[1] - a[1])),
      handshakeMs: percentiles(this.handshakeMs),
      registrationMs: percentiles(this.registrationMs),
      registrationsPerSecond: this.registered > 0 && rampMs > 0 ? Math.round((this.registered / rampMs) * 1000 * 10) / 10 : 0,
      updates: this.updates,
      updateErrors: this.updateErrors,
      notificationsSent: this.notificationsSent,
      readsAnswered: this.readsAnswered,
      stillRegistered,
      elapsedSeconds: Math.round(elapsedMs / 100) / 10,
    };
  }
}
