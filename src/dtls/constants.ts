/** Protocol numbers of DTLS 1.2 (RFC 6347, RFC 5246 and the IANA TLS registries). */

export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
  /** RFC 9146 §4: records carrying a connection ID. */
  tls12Cid: 25,
} as const;

/** DTLS 1.2 and DTLS 1.0 on the wire (one's complement of 1.2 and 1.1 as RFC 6347 §4.1 says). */
export const DTLS_1_2 = 0xfefd;
export const DTLS_1_0 = 0xfeff;

export const HandshakeType = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
} as const;

export const AlertLevel = { warning: 1, fatal: 2 } as const;

export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  recordOverflow: 22,
  handshakeFailure: 40,
  badCertificate: 42,
  unsupportedCertificate: 43,
  certificateUnknown: 46,
  illegalParameter: 47,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  insufficientSecurity: 71,
  internalError: 80,
  noRenegotiation: 100,
  unsupportedExtension: 110,
  unknownPskIdentity: 115,
} as const;

export function alertName(description: number): string {
  for (const [name, v] of Object.entries(AlertDescription)) if (v === description) return name;
  return `alert_${description}`;
}

export const ExtensionType = {
  supportedGroups: 10,
  ecPointFormats: 11,
  signatureAlgorithms: 13,
  clientCertificateType: 19,
  serverCertificateType: 20,
  encryptThenMac: 22,
  extendedMasterSecret: 23,
  sessionTicket: 35,
  connectionId: 54,
  renegotiationInfo: 0xff01,
} as const;

/** RFC 7250 / IANA TLS Certificate Types. */
export const CertificateType = { x509: 0, rawPublicKey: 2 } as const;

export const NamedGroup = { secp256r1: 23, x25519: 29 } as const;

/** SignatureScheme values for TLS 1.2 (hash << 8 | signature, RFC 5246 §7.4.1.4.1; 0x0807 from RFC 8422). */
export const SignatureScheme = { ecdsaSecp256r1Sha256: 0x0403, ed25519: 0x0807 } as const;

/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3). */
export const EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

export type KeyExchange = 'psk' | 'ecdhe_ecdsa';
export type BulkCipher = 'aes-128-ccm8' | 'aes-128-gcm' | 'aria-128-gcm' | 'lea-128-ccm8' | 'lea-128-gcm';

export interface CipherSuiteInfo {
  id: number;
  name: string;
  keyExchange: KeyExchange;
  cipher: BulkCipher;
}

/** The suites this room implements (all AEAD, all with the SHA-256 PRF). */
export const CIPHER_SUITES: readonly CipherSuiteInfo[] = [
  { id: 0xc0a8, name: 'TLS_PSK_WITH_AES_128_CCM_8', keyExchange: 'psk', cipher: 'aes-128-ccm8' },
  { id: 0x00a8, name: 'TLS_PSK_WITH_AES_128_GCM_SHA256', keyExchange: 'psk', cipher: 'aes-128-gcm' },
  { id: 0xc06a, name: 'TLS_PSK_WITH_ARIA_128_GCM_SHA256', keyExchange: 'psk', cipher: 'aria-128-gcm' },
  { id: 0xc0ae, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', keyExchange: 'ecdhe_ecdsa', cipher: 'aes-128-ccm8' },
  { id: 0xc02b, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', keyExchange: 'ecdhe_ecdsa', cipher: 'aes-128-gcm' },
  { id: 0xc05c, name: 'TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256', keyExchange: 'ecdhe_ecdsa', cipher: 'aria-128-gcm' },
  // LEA (KS X 3246) has no IANA code points: these sit in the private-use range 0xFF00-0xFFFF
  // (RFC 5246 §12: first byte 255 is for Private Use), are off by default and only interoperate with peers configured the same way.
  { id: 0xffa8, name: 'TLS_PSK_WITH_LEA_128_CCM_8', keyExchange: 'psk', cipher: 'lea-128-ccm8' },
  { id: 0xffa9, name: 'TLS_PSK_WITH_LEA_128_GCM_SHA256', keyExchange: 'psk', cipher: 'lea-128-gcm' },
  { id: 0xffae, name: 'TLS_ECDHE_ECDSA_WITH_LEA_128_CCM_8', keyExchange: 'ecdhe_ecdsa', cipher: 'lea-128-ccm8' },
  { id: 0xffaf, name: 'TLS_ECDHE_ECDSA_WITH_LEA_128_GCM_SHA256', keyExchange: 'ecdhe_ecdsa', cipher: 'lea-128-gcm' },
];

export const CipherSuite = {
  TLS_PSK_WITH_AES_128_CCM_8: 0xc0a8,
  TLS_PSK_WITH_AES_128_GCM_SHA256: 0x00a8,
  TLS_PSK_WITH_ARIA_128_GCM_SHA256: 0xc06a,
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: 0xc0ae,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 0xc02b,
  TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256: 0xc05c,
  /** Private use, off by default. */
  TLS_PSK_WITH_LEA_128_CCM_8: 0xffa8,
  TLS_PSK_WITH_LEA_128_GCM_SHA256: 0xffa9,
  TLS_ECDHE_ECDSA_WITH_LEA_128_CCM_8: 0xffae,
  TLS_ECDHE_ECDSA_WITH_LEA_128_GCM_SHA256: 0xffaf,
} as const;

export function cipherSuiteInfo(id: number): CipherSuiteInfo | undefined {
  return CIPHER_SUITES.find((s) => s.id === id);
}
