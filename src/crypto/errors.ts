/**
 * Errors of the crypto room. Bad arguments throw the shared InvalidArgumentError (code
 * ERR_INVALID_ARGUMENT, naming the argument); failures of the primitives themselves have their
 * own subclasses here, each with a fixed code.
 */
import { RootlineError } from '../errors.js';

/**
 * An AEAD `open` found the tag wrong: the ciphertext, tag, nonce or AAD was altered, or the key is
 * not the sealing key. Deliberately says nothing about *which* (RFC 5116 §2.2: the decryption
 * operation returns a single FAIL symbol), and no plaintext is ever returned with it.
 */
export class AeadAuthenticationError extends RootlineError {
  constructor() {
    super('ERR_AEAD_AUTH_FAILED', 'AEAD authentication failed');
  }
}

/** A message is longer than the mode can protect with the chosen parameters (e.g. CCM's length field). */
export class CryptoMessageTooLongError extends RootlineError {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super('ERR_CRYPTO_MESSAGE_TOO_LONG', `${argument}: ${message}`);
    this.argument = argument;
  }
}
