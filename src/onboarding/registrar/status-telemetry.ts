/**
 * The pledge's status telemetry (RFC 8995 §5.7 voucher status, §5.9.4 enrollment status): a
 * small JSON object `{"version": 1, "status": true|false, "reason": "...", "reason-context": {}}`.
 * Parsed strictly enough that only a typed error escapes, whatever the pledge sends.
 */
import { BadStatusTelemetryError } from './errors.js';

export interface StatusTelemetry {
  version: number;
  status: boolean;
  reason?: string;
  /** Kept as JSON text (bounded), for the audit record. */
  reasonContext?: string;
}

export const STATUS_TELEMETRY_LIMITS = Object.freeze({ bodyBytes: 16_384, reason: 1024, reasonContext: 8192 });

export function parseStatusTelemetry(body: Uint8Array): StatusTelemetry {
  if (!(body instanceof Uint8Array) || body.length === 0) throw new BadStatusTelemetryError('empty status body');
  if (body.length > STATUS_TELEMETRY_LIMITS.bodyBytes) throw new BadStatusTelemetryError(`status body larger than ${STATUS_TELEMETRY_LIMITS.bodyBytes} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (err) {
    throw new BadStatusTelemetryError('status body is not UTF-8', { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BadStatusTelemetryError('status body is not JSON', { cause: err });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new BadStatusTelemetryError('status body is not a JSON object');
  const o = json as Record<string, unknown>;
  // §5.7: "version ... 1"; some pledges send it as a string.
  const version = typeof o.version === 'string' && /^[0-9]{1,3}$/.test(o.version) ? Number(o.version) : o.version;
  if (version !== 1) throw new BadStatusTelemetryError('status version must be 1');
  if (typeof o.status !== 'boolean') throw new BadStatusTelemetryError('status must be true or false');
  const out: StatusTelemetry = { version, status: o.status };
  if (o.reason !== undefined) {
    if (typeof o.reason !== 'string' || o.reason.length > STATUS_TELEMETRY_LIMITS.reason) throw new BadStatusTelemetryError(`reason must be a string of at most ${STATUS_TELEMETRY_LIMITS.reason} characters`);
    out.reason = o.reason;
  }
  const ctx = o['reason-context'];
  if (ctx !== undefined) {
    if (ctx === null || typeof ctx !== 'object' || Array.isArray(ctx)) throw new BadStatusTelemetryError('reason-context must be an object');
    const t = JSON.stringify(ctx);
    if (t.length > STATUS_TELEMETRY_LIMITS.reasonContext) throw new BadStatusTelemetryError('reason-context too large');
    out.reasonContext = t;
  }
  return out;
}

/** The body a pledge sends. */
export function encodeStatusTelemetry(status: boolean, reason?: string, reasonContext?: Record<string, unknown>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: 1, status, ...(reason !== undefined ? { reason } : {}), ...(reasonContext !== undefined ? { 'reason-context': reasonContext } : {}) }));
}
