/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1).
 *
 * RFC 6347 §4.2.1: "the server [should] generate cookies in such a way that they can be
 * verified without retaining any per-client state on the server. One technique is to have a
 * randomly generated secret and generate cookies as: Cookie = HMAC(Secret, Client-IP,
 * Client-Parameters)". The secret rotates; cookies made under the previous secret stay valid
 * for one more period so a rotation never fails a handshake in flight.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeClientHello, type ClientHello } from './handshake.js';

export const COOKIE_LENGTH = 32;

export class CookieJar {
  private current = randomBytes(32);
  private previous = randomBytes(32);
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
    this.previous = t - this.rotatedAt >= 2 * this.rotationMs ? randomBytes(32) : this.current;
    this.current = randomBytes(32);
    this.rotatedAt = t;
  }

  private compute(secret: Buffer, address: string, port: number, hello: ClientHello): Buffer {
    // Every ClientHello parameter except the cookie itself: RFC 6347 §4.2.1 requires the second
    // ClientHello to repeat them, so binding them stops cookie reuse with other parameters.
    const params = encodeClientHello({ ...hello, cookie: new Uint8Array(0) });
    return createHmac('sha256', secret).update(`${address}\0${port}\0`).update(params).digest();
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
