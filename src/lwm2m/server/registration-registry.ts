/**
 * The registry of current registrations: an in-memory index over the store's
 * RegistrationRepository. Every change is written through to the store, so a restarted server
 * (or another node on the same PostgreSQL) finds a registration it did not make — a device that
 * sends an Update after a restart is recognised by its registration id.
 */
import type { AuditEntry, RegistrationPatch, RegistrationPutResult, RegistrationRecord, Store } from '../../store/types.js';

export type { RegistrationRecord };

/** Why a registration ended. */
export type DeregistrationReason = 'deregistered' | 'expired' | 'replaced';

export interface RegistryOptions {
  /** Extra time after the lifetime before a registration is dropped (default 0 ms). */
  lifetimeGraceMs?: number;
  /** Most registrations cached in memory (default 1,000,000); beyond, lookups go to the store. */
  maxCached?: number;
  /** Most new registrations written in one store transaction (default 256). */
  maxBatch?: number;
}

/** Distinct object lists / versions / bindings shared between cached registrations. */
const MAX_INTERNED = 1024;

/** A Register waiting for the next batched write. */
interface PendingPut {
  record: RegistrationRecord;
  audit: AuditEntry | undefined;
  resolve: (replaced: RegistrationRecord | undefined) => void;
  reject: (err: unknown) => void;
}

export class RegistrationRegistry {
  readonly #store: Store;
  readonly #byId = new Map<string, RegistrationRecord>();
  readonly #idByEndpoint = new Map<string, string>();
  readonly #graceMs: number;
  readonly #maxCached: number;
  readonly #maxBatch: number;
  readonly #strings = new Map<string, string>();
  #pending: PendingPut[] = [];
  /** The batch being written (batches are written one after the other, in order). */
  #writing: Promise<void> = Promise.resolve();
  #flushScheduled = false;

  constructor(store: Store, options: RegistryOptions = {}) {
    this.#store = store;
    this.#graceMs = options.lifetimeGraceMs ?? 0;
    this.#maxCached = options.maxCached ?? 1_000_000;
    this.#maxBatch = options.maxBatch ?? 256;
  }

  /**
   * Devices of a fleet register with the same few object lists, versions and bindings: each
   * cached registration points at one shared copy of such a string rather than its own (on a
   * 10,000-device server that is one string instead of 10,000). Bounded: when the table is full,
   * new values are kept as they are.
   */
  #intern(value: string): string {
    const shared = this.#strings.get(value);
    if (shared !== undefined) return shared;
    if (this.#strings.size < MAX_INTERNED) this.#strings.set(value, value);
    return value;
  }

  #cache(r: RegistrationRecord): void {
    r.objectLinks = this.#intern(r.objectLinks);
    r.lwm2mVersion = this.#intern(r.lwm2mVersion);
    r.binding = this.#intern(r.binding);
    const old = this.#idByEndpoint.get(r.endpoint);
    if (old !== undefined && old !== r.id) this.#byId.delete(old);
    if (!this.#byId.has(r.id) && this.#byId.size >= this.#maxCached) return;
    this.#byId.set(r.id, r);
    this.#idByEndpoint.set(r.endpoint, r.id);
  }

  #uncache(r: RegistrationRecord): void {
    if (this.#byId.get(r.id) !== undefined) this.#byId.delete(r.id);
    if (this.#idByEndpoint.get(r.endpoint) === r.id) this.#idByEndpoint.delete(r.endpoint);
  }

  /** True when the registration's lifetime (plus grace) has passed at `now`. */
  isExpired(r: RegistrationRecord, now = Date.now()): boolean {
    return Date.parse(r.expiresAt) + this.#graceMs <= now;
  }

  /**
   * isExpired(r, now) for the sweep, given `limit` = the ISO form of now − grace: expiry times
   * are always written by Date#toISOString (the store normalises them; Register/Update make them
   * so), and two such 24-character UTC strings order as text the way they order in time — a
   * string comparison instead of parsing every cached registration's expiry each second, and no
   * memory per registration. Any other form (a year past 9999) is parsed as before.
   */
  #expiredBy(r: RegistrationRecord, limit: string, now: number): boolean {
    const e = r.expiresAt;
    if (e.length === 24 && limit.length === 24 && e.charCodeAt(23) === 0x5a /* Z */) return e <= limit;
    return this.isExpired(r, now);
  }

  /** A live registration by id, from memory or (after a restart) from the store. */
  async get(id: string): Promise<RegistrationRecord | undefined> {
    const r = this.#byId.get(id) ?? (await this.#store.registrations.get(id));
    if (r === undefined || this.isExpired(r)) return undefined;
    this.#cache(r);
    return r;
  }

  /** A live registration by endpoint name. */
  async byEndpoint(endpoint: string): Promise<RegistrationRecord | undefined> {
    const id = this.#idByEndpoint.get(endpoint);
    const r = (id !== undefined ? this.#byId.get(id) : undefined) ?? (await this.#store.registrations.getByEndpoint(endpoint));
    if (r === undefined || this.isExpired(r)) return undefined;
    this.#cache(r);
    return r;
  }

  /** The cached registration of an endpoint without touching the store (hot paths). */
  cachedByEndpoint(endpoint: string): RegistrationRecord | undefined {
    const id = this.#idByEndpoint.get(endpoint);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /**
   * Stores a new registration, after its audit record when one is given (fail closed: no audit
   * record, no registration); returns the one it replaced (Core §6.2.1: a new Register replaces
   * the old). Registers that arrive in the same turn of the event loop are written together —
   * their audit records and then the registrations in one store transaction
   * (Store.appendAuditAndPutRegistrations; a store without it: appendMany, then putMany) — so a
   * burst of devices costs one commit per batch rather than two per device. An item the store
   * refuses (its device was deleted meanwhile: ERR_STORE_NOT_FOUND) fails alone; a failed audit
   * append fails the whole batch, and none of its records or registrations are written.
   */
  put(r: RegistrationRecord, options: { audit?: AuditEntry } = {}): Promise<RegistrationRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ record: r, audit: options.audit, resolve, reject });
      if (this.#flushScheduled) return;
      this.#flushScheduled = true;
      // setImmediate, not a microtask: the datagrams of one poll phase all reach here first.
      setImmediate(() => {
        this.#flushScheduled = false;
        const batch = this.#pending;
        this.#pending = [];
        // Whatever goes wrong, every waiting Register gets an answer and the next batch runs
        // (rejecting an already settled promise does nothing).
        this.#writing = this.#writing.then(() => this.#writeAll(batch)).catch((err: unknown) => {
          for (const p of batch) p.reject(err);
        });
      });
    });
  }

  async #writeAll(batch: PendingPut[]): Promise<void> {
    for (let i = 0; i < batch.length; i += this.#maxBatch) await this.#write(batch.slice(i, i + this.#maxBatch));
  }

  async #write(batch: PendingPut[]): Promise<void> {
    const audits = batch.flatMap((p) => (p.audit !== undefined ? [p.audit] : []));
    const records = batch.map((p) => p.record);
    let results: RegistrationPutResult[];
    try {
      if (this.#store.appendAuditAndPutRegistrations !== undefined) {
        // One transaction, one commit: the audit records, then the registrations.
        results = (await this.#store.appendAuditAndPutRegistrations(audits, records)).registrations;
      } else {
        if (audits.length > 0) {
          if (this.#store.audit.appendMany !== undefined) await this.#store.audit.appendMany(audits);
          else for (const a of audits) await this.#store.audit.append(a);
        }
        results = await this.#putMany(records);
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const res = results[i]!;
      if (!res.ok) return p.reject(res.error);
      const cachedOld = this.cachedByEndpoint(p.record.endpoint);
      if (cachedOld !== undefined) this.#uncache(cachedOld);
      this.#cache(p.record);
      p.resolve(res.replaced ?? cachedOld);
    });
  }

  /** The store's putMany, or put() one by one for a store without it. */
  async #putMany(records: RegistrationRecord[]): Promise<RegistrationPutResult[]> {
    if (this.#store.registrations.putMany !== undefined) return this.#store.registrations.putMany(records);
    const out: RegistrationPutResult[] = [];
    for (const r of records) {
      try {
        out.push({ ok: true, replaced: await this.#store.registrations.put(r) });
      } catch (err) {
        if (!(err instanceof Error) || !('code' in err) || (err.code !== 'ERR_STORE_NOT_FOUND' && err.code !== 'ERR_STORE_CONFLICT')) throw err;
        out.push({ ok: false, error: err });
      }
    }
    return out;
  }

  async update(id: string, patch: RegistrationPatch): Promise<RegistrationRecord | undefined> {
    const r = await this.#store.registrations.update(id, patch);
    if (r !== undefined) this.#cache(r);
    else {
      const cached = this.#byId.get(id);
      if (cached !== undefined) this.#uncache(cached);
    }
    return r;
  }

  /** Records the peer a device last spoke from without a store write when it has not changed. */
  async touchPeer(r: RegistrationRecord, peer: string): Promise<RegistrationRecord> {
    if (r.peer === peer) return r;
    return (await this.update(r.id, { peer })) ?? r;
  }

  async remove(r: RegistrationRecord): Promise<boolean> {
    this.#uncache(r);
    return this.#store.registrations.delete(r.id);
  }

  /**
   * Drops every registration whose lifetime has run out, in memory and in the store (including
   * ones made before a restart that no device has touched since), and returns them. A cached copy
   * that looks expired is checked against the store first: another node sharing the store may
   * have renewed it (DESIGN.md §3: no domain service may assume it is the only node).
   */
  async sweep(now = Date.now()): Promise<RegistrationRecord[]> {
    const stale: RegistrationRecord[] = [];
    const limit = new Date(now - this.#graceMs).toISOString();
    for (const r of this.#byId.values()) if (this.#expiredBy(r, limit, now)) stale.push(r);
    const fromStore = await this.#store.registrations.deleteExpired(new Date(now - this.#graceMs).toISOString());
    const expired = new Map(fromStore.map((r) => [r.id, r] as const));
    for (const r of stale) {
      if (expired.has(r.id)) continue;
      const fresh = await this.#store.registrations.get(r.id);
      if (fresh !== undefined && !this.isExpired(fresh, now)) {
        this.#cache(fresh);
        continue;
      }
      if (fresh !== undefined) await this.#store.registrations.delete(r.id);
      expired.set(r.id, r);
    }
    for (const r of expired.values()) this.#uncache(r);
    return [...expired.values()];
  }

  /** Registrations from the store, ordered by endpoint (keyset pagination). */
  list(options?: { after?: string; limit?: number }): Promise<RegistrationRecord[]> {
    return this.#store.registrations.list(options);
  }

  get cachedCount(): number {
    return this.#byId.size;
  }
}
