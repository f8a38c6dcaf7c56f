/**
 * The AEAD behind COSE_Encrypt0: AES-GCM and AES-CCM through OpenSSL (node:crypto), LEA and ARIA
 * through the crypto room's createAead, with the COSE conventions — ciphertext || tag in one
 * bstr, fixed nonce and tag lengths per algorithm. Internal to the room.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { createAead } from '../crypto/index.js';
import type { AeadAlgorithm } from './algorithms.js';
import { CoseDecryptionFailedError } from './errors.js';

function u8(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * An empty view onto real memory. For an empty Uint8Array without a backing store (such as
 * crypto.randomBytes(0)) node passes OpenSSL a NULL pointer, which AES-CCM takes as "set the
 * length" rather than "no data" and then fails with "tag not set". Measured here; the crypto
 * room's createAead works around the same quirk.
 */
const BACKED_EMPTY = Buffer.alloc(16).subarray(0, 0);
const backed = (b: Uint8Array): Uint8Array => (b.length === 0 ? BACKED_EMPTY : b);

function aesName(alg: AeadAlgorithm): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' | 'aes-128-ccm' | 'aes-192-ccm' | 'aes-256-ccm' {
  return `aes-${alg.keyLength * 8}-${alg.engine === 'aes-gcm' ? 'gcm' : 'ccm'}` as ReturnType<typeof aesName>;
}

/** Encrypts; the caller has checked key, nonce and plaintext lengths against `alg`. */
export function sealContent(alg: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (alg.engine === 'crypto-aead') return createAead(alg.cryptoName!, key, { nonceLength: alg.nonceLength }).seal(nonce, plaintext, aad);
  if (alg.engine === 'aes-gcm') {
    const cipher = createCipheriv(aesName(alg) as 'aes-128-gcm', key, nonce, { authTagLength: alg.tagLength });
    cipher.setAAD(backed(aad));
    return u8(Buffer.concat([cipher.update(backed(plaintext)), cipher.final(), cipher.getAuthTag()]));
  }
  const cipher = createCipheriv(aesName(alg) as 'aes-128-ccm', key, nonce, { authTagLength: alg.tagLength });
  // CCM needs the message length up front: it is encoded in the first block (RFC 3610 §2.2).
  cipher.setAAD(backed(aad), { plaintextLength: plaintext.length });
  return u8(Buffer.concat([cipher.update(backed(plaintext)), cipher.final(), cipher.getAuthTag()]));
}

/** OpenSSL decrypts before it verifies: on a bad tag, wipe what it already produced. */
function finalOrWipe(decipher: { final(): Buffer }, plaintext: Buffer): void {
  try {
    decipher.final();
  } catch (err) {
    plaintext.fill(0);
    throw err;
  }
}

/** Decrypts and authenticates; any failure is CoseDecryptionFailedError and yields no plaintext. */
export function openContent(alg: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (ciphertext.length < alg.tagLength) throw new CoseDecryptionFailedError();
  const body = ciphertext.subarray(0, ciphertext.length - alg.tagLength);
  const tag = ciphertext.subarray(ciphertext.length - alg.tagLength);
  try {
    // createAead's open throws ERR_AEAD_AUTH_FAILED and never returns plaintext on failure.
    if (alg.engine === 'crypto-aead') return createAead(alg.cryptoName!, key, { nonceLength: alg.nonceLength }).open(nonce, ciphertext, aad);
    if (alg.engine === 'aes-gcm') {
      const decipher = createDecipheriv(aesName(alg) as 'aes-128-gcm', key, nonce, { authTagLength: alg.tagLength });
      decipher.setAuthTag(tag);
      decipher.setAAD(backed(aad));
      const plaintext = decipher.update(backed(body));
      finalOrWipe(decipher, plaintext);
      return u8(plaintext);
    }
    const decipher = createDecipheriv(aesName(alg) as 'aes-128-ccm', key, nonce, { authTagLength: alg.tagLength });
    decipher.setAuthTag(tag);
    decipher.setAAD(backed(aad), { plaintextLength: body.length });
    const plaintext = decipher.update(backed(body));
    finalOrWipe(decipher, plaintext);
    return u8(plaintext);
  } catch (err) {
    throw new CoseDecryptionFailedError({ cause: err });
  }
}
