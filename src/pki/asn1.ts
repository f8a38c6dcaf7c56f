/**
 * Internal: running untrusted bytes through @peculiar/asn1-schema. The library throws plain
 * Errors and TypeErrors on bad input and tolerates BER and trailing bytes; this wrapper insists on
 * one DER SEQUENCE, caps asn1js's resource use, and turns every failure into the caller's typed
 * error.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { RootlineError } from '../errors.js';
import { readOuterSequence, toArrayBuffer, type Tlv } from './der.js';

export type ErrorFactory = (message: string, cause?: unknown) => RootlineError;

const BER_LIMITS = { maxDepth: 32, maxNodes: 20000, maxContentLength: 4 * 1024 * 1024 };

/** Parses `der` as `target`; returns the object and the outer SEQUENCE's children. */
export function parseStrict<T>(der: Uint8Array, target: new () => T, fail: ErrorFactory, what: string): { value: T; children: Tlv[] } {
  const children = readOuterSequence(der);
  if (typeof children === 'string') throw fail(`${what}: ${children}`);
  try {
    return { value: AsnConvert.parse(toArrayBuffer(der), target, { berOptions: BER_LIMITS }), children };
  } catch (err) {
    throw fail(`${what}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** Runs `fn`, turning anything but a RootlineError into the caller's typed error. */
export function guard<T>(fn: () => T, fail: ErrorFactory, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RootlineError) throw err;
    throw fail(`${what}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** Child TLVs of the SEQUENCE at `tlv` inside `der`, with offsets into `der` (or a reason string). */
export function childrenOf(der: Uint8Array, tlv: Tlv): Tlv[] | string {
  const kids = readOuterSequence(der.subarray(tlv.offset, tlv.end));
  if (typeof kids === 'string') return kids;
  return kids.map((c) => ({ tag: c.tag, offset: c.offset + tlv.offset, start: c.start + tlv.offset, end: c.end + tlv.offset }));
}
