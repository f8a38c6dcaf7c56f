/**
 * AEAD record protection for DTLS 1.2 (RFC 5246 §6.2.3.3) with the nonce of RFC 5288 §3 (GCM,
 * also used for ARIA-GCM by RFC 6209) and RFC 6655 §3 (CCM, CCM_8):
 *
 *   nonce = salt (client/server_write_IV, 4 bytes) || nonce_explicit (8 bytes)
 *   nonce_explicit = epoch (2) || sequence_number (6)        (RFC 7925 §3.3 / RFC 6655 §3)
 *   additional_data = epoch || sequence_number || type || version || length(plaintext)
 *   fragment = nonce_explicit || ciphertext || tag
 *
 * node:crypto's aes-128-ccm / aes-128-gcm / aria-128-gcm are used directly: these records are
 * the hot path and a BlockCipher abstraction would cost a JS round per block. LEA (not in
 * OpenSSL) goes through src/crypto's generic CCM/GCM (`createAead`).
 */
import { createCipheriv, createDecipheriv, type CipherCCMTypes, type CipherGCMTypes } from 'node:crypto';
import { ContentType, type BulkCipher } from './constants.js';
import { DtlsBadRecordMacError } from './errors.js';
import { createAead, type Aead, type AeadAlgorithm } from '../crypto/aead.js';
import { assertBytes } from '../util/assert.js';

const EXPLICIT_NONCE_LENGTH = 8;

interface CipherParams {
  algorithm: CipherCCMTypes | CipherGCMTypes;
  ccm: boolean;
  tagLength: number;
  /** createCipheriv's options, one object per suite rather than one per record. */
  cipherOptions: { authTagLength: number };
  /** LEA is not in OpenSSL: it runs through src/crypto's generic CCM/GCM. */
  generic?: AeadAlgorithm;
}

const PARAMS: Record<BulkCipher, CipherParams> = {
  'aes-128-ccm8': { algorithm: 'aes-128-ccm', ccm: true, tagLength: 8, cipherOptions: { authTagLength: 8 } },
  'aes-128-gcm': { algorithm: 'aes-128-gcm', ccm: false, tagLength: 16, cipherOptions: { authTagLength: 16 } },
  'aria-128-gcm': { algorithm: 'aria-128-gcm' as CipherGCMTypes, ccm: false, tagLength: 16, cipherOptions: { authTagLength: 16 } },
  'lea-128-ccm8': { algorithm: 'aes-128-ccm', ccm: true, tagLength: 8, cipherOptions: { authTagLength: 8 }, generic: 'LEA-128-CCM-8' },
  'lea-128-gcm': { algorithm: 'aes-128-gcm', ccm: false, tagLength: 16, cipherOptions: { authTagLength: 16 }, generic: 'LEA-128-GCM' },
};

/** A backed empty view: OpenSSL's CCM misreads a NULL input pointer (see src/crypto/aead.ts). */
const BACKED_EMPTY = Buffer.alloc(16).subarray(0, 0);

/** Bytes a protected record adds to its plaintext (explicit nonce + tag). */
export function recordExpansion(cipher: BulkCipher): number {
  return EXPLICIT_NONCE_LENGTH + PARAMS[cipher].tagLength;
}

/**
 * Scratch nonce and AAD: node:crypto copies both when the cipher is set up, and every use below
 * is synchronous, so one of each serves every record of every session.
 */
const NONCE = Buffer.alloc(12);
const AAD = Buffer.alloc(13);

/** Scratch key for node:crypto, which copies it into the cipher context it creates. */
const KEY = Buffer.alloc(16);

export class RecordProtection {
  private readonly params: CipherParams;
  private readonly aead: Aead | undefined;
  /** The 4-byte implicit nonce as a number: no per-session view to keep. */
  private readonly salt: number;
  /**
   * The key is `material[keyOffset .. keyOffset + 16]`: a session's read and write states
   * share one small buffer rather than holding a typed-array view each.
   */
  private readonly material: Uint8Array;
  private readonly keyOffset: number;

  constructor(
    readonly cipher: BulkCipher,
    key: Uint8Array,
    salt: Uint8Array,
    keyOffset?: number,
  ) {
    // Without an offset the key is the whole of `key`; with one, 16 bytes of a larger buffer.
    if (keyOffset === undefined) assertBytes(key, 'key', { len: 16 });
    else assertBytes(key, 'key', { min: keyOffset + 16 });
    assertBytes(salt, 'salt', { len: 4 });
    // Signed, so V8 keeps it as a small integer rather than a heap number.
    this.salt = (salt[0]! << 24) | (salt[1]! << 16) | (salt[2]! << 8) | salt[3]!;
    this.params = PARAMS[cipher];
    this.material = key;
    this.keyOffset = keyOffset ?? 0;
    this.aead = this.params.generic === undefined ? undefined : createAead(this.params.generic, key.subarray(this.keyOffset, this.keyOffset + 16));
  }

  /** The key in the shared scratch buffer, for one synchronous node:crypto call. */
  private get key(): Buffer {
    const m = this.material;
    const o = this.keyOffset;
    for (let i = 0; i < 16; i++) KEY[i] = m[o + i]!;
    return KEY;
  }

  /**
   * What the server's native fast path needs to take this direction over (src/dtls/native-fastpath.ts):
   * its suite number there (0 AES-128-CCM-8, 1 AES-128-GCM; -1 = not supported natively), the
   * buffer and offset of the key (copied by the addon, never logged) and the salt as a number.
   */
  nativeSuite(): number {
    return this.cipher === 'aes-128-ccm8' ? 0 : this.cipher === 'aes-128-gcm' ? 1 : -1;
  }

  get keyMaterial(): Uint8Array {
    return this.material;
  }

  get keyMaterialOffset(): number {
    return this.keyOffset;
  }

  get saltValue(): number {
    return this.salt;
  }

  get expansion(): number {
    return EXPLICIT_NONCE_LENGTH + this.params.tagLength;
  }

  /** Key and salt bytes held. */
  get keyBytes(): number {
    return 16 + 4;
  }

  private nonce(epoch: number, seq: number): Buffer {
    NONCE.writeInt32BE(this.salt, 0);
    NONCE.writeUInt16BE(epoch, 4);
    NONCE.writeUIntBE(seq, 6, 6);
    return NONCE;
  }

  /** RFC 5246 §6.2.3.3: seq_num (epoch || sequence_number) + type + version + length. */
  private static aad(type: number, version: number, epoch: number, seq: number, length: number): Buffer {
    const aad = AAD;
    aad.writeUInt16BE(epoch, 0);
    aad.writeUIntBE(seq, 2, 6);
    aad[8] = type;
    aad.writeUInt16BE(version, 9);
    aad.writeUInt16BE(length, 11);
    return aad;
  }

  /**
   * RFC 9146 §5: for tls12_cid records
   *   additional_data = seq_num_placeholder (8 × 0xff) + tls12_cid + cid_length + tls12_cid +
   *                     version + epoch + sequence_number + cid + length_of_DTLSInnerPlaintext
   */
  private static cidAad(version: number, epoch: number, seq: number, cid: Uint8Array, length: number): Buffer {
    const aad = Buffer.alloc(8 + 1 + 1 + 1 + 2 + 2 + 6 + cid.length + 2, 0xff);
    let o = 8;
    aad[o++] = ContentType.tls12Cid;
    aad[o++] = cid.length;
    aad[o++] = ContentType.tls12Cid;
    o = aad.writeUInt16BE(version, o);
    o = aad.writeUInt16BE(epoch, o);
    o = aad.writeUIntBE(seq, o, 6);
    aad.set(cid, o);
    aad.writeUInt16BE(length, o + cid.length);
    return aad;
  }

  /**
   * Returns the protected fragment for a record with the given header fields, after `headroom`
   * bytes left for the caller (the record header: one buffer per record, no copy).
   */
  seal(type: number, version: number, epoch: number, seq: number, plaintext: Uint8Array, headroom = 0): Uint8Array {
    return this.sealWith(this.nonce(epoch, seq), RecordProtection.aad(type, version, epoch, seq, plaintext.length), plaintext, headroom);
  }

  /** Protects a DTLSInnerPlaintext (content || real type || padding) for a tls12_cid record (RFC 9146 §4). */
  sealCid(version: number, epoch: number, seq: number, cid: Uint8Array, innerPlaintext: Uint8Array): Uint8Array {
    return this.sealWith(this.nonce(epoch, seq), RecordProtection.cidAad(version, epoch, seq, cid, innerPlaintext.length), innerPlaintext);
  }

  private sealWith(nonce: Buffer, aad: Buffer, input: Uint8Array, headroom = 0): Uint8Array {
    const p = this.params;
    const plaintext = input.length === 0 ? BACKED_EMPTY : input;
    const buf = Buffer.allocUnsafe(headroom + EXPLICIT_NONCE_LENGTH + plaintext.length + p.tagLength);
    const out = headroom === 0 ? buf : buf.subarray(headroom);
    nonce.copy(out, 0, 4);
    if (this.aead !== undefined) {
      out.set(this.aead.seal(nonce, plaintext, aad), EXPLICIT_NONCE_LENGTH);
      return buf;
    }
    if (p.ccm) {
      const c = createCipheriv(p.algorithm as CipherCCMTypes, this.key, nonce, p.cipherOptions);
      c.setAAD(aad, { plaintextLength: plaintext.length });
      const body = c.update(plaintext);
      c.final();
      body.copy(out, EXPLICIT_NONCE_LENGTH);
      c.getAuthTag().copy(out, EXPLICIT_NONCE_LENGTH + plaintext.length);
    } else {
      const c = createCipheriv(p.algorithm as CipherGCMTypes, this.key, nonce, p.cipherOptions);
      c.setAAD(aad);
      const body = c.update(plaintext);
      c.final();
      body.copy(out, EXPLICIT_NONCE_LENGTH);
      c.getAuthTag().copy(out, EXPLICIT_NONCE_LENGTH + plaintext.length);
    }
    return buf;
  }

  /**
   * Opens a protected fragment; throws DtlsBadRecordMacError on any failure, never returns
   * unauthenticated plaintext.
   */
  open(type: number, version: number, epoch: number, seq: number, fragment: Uint8Array): Uint8Array {
    const length = this.bodyLength(fragment);
    return this.openWith(fragment, RecordProtection.aad(type, version, epoch, seq, length), length);
  }

  /** Opens a tls12_cid record; returns the DTLSInnerPlaintext. */
  openCid(version: number, epoch: number, seq: number, cid: Uint8Array, fragment: Uint8Array): Uint8Array {
    const length = this.bodyLength(fragment);
    return this.openWith(fragment, RecordProtection.cidAad(version, epoch, seq, cid, length), length);
  }

  private bodyLength(fragment: Uint8Array): number {
    const length = fragment.length - EXPLICIT_NONCE_LENGTH - this.params.tagLength;
    if (length < 0) throw new DtlsBadRecordMacError('record too short for its AEAD');
    return length;
  }

  private openWith(fragment: Uint8Array, aad: Buffer, length: number): Uint8Array {
    const p = this.params;
    // The explicit nonce on the wire is what the sender used; RFC 6655 §3 lets the sender pick
    // it, so use the transmitted one rather than our view of epoch||seq.
    const nonce = NONCE;
    nonce.writeInt32BE(this.salt, 0);
    for (let i = 0; i < EXPLICIT_NONCE_LENGTH; i++) nonce[4 + i] = fragment[i]!;
    const body = fragment.subarray(EXPLICIT_NONCE_LENGTH, EXPLICIT_NONCE_LENGTH + length);
    const tag = fragment.subarray(EXPLICIT_NONCE_LENGTH + length);
    try {
      if (this.aead !== undefined) return this.aead.open(nonce, fragment.subarray(EXPLICIT_NONCE_LENGTH), aad);
      if (p.ccm) {
        const d = createDecipheriv(p.algorithm as CipherCCMTypes, this.key, nonce, p.cipherOptions);
        d.setAuthTag(tag);
        d.setAAD(aad, { plaintextLength: length });
        const out = d.update(body);
        d.final();
        return out;
      }
      const d = createDecipheriv(p.algorithm as CipherGCMTypes, this.key, nonce, p.cipherOptions);
      d.setAuthTag(tag);
      d.setAAD(aad);
      const out = d.update(body);
      d.final();
      return out;
    } catch {
      throw new DtlsBadRecordMacError();
    }
  }
}
