/**
 * The TLS-PSK keys the HTTPS package listener may use, held in memory only while an HTTPS-pull
 * attempt of their device is open. node:tls asks for a PSK synchronously (pskCallback) while
 * serve's credentials are sealed in the store and open asynchronously, so the key is unsealed
 * when the attempt starts (grant) and dropped when it ends or expires (revoke, lookup): an
 * identity without an open attempt cannot even complete a handshake.
 */
import { InvalidArgumentError } from '../../errors.js';
import { DeliveryError, type HttpsPskGrants } from './delivery-types.js';

export interface HttpsPskCacheOptions {
  /** Every PSK credential of the device (identity and cleartext key); [] when it has none. */
  loadPsks: (endpoint: string) => Promise<Array<{ identity: string; key: Uint8Array }>>;
  /** Most identities held at once (default 100 000): a grant beyond it is refused. */
  maxEntries?: number;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

interface Entry {
  endpoint: string;
  key: Uint8Array;
  until: number;
}

export class HttpsPskCache implements HttpsPskGrants {
  readonly #o: HttpsPskCacheOptions;
  readonly #byIdentity = new Map<string, Entry>();
  readonly #identities = new Map<string, Set<string>>();
  readonly #max: number;

  constructor(options: HttpsPskCacheOptions) {
    if (typeof options?.loadPsks !== 'function') throw new InvalidArgumentError('options.loadPsks', 'expected a function');
    this.#max = options.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(this.#max) || this.#max < 1) throw new InvalidArgumentError('options.maxEntries', 'expected a positive integer');
    this.#o = options;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** Identities held now (diagnostics, tests). */
  get size(): number {
    return this.#byIdentity.size;
  }

  async grant(endpoint: string, until: number): Promise<void> {
    if (typeof endpoint !== 'string' || endpoint.length === 0) throw new InvalidArgumentError('endpoint', 'expected a non-empty string');
    if (!Number.isFinite(until)) throw new InvalidArgumentError('until', 'expected a time in milliseconds');
    const psks = await this.#o.loadPsks(endpoint);
    if (psks.length === 0) throw new DeliveryError('ERR_FOTA_HTTPS_NO_PSK', `${endpoint} has no PSK credential: HTTPS pull authenticates devices by TLS-PSK only`);
    this.revoke(endpoint);
    this.#sweep();
    if (this.#byIdentity.size + psks.length > this.#max) throw new DeliveryError('ERR_FOTA_HTTPS_CACHE_FULL', `more than ${this.#max} HTTPS-pull identities are open`);
    const ids = new Set<string>();
    for (const { identity, key } of psks) {
      const other = this.#byIdentity.get(identity);
      // Identities are unique per kind in the store; one held for another device is stale.
      if (other !== undefined && other.endpoint !== endpoint) this.#remove(identity);
      this.#byIdentity.set(identity, { endpoint, key: Uint8Array.from(key), until });
      ids.add(identity);
    }
    this.#identities.set(endpoint, ids);
  }

  revoke(endpoint: string): void {
    for (const identity of this.#identities.get(endpoint) ?? []) this.#remove(identity);
    this.#identities.delete(endpoint);
  }

  /** The key for a TLS-PSK identity with an open, unexpired grant; synchronous for node:tls. */
  lookup(identity: string): Uint8Array | undefined {
    const e = this.#byIdentity.get(identity);
    if (e === undefined) return undefined;
    if (e.until <= this.#now()) {
      this.#remove(identity);
      return undefined;
    }
    return e.key;
  }

  /** Forgets every key (the listener closed). */
  clear(): void {
    for (const identity of [...this.#byIdentity.keys()]) this.#remove(identity);
    this.#identities.clear();
  }

  #remove(identity: string): void {
    const e = this.#byIdentity.get(identity);
    if (e === undefined) return;
    e.key.fill(0);
    this.#byIdentity.delete(identity);
    const ids = this.#identities.get(e.endpoint);
    ids?.delete(identity);
    if (ids !== undefined && ids.size === 0) this.#identities.delete(e.endpoint);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [identity, e] of this.#byIdentity) if (e.until <= now) this.#remove(identity);
  }
}
