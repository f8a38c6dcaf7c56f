/** The MASA tables on SQLite (see masa-types.ts for the contract, masa-schema.ts for the SQL). */
import { masaArgs, type NonceUseArgs } from '../masa-args.js';
import { claimFromRow, pendingReleaseFromRow, requestLogFromRow, type MasaClaimRow, type MasaRequestLogRow, type PendingReleaseRow } from '../masa-rows.js';
import type { MasaClaimRecord, MasaClaimResult, MasaNonceClaimResult, MasaNoncePurpose, MasaNonceUse, MasaRepository, MasaRequestLogEntry, NewMasaClaim, PendingMasaRelease } from '../masa-types.js';
import type { SqliteContext } from './context.js';

/**
 * First claim wins, in one statement: the row is inserted, or taken over only when the existing
 * claim is released, expired, or already this owner's. The same owner keeps its claimed_at.
 */
const CLAIM_SQL = `INSERT INTO masa_claims (serial, owner, domain_id, pinned_domain_cert, nonce, claimed_at, expires_at, released_at)
  VALUES (@serial, @owner, @domainId, @pinnedDomainCert, @nonce, @now, @expiresAt, NULL)
  ON CONFLICT (serial) DO UPDATE SET
    claimed_at = CASE WHEN masa_claims.owner = excluded.owner AND masa_claims.released_at IS NULL
                       AND (masa_claims.expires_at IS NULL OR masa_claims.expires_at > @now)
                      THEN masa_claims.claimed_at ELSE excluded.claimed_at END,
    owner = excluded.owner,
    domain_id = excluded.domain_id,
    pinned_domain_cert = excluded.pinned_domain_cert,
    nonce = excluded.nonce,
    expires_at = excluded.expires_at,
    released_at = NULL
  WHERE masa_claims.released_at IS NOT NULL
     OR (masa_claims.expires_at IS NOT NULL AND masa_claims.expires_at <= @now)
     OR masa_claims.owner = excluded.owner
  RETURNING *`;

const ACTIVE = 'released_at IS NULL AND (expires_at IS NULL OR expires_at > @now)';

export class SqliteMasaRepository implements MasaRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async claim(claim: NewMasaClaim, now: string): Promise<MasaClaimResult> {
    const { claim: c, now: at } = masaArgs.claim(claim, now);
    this.#ctx.checkOpen();
    return this.#ctx.write(() => this.#claim(c, at));
  }

  #claim(c: NewMasaClaim, at: string): MasaClaimResult {
    const row = this.#ctx.prepare(CLAIM_SQL).get({ ...c, now: at }) as MasaClaimRow | undefined;
    if (row !== undefined) return { claimed: true, claim: claimFromRow(row) };
    const current = this.#ctx.prepare('SELECT * FROM masa_claims WHERE serial = ?').get(c.serial) as MasaClaimRow;
    return { claimed: false, current: claimFromRow(current) };
  }

  /** One IMMEDIATE transaction (with the queued audit appends first): the nonce, then the claim. */
  async useNonceAndClaim(nonce: MasaNonceUse, claim: NewMasaClaim, now: string): Promise<MasaNonceClaimResult> {
    const a = masaArgs.useNonceAndClaim(nonce, claim, now);
    this.#ctx.checkOpen();
    const unit = this.#ctx.db.transaction((): MasaNonceClaimResult => {
      if (!this.#useNonce(a.nonce)) return { fresh: false };
      return { fresh: true, ...this.#claim(a.claim, a.now) };
    });
    return this.#ctx.write(() => unit.immediate());
  }

  async getClaim(serial: string): Promise<MasaClaimRecord | undefined> {
    masaArgs.serial(serial);
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT * FROM masa_claims WHERE serial = ?').get(serial) as MasaClaimRow | undefined;
    return row === undefined ? undefined : claimFromRow(row);
  }

  async release(serial: string, owner: string, now: string): Promise<MasaClaimRecord | undefined> {
    const a = masaArgs.release(serial, owner, now);
    this.#ctx.check();
    const row = this.#ctx.prepare(`UPDATE masa_claims SET released_at = @now WHERE serial = @serial AND owner = @owner AND ${ACTIVE} RETURNING *`).get(a) as MasaClaimRow | undefined;
    return row === undefined ? undefined : claimFromRow(row);
  }

  async forceRelease(serial: string, now: string): Promise<MasaClaimRecord | undefined> {
    const a = masaArgs.forceRelease(serial, now);
    this.#ctx.check();
    const row = this.#ctx.prepare(`UPDATE masa_claims SET released_at = @now WHERE serial = @serial AND ${ACTIVE} RETURNING *`).get(a) as MasaClaimRow | undefined;
    return row === undefined ? undefined : claimFromRow(row);
  }

  async useNonce(serial: string, purpose: MasaNoncePurpose, nonceHash: string, expiresAt: string | null, now: string): Promise<boolean> {
    const a = masaArgs.useNonce(serial, purpose, nonceHash, expiresAt, now);
    this.#ctx.checkOpen();
    return this.#ctx.write(() => this.#useNonce(a));
  }

  #useNonce(a: NonceUseArgs): boolean {
    // A used nonce is taken again only once its retention has passed (then no request carrying
    // it can still be fresh); otherwise the statement changes nothing: a replay.
    const r = this.#ctx
      .prepare(
        `INSERT INTO masa_nonces (serial, purpose, nonce_hash, used_at, expires_at) VALUES (@serial, @purpose, @nonceHash, @now, @expiresAt)
         ON CONFLICT (serial, purpose, nonce_hash) DO UPDATE SET used_at = excluded.used_at, expires_at = excluded.expires_at
         WHERE masa_nonces.expires_at IS NOT NULL AND masa_nonces.expires_at <= @now`,
      )
      .run(a);
    return r.changes === 1;
  }

  async purgeExpiredNonces(now: string): Promise<number> {
    const a = masaArgs.purgeExpiredNonces(now);
    this.#ctx.check();
    return this.#ctx.prepare('DELETE FROM masa_nonces WHERE expires_at IS NOT NULL AND expires_at <= ?').run(a.now).changes;
  }

  async appendRequestLog(entry: MasaRequestLogEntry): Promise<void> {
    const e = masaArgs.appendRequestLog(entry);
    this.#ctx.checkOpen();
    this.#ctx.write(() => this.appendRequestLogInTransaction(e));
  }

  /** The request log insert (checked entry), inside the caller's transaction (Store.appendRequestLogAndAudit). */
  appendRequestLogInTransaction(e: MasaRequestLogEntry): void {
    this.#ctx.prepare('INSERT INTO masa_request_log (serial, date, domain_id, nonce, assertion) VALUES (?, ?, ?, ?, ?)').run(e.serial, e.date, e.domainId, e.nonce, e.assertion);
  }

  async requestLog(serial: string, limit: number): Promise<{ entries: MasaRequestLogEntry[]; total: number }> {
    const a = masaArgs.requestLog(serial, limit);
    this.#ctx.checkOpen();
    const read = this.#ctx.db.transaction(() => {
      const rows = this.#ctx.prepare('SELECT serial, date, domain_id, nonce, assertion FROM masa_request_log WHERE serial = ? ORDER BY id DESC LIMIT ?').all(a.serial, a.limit) as MasaRequestLogRow[];
      const { n } = this.#ctx.prepare('SELECT COUNT(*) AS n FROM masa_request_log WHERE serial = ?').get(a.serial) as { n: number };
      return { entries: rows.reverse().map(requestLogFromRow), total: n };
    });
    return read();
  }

  async putPendingRelease(release: { serial: string; endpoint: string; masaUrl: string; lastError: string | null; nextAttemptAt: string }): Promise<PendingMasaRelease> {
    const r = masaArgs.putPendingRelease(release);
    this.#ctx.check();
    const row = this.#ctx
      .prepare(
        `INSERT INTO masa_pending_releases (serial, endpoint, masa_url, attempts, last_error, created_at, next_attempt_at)
         VALUES (@serial, @endpoint, @masaUrl, 0, @lastError, @createdAt, @nextAttemptAt)
         ON CONFLICT (serial) DO UPDATE SET endpoint = excluded.endpoint, masa_url = excluded.masa_url, last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at
         RETURNING *`,
      )
      .get({ ...r, createdAt: new Date().toISOString() }) as PendingReleaseRow;
    return pendingReleaseFromRow(row);
  }

  async duePendingReleases(now: string, limit: number): Promise<PendingMasaRelease[]> {
    const a = masaArgs.duePendingReleases(now, limit);
    this.#ctx.checkOpen();
    const rows = this.#ctx.prepare('SELECT * FROM masa_pending_releases WHERE next_attempt_at <= ? ORDER BY next_attempt_at, serial LIMIT ?').all(a.now, a.limit) as PendingReleaseRow[];
    return rows.map(pendingReleaseFromRow);
  }

  async getPendingRelease(serial: string): Promise<PendingMasaRelease | undefined> {
    masaArgs.serial(serial);
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT * FROM masa_pending_releases WHERE serial = ?').get(serial) as PendingReleaseRow | undefined;
    return row === undefined ? undefined : pendingReleaseFromRow(row);
  }

  async retryPendingReleaseLater(serial: string, lastError: string, nextAttemptAt: string): Promise<PendingMasaRelease | undefined> {
    const a = masaArgs.retryPendingReleaseLater(serial, lastError, nextAttemptAt);
    this.#ctx.check();
    const row = this.#ctx.prepare('UPDATE masa_pending_releases SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE serial = ? RETURNING *').get(a.lastError, a.nextAttemptAt, a.serial) as PendingReleaseRow | undefined;
    return row === undefined ? undefined : pendingReleaseFromRow(row);
  }

  async deletePendingRelease(serial: string): Promise<boolean> {
    masaArgs.serial(serial);
    this.#ctx.check();
    return this.#ctx.prepare('DELETE FROM masa_pending_releases WHERE serial = ?').run(serial).changes > 0;
  }
}
