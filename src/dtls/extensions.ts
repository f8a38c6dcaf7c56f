/**
 * Hello extensions (RFC 5246 §7.4.1.4) and the bodies of the ones this room speaks:
 * supported_groups / ec_point_formats (RFC 8422), signature_algorithms (RFC 5246), the
 * certificate type extensions (RFC 7250), extended_master_secret (RFC 7627),
 * renegotiation_info (RFC 5746) and connection_id (RFC 9146).
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { DtlsDecodeError } from './errors.js';

export interface Extension {
  type: number;
  data: Uint8Array;
}

/** Decodes the extensions block that may end a hello (absent = empty list). */
export function decodeExtensions(r: ByteReader, what: string): Extension[] {
  if (r.remaining === 0) return [];
  const block = new ByteReader(r.vector(2, 0, 0xffff, 'extensions'), what);
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (block.remaining > 0) {
    const type = block.u16();
    const data = block.vector(2, 0, 0xffff, `extension ${type}`);
    // RFC 5246 §7.4.1.4: "There MUST NOT be more than one extension of the same type."
    if (seen.has(type)) throw new DtlsDecodeError(`${what}: duplicate extension ${type}`);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

export function encodeExtensions(w: ByteWriter, exts: readonly Extension[]): void {
  if (exts.length === 0) return;
  const inner = new ByteWriter();
  for (const e of exts) inner.u16(e.type).vector(2, e.data);
  w.vector(2, inner.finish());
}

export function findExtension(exts: readonly Extension[], type: number): Extension | undefined {
  return exts.find((e) => e.type === type);
}

/** A `uint16 list<2..2^16-2>` body (supported_groups, signature_algorithms). */
export function encodeU16List(values: readonly number[]): Uint8Array {
  const inner = new ByteWriter();
  for (const v of values) inner.u16(v);
  return new ByteWriter().vector(2, inner.finish()).finish();
}

export function decodeU16List(data: Uint8Array, what: string): number[] {
  const r = new ByteReader(data, what);
  const list = r.vector(2, 2, 0xfffe, 'list');
  r.end();
  if (list.length % 2 !== 0) throw new DtlsDecodeError(`${what}: odd list length`);
  const lr = new ByteReader(list, what);
  const out: number[] = [];
  while (lr.remaining > 0) out.push(lr.u16());
  return out;
}

/** A `uint8 list<1..2^8-1>` body (ec_point_formats, the client's certificate type lists). */
export function encodeU8List(values: readonly number[]): Uint8Array {
  return new ByteWriter().vector(1, Uint8Array.from(values)).finish();
}

export function decodeU8List(data: Uint8Array, what: string): number[] {
  const r = new ByteReader(data, what);
  const list = r.vector(1, 1, 0xff, 'list');
  r.end();
  return Array.from(list);
}

/** renegotiation_info / connection_id body: `opaque <0..255>`. */
export function encodeOpaque8(value: Uint8Array): Uint8Array {
  return new ByteWriter().vector(1, value).finish();
}

export function decodeOpaque8(data: Uint8Array, what: string): Uint8Array {
  const r = new ByteReader(data, what);
  const v = r.vector(1, 0, 0xff, 'value');
  r.end();
  return v;
}

/** Server's certificate type choice (RFC 7250 §3): a single CertificateType byte. */
export function decodeSingleU8(data: Uint8Array, what: string): number {
  const r = new ByteReader(data, what);
  const v = r.u8();
  r.end();
  return v;
}
