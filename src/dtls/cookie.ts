/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1).
 *
 * RFC 6347 §4.2.1: "the server [should] generate cookies in such a way that they can be
 * verified without retaining any per-client state on the server. One technique is to have a
 * randomly generated secret and generate cookies as: Cookie = HMAC(Secret, Client-IP,
 * Client-Parameters)". The secret rotates; cookies made under the previous secret stay valid
 * for one more period so a rotation never fails a handshake in flight.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeClientHello, type ClientHello } from './handshake.js';
import { HmacSha256Key, wipeScratch } from './hmac-sha256.js';

export const COOKIE_LENGTH = 32;

/** A fresh cookie secret, kept only as its HMAC key state (the pads compressed once). */
function newSecret(): HmacSha256Key {
  const raw = randomBytes(32);
  const key = new HmacSha256Key(raw);
  raw.fill(0);
  return key;
}

/** `address \0 port \0` as bytes (an address is ASCII: IPv4 dotted or IPv6 hex and colons). */
function peerBytes(address: string, port: number): Uint8Array {
  const s = `${address}\0${port}\0`;
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

export class CookieJar {
  // HMAC-SHA-256 in ./hmac-sha256.ts: two cookie MACs per handshake, node's createHmac cost
  // ~7.5 µs each (the same HMAC; the key's pads are compressed once per secret here).
  private current = newSecret();
  private previous = newSecret();
  private rotatedAt: number;

  constructor(
    private readonly rotationMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  private rotateIfDue(): void {
    const t = this.now();
    if (t - this.rotatedAt < this.rotationMs) return;
    // After a long quiet period both secrets are stale: replace both.
    const stale = this.previous;
    this.previous = t - this.rotatedAt >= 2 * this.rotationMs ? newSecret() : this.current;
    if (this.previous !== stale) stale.destroy();
    if (this.previous !== this.current) this.current.destroy();
    this.current = newSecret();
    this.rotatedAt = t;
  }

  private compute(secret: HmacSha256Key, address: string, port: number, hello: ClientHello): Uint8Array {
    // Every ClientHello parameter except the cookie itself: RFC 6347 §4.2.1 requires the second
    // ClientHello to repeat them, so binding them stops cookie reuse with other parameters.
    const params = encodeClientHello({ ...hello, cookie: new Uint8Array(0) });
    const out = new Uint8Array(32);
    secret.macInto(peerBytes(address, port), params, out, 0);
    wipeScratch();
    return out;
  }

  create(address: string, port: number, hello: ClientHello): Uint8Array {
    this.rotateIfDue();
    return this.compute(this.current, address, port, hello);
  }

  verify(address: string, port: number, hello: ClientHello): boolean {
    this.rotateIfDue();
    if (hello.cookie.length !== COOKIE_LENGTH) return false;
    for (const secret of [this.current, this.previous]) {
      if (timingSafeEqual(this.compute(secret, address, port, hello), hello.cookie)) return true;
    }
    return false;
  }
}
