/**
 * The TLS 1.2 PRF with SHA-256 (RFC 5246 §5) and what DTLS 1.2 derives with it: the extended
 * master secret (RFC 7627 §4), the key block for AEAD suites (§6.3), Finished verify_data
 * (§7.4.9), and the PSK premaster secret (RFC 4279 §2).
 */
import { createHash } from 'node:crypto';
import { concatBytes } from './bytes.js';
import { HmacSha256Key, wipeScratch } from './hmac-sha256.js';
import { assertBytes } from '../util/assert.js';

const enc = new TextEncoder();

/**
 * P_SHA256(secret, seed) truncated to `length` bytes (RFC 5246 §5): A(0) = seed,
 * A(i) = HMAC(secret, A(i-1)), output HMAC(secret, A(1) + seed) ‖ HMAC(secret, A(2) + seed) ‖ …
 * The HMACs run in ./hmac-sha256.ts (the key's pads compressed once per call; node:crypto's
 * createHmac cost ~7.5 µs per HMAC, ~12 of them per handshake).
 */
export function pSha256(secret: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const key = new HmacSha256Key(secret);
  const a = new Uint8Array(32);
  const block = new Uint8Array(32);
  try {
    key.macInto(seed, undefined, a, 0);
    for (let off = 0; off < length; off += 32) {
      if (off + 32 <= length) key.macInto(a, seed, out, off);
      else {
        key.macInto(a, seed, block, 0);
        out.set(block.subarray(0, length - off), off);
      }
      if (off + 32 < length) key.macInto(a, undefined, a, 0);
    }
  } finally {
    key.destroy();
    a.fill(0);
    block.fill(0);
    wipeScratch();
  }
  return out;
}

const labels = new Map<string, Uint8Array>();

/** PRF(secret, label, seed) = P_SHA256(secret, label + seed). */
export function prf(secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  let l = labels.get(label);
  if (l === undefined) {
    l = enc.encode(label);
    // Labels are the handful of RFC constants (and test labels): bounded, but keep it so.
    if (labels.size < 64) labels.set(label, l);
  }
  return pSha256(secret, concatBytes(l, seed), length);
}

/**
 * RFC 7627 §4: master_secret = PRF(pre_master_secret, "extended master secret", session_hash)
 * [0..47], where session_hash is the hash of every handshake message up to and including the
 * ClientKeyExchange.
 */
export function extendedMasterSecret(preMasterSecret: Uint8Array, sessionHash: Uint8Array): Uint8Array {
  return prf(preMasterSecret, 'extended master secret', sessionHash, 48);
}

/** RFC 5246 §8.1: the classic master secret, kept for peers without extended_master_secret. */
export function masterSecret(preMasterSecret: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): Uint8Array {
  return prf(preMasterSecret, 'master secret', concatBytes(clientRandom, serverRandom), 48);
}

export interface TrafficKeys {
  clientWriteKey: Uint8Array;
  serverWriteKey: Uint8Array;
  /** 4-byte implicit nonce parts (salts) of RFC 5288 §3 / RFC 6655 §3. */
  clientWriteIv: Uint8Array;
  serverWriteIv: Uint8Array;
}

/**
 * RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion", server_random + client_random);
 * AEAD suites have no MAC keys, so the block is client key, server key, client IV, server IV.
 */
export function deriveTrafficKeys(master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array, keyLength = 16, ivLength = 4): TrafficKeys {
  const block = prf(master, 'key expansion', concatBytes(serverRandom, clientRandom), 2 * keyLength + 2 * ivLength);
  let o = 0;
  // Views into one block: four keys share one allocation for the life of a session.
  const take = (n: number): Uint8Array => block.subarray(o, (o += n));
  return { clientWriteKey: take(keyLength), serverWriteKey: take(keyLength), clientWriteIv: take(ivLength), serverWriteIv: take(ivLength) };
}

/** RFC 5246 §7.4.9: verify_data = PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]. */
export function finishedVerifyData(master: Uint8Array, role: 'client' | 'server', transcriptHash: Uint8Array): Uint8Array {
  return prf(master, `${role} finished`, transcriptHash, 12);
}

/**
 * RFC 4279 §2: "the premaster secret is formed as follows: if the PSK is N octets long,
 * concatenate a uint16 with the value N, N zero octets, a second uint16 with the value N, and
 * the PSK itself."
 */
export function pskPreMasterSecret(psk: Uint8Array): Uint8Array {
  assertBytes(psk, 'psk', { min: 1, max: 0xffff });
  const n = psk.length;
  const out = new Uint8Array(4 + 2 * n);
  out[0] = n >>> 8;
  out[1] = n & 0xff;
  out[2 + n] = n >>> 8;
  out[3 + n] = n & 0xff;
  out.set(psk, 4 + n);
  return out;
}

export function sha256(data: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  if (data instanceof Uint8Array) h.update(data);
  else for (const d of data) h.update(d);
  return h.digest();
}
