/**
 * The body of POST /simpleenroll and /simplereenroll: a PKCS#10 CertificationRequest (RFC 2986),
 * media type application/pkcs10, base64 of its DER (RFC 7030 §4.2.1, RFC 8951 §3).
 */
import { RootlineError } from '../../errors.js';
import { parseCsr, verifyCsr, type ParsedCsr } from '../../pki/parse-csr.js';
import { decodeBase64Body } from './base64-body.js';
import { EstBadCsrError } from './errors.js';

export const PKCS10_MEDIA_TYPE = 'application/pkcs10';

export interface DecodePkcs10BodyOptions {
  /** Refuse requests longer than this many bytes of DER (default 64 KiB). */
  maxLength?: number;
}

/**
 * Decodes the base64 body, parses the CSR and checks its self-signature: RFC 7030 §3.4 relies on
 * the PKCS#10 signature as the proof that the client holds the private key. Body encoding
 * problems are ERR_EST_MALFORMED_BODY; a CSR that does not parse or whose signature does not
 * verify is ERR_EST_BAD_CSR.
 */
export function decodePkcs10Body(body: string | Uint8Array, options: DecodePkcs10BodyOptions = {}): ParsedCsr {
  const maxLength = options.maxLength ?? 64 * 1024;
  const der = decodeBase64Body(body, { maxLength, what: 'PKCS#10 request' });
  try {
    return verifyCsr(parseCsr(der, { maxLength }));
  } catch (err) {
    if (err instanceof RootlineError) throw new EstBadCsrError(`PKCS#10 request refused: ${err.message}`, { cause: err });
    throw err;
  }
}
