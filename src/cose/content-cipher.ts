/**
 * The AEAD behind COSE_Encrypt0: AES-GCM and AES-CCM through OpenSSL (node:crypto), with the
 * COSE conventions — ciphertext || tag in one bstr, fixed nonce and tag lengths per algorithm.
 * Internal to the room.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { AeadAlgorithm } from './algorithms.js';
import { CoseDecryptionFailedError } from './errors.js';

function u8(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function aesName(alg: AeadAlgorithm): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' | 'aes-128-ccm' | 'aes-192-ccm' | 'aes-256-ccm' {
  return `aes-${alg.keyLength * 8}-${alg.engine === 'aes-gcm' ? 'gcm' : 'ccm'}` as ReturnType<typeof aesName>;
}

/** Encrypts; the caller has checked key, nonce and plaintext lengths against `alg`. */
export function sealContent(alg: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (alg.engine === 'aes-gcm') {
    const cipher = createCipheriv(aesName(alg) as 'aes-128-gcm', key, nonce, { authTagLength: alg.tagLength });
    cipher.setAAD(aad);
    return u8(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
  }
  const cipher = createCipheriv(aesName(alg) as 'aes-128-ccm', key, nonce, { authTagLength: alg.tagLength });
  // CCM needs the message length up front: it is encoded in the first block (RFC 3610 §2.2).
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return u8(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
}

/** Decrypts and authenticates; any failure is CoseDecryptionFailedError and yields no plaintext. */
export function openContent(alg: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (ciphertext.length < alg.tagLength) throw new CoseDecryptionFailedError();
  const body = ciphertext.subarray(0, ciphertext.length - alg.tagLength);
  const tag = ciphertext.subarray(ciphertext.length - alg.tagLength);
  try {
    if (alg.engine === 'aes-gcm') {
      const decipher = createDecipheriv(aesName(alg) as 'aes-128-gcm', key, nonce, { authTagLength: alg.tagLength });
      decipher.setAuthTag(tag);
      decipher.setAAD(aad);
      return u8(Buffer.concat([decipher.update(body), decipher.final()]));
    }
    const decipher = createDecipheriv(aesName(alg) as 'aes-128-ccm', key, nonce, { authTagLength: alg.tagLength });
    decipher.setAuthTag(tag);
    decipher.setAAD(aad, { plaintextLength: body.length });
    const plaintext = decipher.update(body);
    decipher.final();
    return u8(plaintext);
  } catch (err) {
    throw new CoseDecryptionFailedError({ cause: err });
  }
}
