/**
 * Status telemetry bodies on CoAP (RFC 8995 §5.7 voucher status, §5.9.4 enroll status): the JSON
 * of the HTTPS transport (Content-Format 50) or the same map in CBOR (60), which constrained
 * pledges prefer. CBOR is turned into the JSON text the registrar's strict parser takes, so both
 * transports share one set of rules; only text keys, and the value types JSON has, pass.
 */
import { decodeCbor } from '../../cose/cbor.js';
import { RootlineError } from '../../errors.js';
import { BadStatusTelemetryError } from '../registrar/errors.js';
import { STATUS_TELEMETRY_LIMITS } from '../registrar/status-telemetry.js';
import { BrskiCoapsFormat } from './content-formats.js';
import { CoapsUnsupportedContentFormatError } from './errors.js';

const MAX_DEPTH = 8;

function toJsonValue(v: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new BadStatusTelemetryError('status body nested too deeply');
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new BadStatusTelemetryError('status body holds a non-finite number');
    return v;
  }
  if (typeof v === 'bigint') {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new BadStatusTelemetryError('status body holds an integer out of range');
    return Number(v);
  }
  if (Array.isArray(v)) return v.map((x) => toJsonValue(x, depth + 1));
  if (v instanceof Map) {
    const out = Object.create(null) as Record<string, unknown>;
    for (const [k, x] of v) {
      if (typeof k !== 'string') throw new BadStatusTelemetryError('status body map keys must be text');
      out[k] = toJsonValue(x, depth + 1);
    }
    return out;
  }
  throw new BadStatusTelemetryError('status body holds a value JSON cannot carry (bytes, tag, undefined)');
}

/** The JSON bytes of a status body received with `contentFormat` (50 or 60). */
export function statusBodyAsJson(payload: Uint8Array, contentFormat: number | undefined): Uint8Array {
  if (contentFormat === BrskiCoapsFormat.Json) return payload;
  if (contentFormat !== BrskiCoapsFormat.Cbor) throw new CoapsUnsupportedContentFormatError(`status telemetry is application/json (50) or application/cbor (60), got ${contentFormat ?? 'none'}`);
  if (!(payload instanceof Uint8Array) || payload.length > STATUS_TELEMETRY_LIMITS.bodyBytes) throw new BadStatusTelemetryError(`status body larger than ${STATUS_TELEMETRY_LIMITS.bodyBytes} bytes`);
  let value: unknown;
  try {
    value = decodeCbor(payload, { maxDepth: MAX_DEPTH });
  } catch (err) {
    if (err instanceof RootlineError) throw new BadStatusTelemetryError(`status body is not CBOR: ${err.message}`, { cause: err });
    throw err;
  }
  if (!(value instanceof Map)) throw new BadStatusTelemetryError('status body must be a CBOR map');
  return new TextEncoder().encode(JSON.stringify(toJsonValue(value, 0)));
}
