/**
 * Typed errors of the PKI room. One subclass per failure, each with a fixed `code` that callers
 * and tests match on (messages are for people and may change).
 */
import { RootlineError } from '../errors.js';

/** Base of every PKI failure, so callers can catch the whole room with one `instanceof`. */
export class PkiError extends RootlineError {}

/** Text is not a well-formed PEM block (RFC 7468), or not the expected label. */
export class MalformedPemError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PKI_MALFORMED_PEM', message, options);
  }
}

/** Bytes are not a well-formed X.509 certificate (RFC 5280 §4.1). */
export class MalformedCertificateError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PKI_MALFORMED_CERTIFICATE', message, options);
  }
}

/** Bytes are not a well-formed PKCS#10 certification request (RFC 2986). */
export class MalformedCsrError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PKI_MALFORMED_CSR', message, options);
  }
}

/** Bytes are not a well-formed X.509 CRL (RFC 5280 §5.1). */
export class MalformedCrlError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PKI_MALFORMED_CRL', message, options);
  }
}

/** Bytes are not a well-formed SubjectPublicKeyInfo, or the key is not of a usable type. */
export class MalformedPublicKeyError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PKI_MALFORMED_PUBLIC_KEY', message, options);
  }
}

/** A raw public key (RFC 7250) is well formed but not the one curve we accept (P-256). */
export class UnsupportedKeyError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_UNSUPPORTED_KEY', message);
  }
}

/** A signature algorithm we neither produce nor verify. */
export class UnsupportedAlgorithmError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_UNSUPPORTED_ALGORITHM', message);
  }
}

/** A CSR's self-signature does not verify with the public key it carries (proof of possession). */
export class BadCsrSignatureError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PKI_BAD_CSR_SIGNATURE', message, options);
  }
}

/** A certificate's (or CRL's) signature does not verify with its issuer's public key. */
export class BadSignatureError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PKI_BAD_SIGNATURE', message, options);
  }
}

/** No path from the certificate to one of the given trust anchors. */
export class UntrustedError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_UNTRUSTED', message);
  }
}

/** A certificate in the path is past its notAfter. */
export class ExpiredError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_EXPIRED', message);
  }
}

/** A certificate in the path is before its notBefore. */
export class NotYetValidError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_NOT_YET_VALID', message);
  }
}

/** A certificate in the path is listed on its issuer's CRL. */
export class RevokedError extends PkiError {
  readonly serialNumber: string;
  readonly reason: string;

  constructor(message: string, serialNumber: string, reason: string) {
    super('ERR_PKI_REVOKED', message);
    this.serialNumber = serialNumber;
    this.reason = reason;
  }
}

/** A certificate used as an issuer is not a CA (basicConstraints cA absent or false). */
export class NotACaError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_NOT_A_CA', message);
  }
}

/** A path is longer than an issuer's pathLenConstraint allows. */
export class PathLengthExceededError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_PATH_LENGTH_EXCEEDED', message);
  }
}

/** A key is used for something its keyUsage extension does not allow (e.g. keyCertSign, cRLSign). */
export class KeyUsageError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_KEY_USAGE', message);
  }
}

/** The leaf's extendedKeyUsage does not include the purpose asked for. */
export class WrongPurposeError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_WRONG_PURPOSE', message);
  }
}

/** A certificate or CRL carries a critical extension we do not process (RFC 5280 §4.2). */
export class UnknownCriticalExtensionError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_UNKNOWN_CRITICAL_EXTENSION', message);
  }
}

/** The CRL given for an issuer cannot be used: bad signature, wrong issuer, or stale. */
export class CrlUnusableError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PKI_CRL_UNUSABLE', message, options);
  }
}

/** A serial number the CA has already issued. */
export class DuplicateSerialError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_DUPLICATE_SERIAL', message);
  }
}

/** A serial number the CA never issued. */
export class UnknownSerialError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_UNKNOWN_SERIAL', message);
  }
}

/** The serial number is already revoked. */
export class AlreadyRevokedError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_ALREADY_REVOKED', message);
  }
}

/** The CA's signer does not hold the key certified in the CA certificate. */
export class SignerMismatchError extends PkiError {
  constructor(message: string) {
    super('ERR_PKI_SIGNER_MISMATCH', message);
  }
}
