/**
 * Typed errors of the COSE room. One subclass per failure, each with a fixed `code` (ERR_COSE_*,
 * ERR_CWT_*) that callers and tests match on; messages are for people and may change. Bad
 * arguments to public functions throw the shared InvalidArgumentError (ERR_INVALID_ARGUMENT).
 */
import { RootlineError } from '../errors.js';

/** Base of every COSE and CWT failure, so callers can catch the whole room with one `instanceof`. */
export class CoseError extends RootlineError {}

/** The bytes are not well-formed CBOR, or break a decoding limit (depth, duplicate keys, ...). */
export class CoseMalformedCborError extends CoseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_COSE_MALFORMED_CBOR', message, options);
  }
}

/** Well-formed CBOR, but not the COSE structure expected (RFC 9052 §2-§3 CDDL). */
export class CoseMalformedMessageError extends CoseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_COSE_MALFORMED', message, options);
  }
}

/** Tagged with a CBOR tag other than the one of the expected COSE message type. */
export class CoseUnexpectedTagError extends CoseError {
  readonly tag: number | bigint;
  constructor(tag: number | bigint, expected: string) {
    super('ERR_COSE_UNEXPECTED_TAG', `CBOR tag ${tag} is not ${expected}`);
    this.tag = tag;
  }
}

/** The message names an algorithm this library does not implement for this message type. */
export class CoseUnsupportedAlgorithmError extends CoseError {
  readonly algorithm: unknown;
  constructor(algorithm: unknown, what: string) {
    super('ERR_COSE_UNSUPPORTED_ALGORITHM', `algorithm ${JSON.stringify(algorithm)} is not a supported ${what} algorithm`);
    this.algorithm = algorithm;
  }
}

/** The algorithm is implemented but not in the caller's allowlist. */
export class CoseAlgorithmNotAllowedError extends CoseError {
  readonly algorithm: number;
  constructor(algorithm: number) {
    super('ERR_COSE_ALGORITHM_NOT_ALLOWED', `algorithm ${algorithm} is not in the allowed list`);
    this.algorithm = algorithm;
  }
}

/** The key cannot be used with the message's algorithm (wrong key type, curve or length). */
export class CoseKeyMismatchError extends CoseError {
  constructor(message: string) {
    super('ERR_COSE_KEY_MISMATCH', message);
  }
}

/** The key resolver found no key for the message (e.g. an unknown kid). */
export class CoseKeyNotFoundError extends CoseError {
  readonly kid: Uint8Array | undefined;
  constructor(kid: Uint8Array | undefined) {
    super('ERR_COSE_KEY_NOT_FOUND', kid === undefined ? 'no key for a message without kid' : `no key for kid ${Buffer.from(kid).toString('hex')}`);
    this.kid = kid;
  }
}

/** A header parameter listed in "crit" is not understood (RFC 9052 §3.1). */
export class CoseUnknownCriticalHeaderError extends CoseError {
  readonly label: number | string;
  constructor(label: number | string) {
    super('ERR_COSE_UNKNOWN_CRITICAL_HEADER', `critical header parameter ${JSON.stringify(label)} is not understood`);
    this.label = label;
  }
}

/** The message has a nil (detached) payload or ciphertext and the caller supplied none. */
export class CoseDetachedContentError extends CoseError {
  constructor(what: string) {
    super('ERR_COSE_DETACHED_CONTENT', `the message's ${what} is detached and none was supplied`);
  }
}

/** A COSE_Sign1 signature does not verify. */
export class CoseSignatureInvalidError extends CoseError {
  constructor() {
    super('ERR_COSE_SIGNATURE_INVALID', 'COSE_Sign1 signature verification failed');
  }
}

/** A COSE_Mac0 tag does not verify. */
export class CoseMacInvalidError extends CoseError {
  constructor() {
    super('ERR_COSE_MAC_INVALID', 'COSE_Mac0 authentication tag verification failed');
  }
}

/**
 * A COSE_Encrypt0 ciphertext does not authenticate. Like RFC 5116 §2.2 it says nothing about
 * why, and never comes with plaintext.
 */
export class CoseDecryptionFailedError extends CoseError {
  constructor(options?: { cause?: unknown }) {
    super('ERR_COSE_DECRYPTION_FAILED', 'COSE_Encrypt0 decryption failed', options);
  }
}

/** A COSE_Key is malformed: wrong types, missing or inconsistent parameters, a point not on the curve. */
export class CoseInvalidKeyError extends CoseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_COSE_INVALID_KEY', message, options);
  }
}

/** A COSE_Key of a key type or curve this library does not handle. */
export class CoseUnsupportedKeyError extends CoseError {
  constructor(message: string) {
    super('ERR_COSE_UNSUPPORTED_KEY', message);
  }
}

/** Base of the CBOR Web Token failures. */
export class CwtError extends CoseError {}

/** The payload is not a CWT Claims Set, or a registered claim has the wrong type (RFC 8392 §3). */
export class CwtMalformedError extends CwtError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CWT_MALFORMED', message, options);
  }
}

/** "exp" is in the past (RFC 8392 §3.1.4, RFC 7519 §4.1.4). */
export class CwtExpiredError extends CwtError {
  readonly expiration: number;
  constructor(expiration: number, now: number) {
    super('ERR_CWT_EXPIRED', `CWT expired at ${expiration}, now is ${now}`);
    this.expiration = expiration;
  }
}

/** "nbf" is in the future (RFC 8392 §3.1.5, RFC 7519 §4.1.5). */
export class CwtNotYetValidError extends CwtError {
  readonly notBefore: number;
  constructor(notBefore: number, now: number) {
    super('ERR_CWT_NOT_YET_VALID', `CWT not valid before ${notBefore}, now is ${now}`);
    this.notBefore = notBefore;
  }
}

/** "iss" is absent or not one of the expected issuers. */
export class CwtIssuerMismatchError extends CwtError {
  constructor(actual: string | undefined) {
    super('ERR_CWT_ISSUER_MISMATCH', actual === undefined ? 'CWT has no iss claim' : `unexpected CWT issuer ${JSON.stringify(actual)}`);
  }
}

/** "aud" is absent or not one of the expected audiences. */
export class CwtAudienceMismatchError extends CwtError {
  constructor(actual: string | undefined) {
    super('ERR_CWT_AUDIENCE_MISMATCH', actual === undefined ? 'CWT has no aud claim' : `unexpected CWT audience ${JSON.stringify(actual)}`);
  }
}

/** A claim the caller requires is absent. */
export class CwtMissingClaimError extends CwtError {
  readonly claim: string;
  constructor(claim: string) {
    super('ERR_CWT_MISSING_CLAIM', `CWT has no ${claim} claim`);
    this.claim = claim;
  }
}

/** More COSE layers than the caller allows (nested CWTs, RFC 8392 §7.2 step 7). */
export class CwtNestingTooDeepError extends CwtError {
  constructor(max: number) {
    super('ERR_CWT_NESTING_TOO_DEEP', `CWT nests more than ${max} COSE layers`);
  }
}
