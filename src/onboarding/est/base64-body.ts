/**
 * The transfer encoding of every EST body. RFC 7030 sends PKCS#10 requests, certs-only CMS and
 * CSR attributes as base64 of the DER, and RFC 8951 §3 settled that this holds whatever a
 * Content-Transfer-Encoding header says (HTTP has no such header of its own). We tolerate the
 * line breaks MIME encoders insert (RFC 2045 §6.8 lines of at most 76 characters) and refuse
 * everything else with a message saying what was sent instead: PEM armour, raw DER, other text.
 */
import { assertInteger } from '../../util/assert.js';
import { EstMalformedBodyError } from './errors.js';

export interface DecodeBase64BodyOptions {
  /** Refuse bodies that decode to more than this many bytes (default 256 KiB). */
  maxLength?: number;
  /** Names the body in error messages ("PKCS#10 request", "certs-only response", ...). */
  what?: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const LINE = 76;

/** Base64 of `der` in CRLF-separated lines of 76 characters (RFC 2045 §6.8), ending with CRLF. */
export function encodeBase64Body(der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += LINE) out += `${b64.slice(i, i + LINE)}\r\n`;
  return out;
}

/**
 * Decodes an EST body (string or raw bytes) to DER. Whitespace between characters is ignored;
 * anything outside the base64 alphabet, bad padding and non-canonical trailing bits are refused
 * (ERR_EST_MALFORMED_BODY), so one DER object has one accepted spelling modulo line breaks.
 */
export function decodeBase64Body(body: string | Uint8Array, options: DecodeBase64BodyOptions = {}): Uint8Array {
  const maxLength = options.maxLength ?? 256 * 1024;
  assertInteger(maxLength, 'options.maxLength', 1);
  const what = options.what ?? 'body';
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else if (body instanceof Uint8Array) {
    // Base64 text is printable ASCII and line breaks; anything else (DER's tags and lengths) was sent binary.
    if (body.some((b) => (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b > 0x7e)) {
      throw new EstMalformedBodyError(`${what} is binary; EST bodies are base64 text (RFC 7030, RFC 8951 §3)`);
    }
    text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  } else {
    throw new EstMalformedBodyError(`${what} must be text`);
  }
  // Each 4 base64 characters carry 3 bytes; check before decoding so a huge body costs nothing.
  if (text.length > Math.ceil(maxLength / 3) * 4 * 2 + 1024) throw new EstMalformedBodyError(`${what} is longer than ${maxLength} bytes`);
  if (text.includes('-----BEGIN')) {
    throw new EstMalformedBodyError(`${what} is PEM; EST bodies are the base64 DER alone, without -----BEGIN/END----- lines`);
  }
  const compact = text.replace(/[ \t\r\n]+/g, '');
  if (compact.length === 0) throw new EstMalformedBodyError(`${what} is empty`);
  if (!BASE64.test(compact)) {
    const bad = [...compact].findIndex((c, i) => !/[A-Za-z0-9+/=]/.test(c) || (c === '=' && i < compact.length - 2));
    const at = bad >= 0 ? ` (character ${JSON.stringify(compact[bad])} at ${bad})` : '';
    throw new EstMalformedBodyError(`${what} is not base64${at}`);
  }
  if (compact.length % 4 !== 0) throw new EstMalformedBodyError(`${what} is not base64: length ${compact.length} is not a multiple of 4`);
  const der = new Uint8Array(Buffer.from(compact, 'base64'));
  if (der.length > maxLength) throw new EstMalformedBodyError(`${what} is longer than ${maxLength} bytes`);
  // RFC 4648 §3.5: encoders set pad bits to zero; decoders MAY reject otherwise. We do, so the
  // decoded bytes determine the text (modulo whitespace).
  if (Buffer.from(der).toString('base64') !== compact) throw new EstMalformedBodyError(`${what} is not canonical base64 (non-zero pad bits)`);
  return der;
}
