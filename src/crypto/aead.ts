/**
 * createAead: one AEAD interface (RFC 5116 shape: nonce, plaintext, AAD → ciphertext || tag) for
 * GCM, CCM and CCM-8 over LEA, ARIA and AES.
 *
 * LEA always runs through this room's generic GCM/CCM code. AES and ARIA use OpenSSL's native
 * GCM/CCM through node:crypto (several times faster than any JavaScript mode); the generic code is
 * proven to be bit-compatible with those native modes by test/crypto/modes-cross-check.test.ts.
 */
import { createCipheriv, createDecipheriv, type CipherCCM, type CipherCCMTypes, type CipherGCM, type CipherGCMTypes, type DecipherCCM, type DecipherGCM } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger, assertOneOf } from '../util/assert.js';
import { createBlockCipher, type BlockCipherName } from './block-cipher.js';
import { ccmMaxMessageLength, createCcm } from './ccm.js';
import { AeadAuthenticationError, CryptoMessageTooLongError } from './errors.js';
import { createGcm } from './gcm.js';

export type AeadAlgorithm =
  | 'LEA-128-GCM' | 'LEA-128-CCM' | 'LEA-128-CCM-8' | 'LEA-256-GCM' | 'LEA-256-CCM' | 'LEA-256-CCM-8'
  | 'ARIA-128-GCM' | 'ARIA-128-CCM' | 'ARIA-128-CCM-8' | 'ARIA-256-GCM' | 'ARIA-256-CCM' | 'ARIA-256-CCM-8'
  | 'AES-128-GCM' | 'AES-128-CCM' | 'AES-128-CCM-8' | 'AES-256-GCM' | 'AES-256-CCM' | 'AES-256-CCM-8';

export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = (['LEA', 'ARIA', 'AES'] as const).flatMap((c) =>
  ([128, 256] as const).flatMap((bits) => (['GCM', 'CCM', 'CCM-8'] as const).map((m) => `${c}-${bits}-${m}` as AeadAlgorithm)),
);

export interface AeadOptions {
  /**
   * Nonce length in bytes. GCM: 12 only (the 96-bit IV of RFC 5116 AEAD_AES_128_GCM).
   * CCM: 7..13, default 12 (RFC 5116 AEAD_AES_128_CCM and TLS/DTLS, RFC 6655); COSE and OSCORE's
   * AES-CCM-16-64-128 use 13.
   */
  nonceLength?: number;
}

export interface Aead {
  readonly alg: AeadAlgorithm;
  readonly keyLength: number;
  readonly nonceLength: number;
  readonly tagLength: number;
  /** Encrypts and authenticates; returns ciphertext || tag. Never reuse a nonce under one key. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * Verifies and decrypts `ciphertext` (ciphertext || tag). Any change to ciphertext, tag, nonce or AAD (and an
   * input shorter than the tag) throws AeadAuthenticationError (ERR_AEAD_AUTH_FAILED); no plaintext
   * is ever returned or left readable in that case.
   */
  open(nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Uint8Array;
}

const EMPTY = new Uint8Array(0);
/**
 * An empty view onto real memory. Node hands OpenSSL a NULL pointer for an empty Uint8Array with
 * no backing store (e.g. crypto.randomBytes(0)), and OpenSSL's CCM reads a NULL input as "set the
 * message length" rather than "no data", failing with ERR_OSSL_TAG_NOT_SET. Empty inputs to the
 * native modes are therefore replaced by this view.
 */
const BACKED_EMPTY = Buffer.alloc(16).subarray(0, 0);
const backed = (b: Uint8Array): Uint8Array => (b.length === 0 ? BACKED_EMPTY : b);

/** Creates an AEAD for `alg` under `key` (16 bytes for *-128-*, 32 for *-256-*). */
export function createAead(alg: AeadAlgorithm, key: Uint8Array, options: AeadOptions = {}): Aead {
  assertOneOf(alg, 'alg', AEAD_ALGORITHMS);
  const [cipherName, bitsText, mode, eight] = alg.split('-') as [BlockCipherName, string, 'GCM' | 'CCM', string | undefined];
  const keyLength = Number(bitsText) / 8;
  assertBytes(key, 'key', { len: keyLength });
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected an object');
  const tagLength = mode === 'GCM' ? 16 : eight === '8' ? 8 : 16;
  let nonceLength: number;
  if (mode === 'GCM') {
    nonceLength = options.nonceLength ?? 12;
    assertInteger(nonceLength, 'options.nonceLength', 12, 12);
  } else {
    nonceLength = options.nonceLength ?? 12;
    assertInteger(nonceLength, 'options.nonceLength', 7, 13);
  }
  const maxPlaintext = mode === 'CCM' ? ccmMaxMessageLength(nonceLength) : 2 ** 36 - 32;

  const check = (nonce: unknown, data: unknown, dataName: string, aad: unknown): void => {
    assertBytes(nonce, 'nonce', { len: nonceLength });
    assertBytes(data, dataName);
    if (aad !== undefined) assertBytes(aad, 'aad');
  };

  const impl = cipherName === 'LEA' ? genericImpl(key, mode, tagLength) : nativeImpl(cipherName, key, mode, tagLength);
  return {
    alg,
    keyLength,
    nonceLength,
    tagLength,
    seal(nonce, plaintext, aad) {
      check(nonce, plaintext, 'plaintext', aad);
      if (plaintext.length > maxPlaintext) throw new CryptoMessageTooLongError('plaintext', `${alg} with a ${nonceLength}-byte nonce carries at most ${maxPlaintext} bytes`);
      return impl.seal(nonce, plaintext, aad ?? EMPTY);
    },
    open(nonce, sealed, aad) {
      check(nonce, sealed, 'ciphertext', aad);
      if (sealed.length < tagLength || sealed.length - tagLength > maxPlaintext) throw new AeadAuthenticationError();
      return impl.open(nonce, sealed, aad ?? EMPTY);
    },
  };
}

interface Impl {
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  open(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array;
}

function genericImpl(key: Uint8Array, mode: 'GCM' | 'CCM', tagLength: number): Impl {
  const cipher = createBlockCipher('LEA', key);
  const m = mode === 'GCM' ? createGcm(cipher) : createCcm(cipher);
  return {
    seal: (nonce, plaintext, aad) => m.seal(nonce, plaintext, aad, tagLength),
    open: (nonce, sealed, aad) => m.open(nonce, sealed, aad, tagLength),
  };
}

/** OpenSSL's GCM/CCM through node:crypto. The key is copied so later changes to the caller's array cannot affect us. */
function nativeImpl(name: 'AES' | 'ARIA', keyIn: Uint8Array, mode: 'GCM' | 'CCM', tagLength: number): Impl {
  const key = Buffer.from(keyIn);
  const algo = `${name.toLowerCase()}-${key.length * 8}-${mode.toLowerCase()}`;
  if (mode === 'GCM') {
    const gcm = algo as CipherGCMTypes;
    return {
      seal(nonce, plaintext, aad) {
        const c = createCipheriv(gcm, key, nonce, { authTagLength: tagLength });
        if (aad.length > 0) c.setAAD(aad);
        return finishSeal(c, c.update(backed(plaintext)));
      },
      open(nonce, sealed, aad) {
        const ctLen = sealed.length - tagLength;
        const d = createDecipheriv(gcm, key, nonce, { authTagLength: tagLength });
        d.setAuthTag(sealed.subarray(ctLen));
        if (aad.length > 0) d.setAAD(aad);
        return finishOpen(d, d.update(backed(sealed.subarray(0, ctLen))));
      },
    };
  }
  const ccm = algo as CipherCCMTypes;
  return {
    seal(nonce, plaintext, aad) {
      const c = createCipheriv(ccm, key, nonce, { authTagLength: tagLength });
      // CCM needs the message length before any data (it is part of B_0).
      c.setAAD(backed(aad), { plaintextLength: plaintext.length });
      return finishSeal(c, c.update(backed(plaintext)));
    },
    open(nonce, sealed, aad) {
      const ctLen = sealed.length - tagLength;
      const d = createDecipheriv(ccm, key, nonce, { authTagLength: tagLength });
      d.setAuthTag(sealed.subarray(ctLen));
      d.setAAD(backed(aad), { plaintextLength: ctLen });
      return finishOpen(d, d.update(backed(sealed.subarray(0, ctLen))));
    },
  };
}

/** ciphertext || tag, once the cipher has seen all the plaintext (`body` is what update() returned). */
function finishSeal(c: CipherGCM | CipherCCM, body: Buffer): Uint8Array {
  c.final();
  return concat(body, c.getAuthTag());
}

/**
 * The plaintext once the tag verifies. Both native modes decrypt before they verify: on a bad tag,
 * wipe what OpenSSL already produced (`plaintext`, from update()) and say only that it failed.
 */
function finishOpen(d: DecipherGCM | DecipherCCM, plaintext: Buffer): Uint8Array {
  try {
    d.final();
  } catch {
    plaintext.fill(0);
    throw new AeadAuthenticationError();
  }
  return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
