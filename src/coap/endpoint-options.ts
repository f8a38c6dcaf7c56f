/**
 * Options of a CoapEndpoint, with their checks. Every limit has a safe default (README.md).
 */
import { InvalidArgumentError } from '../errors.js';
import { assertInteger } from '../util/assert.js';
import type { DecodeLimits } from './codec.js';
import type { ObserveLimits } from './observe.js';
import { DEFAULT_TRANSMISSION, type TransmissionParameters } from './reliability.js';
import type { DatagramTransport } from './transport.js';

export interface CoapEndpointOptions {
  /** RFC 7252 §4.8 parameters; tests shorten ackTimeoutMs. */
  transmission?: Partial<TransmissionParameters>;
  /** A handler slower than this gets an empty ACK first and a separate response (default ACK_TIMEOUT/2). */
  separateResponseAfterMs?: number;
  /** Message-ID deduplication entries kept (default 50000). */
  maxDedupEntries?: number;
  decodeLimits?: DecodeLimits;
  /** Largest Block1-reassembled request body (default 1 MiB); larger ones get 4.13 with Size1. */
  maxRequestBodySize?: number;
  /** Largest Block2-reassembled response body the client accepts (default 16 MiB). */
  maxResponseBodySize?: number;
  /** Preferred (and largest) block size exponent, 0..6 (default 6: 1024 bytes). */
  preferredBlockSzx?: number;
  /** Concurrent Block1 reassemblies kept (default 256). */
  maxBlock1Transfers?: number;
  /** Cached large representations for Block2 follow-up requests (default 64). */
  maxBlock2CacheEntries?: number;
  observe?: ObserveLimits & {
    /** Every n-th notification is CON (default 5). */
    confirmableEvery?: number;
    /** RFC 7641 §4.5: at least one CON notification per this interval (default 24 h). */
    confirmableIntervalMs?: number;
  };
  /** Token length for our requests, 0..8 (default 8, random). */
  tokenLength?: number;
  /** Critical option numbers handled above this layer (e.g. by OSCORE), beyond the registry. */
  recognizedOptions?: number[];
  /** How long a client waits for a separate or NON response (default EXCHANGE_LIFETIME). */
  responseTimeoutMs?: number;
  /** Close the transport on close() (default true). */
  closeTransport?: boolean;
  random?: () => number;
}

/** Throws InvalidArgumentError naming the first bad option. */
export function validateEndpointOptions(transport: DatagramTransport, options: CoapEndpointOptions): void {
  if (transport === null || typeof transport !== 'object' || typeof transport.send !== 'function' || typeof transport.onDatagram !== 'function') {
    throw new InvalidArgumentError('transport', 'expected a DatagramTransport');
  }
  const t: TransmissionParameters = { ...DEFAULT_TRANSMISSION, ...options.transmission };
  if (!(t.ackTimeoutMs > 0)) throw new InvalidArgumentError('transmission.ackTimeoutMs', `expected > 0, got ${t.ackTimeoutMs}`);
  if (!(t.ackRandomFactor >= 1)) throw new InvalidArgumentError('transmission.ackRandomFactor', `expected >= 1, got ${t.ackRandomFactor}`);
  if (!(t.maxLatencyMs >= 0)) throw new InvalidArgumentError('transmission.maxLatencyMs', `expected >= 0, got ${t.maxLatencyMs}`);
  assertInteger(t.maxRetransmit, 'transmission.maxRetransmit', 0, 20);
  assertInteger(t.nstart, 'transmission.nstart', 1, 1000);
  if (options.tokenLength !== undefined) assertInteger(options.tokenLength, 'tokenLength', 0, 8);
  if (options.preferredBlockSzx !== undefined) assertInteger(options.preferredBlockSzx, 'preferredBlockSzx', 0, 6);
  for (const [name, v] of [['maxDedupEntries', options.maxDedupEntries], ['maxRequestBodySize', options.maxRequestBodySize], ['maxResponseBodySize', options.maxResponseBodySize], ['maxBlock1Transfers', options.maxBlock1Transfers], ['maxBlock2CacheEntries', options.maxBlock2CacheEntries]] as const) {
    if (v !== undefined) assertInteger(v, name, 0);
  }
}
