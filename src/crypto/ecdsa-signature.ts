/**
 * ECDSA signature encodings: raw r||s (COSE, JOSE, PKCS#11 CKM_ECDSA output) and the DER
 * `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` used by X.509, CMS and TLS.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertBytes } from '../util/assert.js';

function derInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  const pad = (trimmed[0]! & 0x80) !== 0 ? 1 : 0;
  const out = new Uint8Array(2 + pad + trimmed.length);
  out[0] = 0x02;
  out[1] = pad + trimmed.length;
  out.set(trimmed, 2 + pad);
  return out;
}

/** raw r||s (2*n bytes) → DER. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  assertBytes(raw, 'raw', { len: [64, 96, 132] });
  const n = raw.length / 2;
  const r = derInteger(raw.subarray(0, n));
  const s = derInteger(raw.subarray(n));
  const body = r.length + s.length;
  const header = body < 128 ? [0x30, body] : [0x30, 0x81, body];
  const out = new Uint8Array(header.length + body);
  out.set(header, 0);
  out.set(r, header.length);
  out.set(s, header.length + r.length);
  return out;
}

/** DER → raw r||s, each integer left-padded to `size` bytes (32 for P-256). */
export function ecdsaDerToRaw(der: Uint8Array, size = 32): Uint8Array {
  assertBytes(der, 'der', { min: 8, max: 2 * size + 16 });
  const fail = (why: string): never => {
    throw new InvalidArgumentError('der', `malformed ECDSA signature: ${why}`);
  };
  let p = 0;
  if (der[p++] !== 0x30) fail('not a SEQUENCE');
  let len = der[p++]!;
  if (len === 0x81) len = der[p++]!;
  else if (len > 0x80) fail('bad length');
  if (p + len !== der.length) fail('length mismatch');
  const out = new Uint8Array(2 * size);
  for (let k = 0; k < 2; k++) {
    if (der[p++] !== 0x02) fail('not an INTEGER');
    const ilen = der[p++];
    if (ilen === undefined || ilen === 0 || p + ilen > der.length) fail('bad INTEGER length');
    let v = der.subarray(p, p + ilen!);
    p += ilen!;
    if (v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0) fail('non-minimal INTEGER');
    if ((v[0]! & 0x80) !== 0) fail('negative INTEGER');
    while (v.length > 0 && v[0] === 0) v = v.subarray(1);
    if (v.length > size) fail('INTEGER too large');
    out.set(v, k * size + size - v.length);
  }
  if (p !== der.length) fail('trailing bytes');
  return out;
}
