/**
 * Counter with CBC-MAC (RFC 3610, NIST SP 800-38C) over any 128-bit BlockCipher, written once.
 * Parameters as RFC 3610 §2 names them: M = tag length in bytes, L = 15 − nonce length = size of
 * the message-length field.
 */
import { assertBlockCipher, type BlockCipher } from './block-cipher.js';
import { constantTimeEqual } from './constant-time.js';
import { ctrXorInto } from './ctr.js';
import { AeadAuthenticationError, CryptoMessageTooLongError } from './errors.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger } from '../util/assert.js';

export interface Ccm {
  /** Returns ciphertext || tag (tagLength bytes). */
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array, tagLength?: number): Uint8Array;
  /** Verifies and decrypts `ciphertext` (ciphertext || tag); throws AeadAuthenticationError on any mismatch. */
  open(nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array, tagLength?: number): Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Largest message for a length field of L bytes: l(m) < 2^(8L) (RFC 3610 §2.1). */
export function ccmMaxMessageLength(nonceLength: number): number {
  const l = 15 - nonceLength;
  return l >= 7 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * l) - 1;
}

/** CCM keyed by `cipher`. Nonces 7..13 bytes; tags 4, 6, 8, 10, 12, 14 or 16 bytes. */
export function createCcm(cipher: BlockCipher): Ccm {
  assertBlockCipher(cipher, 'cipher');

  function check(nonce: unknown, data: unknown, dataName: string, aad: unknown, tagLength: unknown): void {
    // RFC 3610 §2: valid values of L range between 2 and 8 octets → nonce of 15 − L = 7..13 octets.
    assertBytes(nonce, 'nonce', { min: 7, max: 13 });
    assertBytes(data, dataName);
    if (aad !== undefined) assertBytes(aad, 'aad');
    // RFC 3610 §2: valid values of M are 4, 6, 8, 10, 12, 14, and 16 octets.
    assertInteger(tagLength, 'tagLength', 4, 16);
    if (tagLength % 2 !== 0) throw new InvalidArgumentError('tagLength', `expected an even number in 4..16, got ${tagLength}`);
  }

  /** The authentication field T (first M bytes of the CBC-MAC), RFC 3610 §2.2. */
  function cbcMac(nonce: Uint8Array, aad: Uint8Array, msg: Uint8Array, m: number): Uint8Array {
    const l = 15 - nonce.length;
    const x = new Uint8Array(16);
    // B_0: Flags = 64·Adata + 8·M' + L', M' = (M−2)/2, L' = L−1; then Nonce; then l(m) in L octets.
    x[0] = (aad.length > 0 ? 64 : 0) | (((m - 2) / 2) << 3) | (l - 1);
    x.set(nonce, 1);
    let len = msg.length;
    for (let i = 15; i > 15 - l; i--) {
      x[i] = len % 256;
      len = Math.floor(len / 256);
    }
    cipher.encryptBlockInto(x, 0, x, 0);
    const mac = new MacAbsorber(cipher, x);
    if (aad.length > 0) {
      // l(a) encoding (RFC 3610 §2.2): 2 octets below 2^16 − 2^8, else 0xff 0xfe + 4 octets
      // below 2^32, else 0xff 0xff + 8 octets.
      const a = aad.length;
      if (a < 0xff00) mac.absorb(Uint8Array.of(a >>> 8, a & 0xff));
      else if (a < 2 ** 32) mac.absorb(Uint8Array.of(0xff, 0xfe, a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff));
      else {
        const hi = Math.floor(a / 2 ** 32);
        mac.absorb(Uint8Array.of(0xff, 0xff, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff));
      }
      mac.absorb(aad);
      mac.pad(); // the added authentication blocks are padded with zeros to a block boundary
    }
    mac.absorb(msg);
    mac.pad();
    return x.subarray(0, m);
  }

  /** A_i = Flags(L−1) || Nonce || i (L octets), RFC 3610 §2.3. */
  function counterBlock(nonce: Uint8Array, i: number): Uint8Array {
    const a = new Uint8Array(16);
    a[0] = 15 - nonce.length - 1;
    a.set(nonce, 1);
    a[15] = i;
    return a;
  }

  return {
    seal(nonce, plaintext, aad = EMPTY, tagLength = 16) {
      check(nonce, plaintext, 'plaintext', aad, tagLength);
      if (plaintext.length > ccmMaxMessageLength(nonce.length)) {
        throw new CryptoMessageTooLongError('plaintext', `CCM with a ${nonce.length}-byte nonce carries at most ${ccmMaxMessageLength(nonce.length)} bytes`);
      }
      const t = cbcMac(nonce, aad, plaintext, tagLength);
      const out = new Uint8Array(plaintext.length + tagLength);
      ctrXorInto(cipher, counterBlock(nonce, 1), plaintext, out, 128);
      // U := T XOR first-M-bytes(S_0)
      const s0 = new Uint8Array(16);
      cipher.encryptBlockInto(counterBlock(nonce, 0), 0, s0, 0);
      for (let i = 0; i < tagLength; i++) out[plaintext.length + i] = t[i]! ^ s0[i]!;
      return out;
    },
    open(nonce, sealed, aad = EMPTY, tagLength = 16) {
      check(nonce, sealed, 'ciphertext', aad, tagLength);
      if (sealed.length < tagLength) throw new AeadAuthenticationError();
      const ctLen = sealed.length - tagLength;
      if (ctLen > ccmMaxMessageLength(nonce.length)) throw new AeadAuthenticationError();
      const pt = new Uint8Array(ctLen);
      ctrXorInto(cipher, counterBlock(nonce, 1), sealed.subarray(0, ctLen), pt, 128);
      const t = cbcMac(nonce, aad, pt, tagLength);
      const s0 = new Uint8Array(16);
      cipher.encryptBlockInto(counterBlock(nonce, 0), 0, s0, 0);
      for (let i = 0; i < tagLength; i++) s0[i] ^= t[i]!;
      // RFC 3610 §2.5: if T is not correct, the receiver MUST NOT reveal any information except
      // for the fact that T is incorrect. The receiver MUST NOT reveal the decrypted message.
      if (!constantTimeEqual(s0.subarray(0, tagLength), sealed.subarray(ctLen))) {
        pt.fill(0);
        throw new AeadAuthenticationError();
      }
      return pt;
    },
  };
}

/** CBC-MAC state: XORs input into X and encrypts X at every block boundary. */
class MacAbsorber {
  private pos = 0;
  constructor(
    private readonly cipher: BlockCipher,
    private readonly x: Uint8Array,
  ) {}

  absorb(data: Uint8Array): void {
    const x = this.x;
    let i = 0;
    while (i < data.length) {
      if (this.pos === 0 && data.length - i >= 16) {
        for (let j = 0; j < 16; j++) x[j] ^= data[i + j]!;
        this.cipher.encryptBlockInto(x, 0, x, 0);
        i += 16;
        continue;
      }
      x[this.pos++] ^= data[i++]!;
      if (this.pos === 16) {
        this.cipher.encryptBlockInto(x, 0, x, 0);
        this.pos = 0;
      }
    }
  }

  pad(): void {
    if (this.pos > 0) {
      this.cipher.encryptBlockInto(this.x, 0, this.x, 0);
      this.pos = 0;
    }
  }
}
