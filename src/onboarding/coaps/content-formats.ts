/**
 * CoAP Content-Format numbers of EST-coaps (RFC 9148 §8.1, IANA "CoAP Content-Formats") and of
 * constrained BRSKI (draft-ietf-anima-constrained-voucher, application/voucher+cose).
 */
export const EstCoapsFormat = {
  /** application/pkcs7-mime; smime-type=certs-only: certs-only CMS, DER. */
  CertsOnly: 281,
  /** application/csrattrs: RFC 7030 §4.5.2 CsrAttrs, DER. */
  CsrAttrs: 285,
  /** application/pkcs10: a PKCS#10 request, DER (RFC 9148 §4.3: binary, never base64). */
  Pkcs10: 286,
  /** application/pkix-cert: one certificate, DER. */
  PkixCert: 287,
} as const;

export const BrskiCoapsFormat = {
  /** application/voucher+cose: a COSE_Sign1 voucher or voucher request. */
  VoucherCose: 836,
  /** Status telemetry (RFC 8995 §5.7, §5.9.4) as JSON ... */
  Json: 50,
  /** ... or the same map in CBOR. */
  Cbor: 60,
} as const;

/** Short resource names of RFC 9148 §4.1 (Table 1), EST operation → path segment. */
export const EST_SHORT_NAMES = { cacerts: 'crts', simpleenroll: 'sen', simplereenroll: 'sren', csrattrs: 'att' } as const;

/** Constrained BRSKI resource names (draft-ietf-anima-constrained-voucher). */
export const BRSKI_SHORT_NAMES = { requestvoucher: 'rv', voucher_status: 'vs', enrollstatus: 'es' } as const;
