/** The MASA tables on PostgreSQL (see masa-types.ts for the contract, masa-schema.ts for the SQL). */
import type pg from 'pg';
import { masaArgs, type NonceUseArgs } from '../masa-args.js';
import { claimFromRow, pendingReleaseFromRow, requestLogFromRow, type MasaClaimRow, type MasaRequestLogRow, type PendingReleaseRow } from '../masa-rows.js';
import type { MasaClaimRecord, MasaClaimResult, MasaNonceClaimResult, MasaNoncePurpose, MasaNonceUse, MasaRepository, MasaRequestLogEntry, NewMasaClaim, PendingMasaRelease } from '../masa-types.js';
import { toSafeInteger } from '../rows.js';
import { withTransaction, type PostgresContext } from './context.js';

/** A pool or a client inside a transaction. */
type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/**
 * First claim wins, in one statement. Under concurrency PostgreSQL makes the second inserter wait
 * for the first's row, then evaluates the WHERE against the committed row: a claim by another
 * owner that is neither released nor expired makes it affect no row, so two nodes never both win.
 */
const CLAIM_SQL = `INSERT INTO masa_claims (serial, owner, domain_id, pinned_domain_cert, nonce, claimed_at, expires_at, released_at)
  VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7::timestamptz, NULL)
  ON CONFLICT (serial) DO UPDATE SET
    claimed_at = CASE WHEN masa_claims.owner = excluded.owner AND masa_claims.released_at IS NULL
                       AND (masa_claims.expires_at IS NULL OR masa_claims.expires_at > $6::timestamptz)
                      THEN masa_claims.claimed_at ELSE excluded.claimed_at END,
    owner = excluded.owner,
    domain_id = excluded.domain_id,
    pinned_domain_cert = excluded.pinned_domain_cert,
    nonce = excluded.nonce,
    expires_at = excluded.expires_at,
    released_at = NULL
  WHERE masa_claims.released_at IS NOT NULL
     OR (masa_claims.expires_at IS NOT NULL AND masa_claims.expires_at <= $6::timestamptz)
     OR masa_claims.owner = excluded.owner
  RETURNING *`;

export class PostgresMasaRepository implements MasaRepository {
  readonly #ctx: PostgresContext;

  constructor(ctx: PostgresContext) {
    this.#ctx = ctx;
  }

  async claim(claim: NewMasaClaim, now: string): Promise<MasaClaimResult> {
    const { claim: c, now: at } = masaArgs.claim(claim, now);
    this.#ctx.check();
    return this.#claimOn(this.#ctx.pool, c, at);
  }

  async #claimOn(db: Queryable, c: NewMasaClaim, at: string): Promise<MasaClaimResult> {
    const { rows } = await db.query<MasaClaimRow>(CLAIM_SQL, [c.serial, c.owner, c.domainId, c.pinnedDomainCert, c.nonce, at, c.expiresAt]);
    if (rows[0] !== undefined) return { claimed: true, claim: claimFromRow(rows[0]) };
    const current = await db.query<MasaClaimRow>('SELECT * FROM masa_claims WHERE serial = $1', [c.serial]);
    return { claimed: false, current: claimFromRow(current.rows[0]!) };
  }

  /** One transaction: the nonce, then (fresh only) the claim. */
  async useNonceAndClaim(nonce: MasaNonceUse, claim: NewMasaClaim, now: string): Promise<MasaNonceClaimResult> {
    const a = masaArgs.useNonceAndClaim(nonce, claim, now);
    this.#ctx.check();
    return withTransaction(this.#ctx.pool, async (client): Promise<MasaNonceClaimResult> => {
      if (!(await this.#useNonceOn(client, a.nonce))) return { fresh: false };
      return { fresh: true, ...(await this.#claimOn(client, a.claim, a.now)) };
    });
  }

  async getClaim(serial: string): Promise<MasaClaimRecord | undefined> {
    masaArgs.serial(serial);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<MasaClaimRow>('SELECT * FROM masa_claims WHERE serial = $1', [serial]);
    return rows[0] === undefined ? undefined : claimFromRow(rows[0]);
  }

  async release(serial: string, owner: string, now: string): Promise<MasaClaimRecord | undefined> {
    const a = masaArgs.release(serial, owner, now);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<MasaClaimRow>(
      `UPDATE masa_claims SET released_at = $3::timestamptz
       WHERE serial = $1 AND owner = $2 AND released_at IS NULL AND (expires_at IS NULL OR expires_at > $3::timestamptz) RETURNING *`,
      [a.serial, a.owner, a.now],
    );
    return rows[0] === undefined ? undefined : claimFromRow(rows[0]);
  }

  async forceRelease(serial: string, now: string): Promise<MasaClaimRecord | undefined> {
    const a = masaArgs.forceRelease(serial, now);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<MasaClaimRow>(
      `UPDATE masa_claims SET released_at = $2::timestamptz
       WHERE serial = $1 AND released_at IS NULL AND (expires_at IS NULL OR expires_at > $2::timestamptz) RETURNING *`,
      [a.serial, a.now],
    );
    return rows[0] === undefined ? undefined : claimFromRow(rows[0]);
  }

  async useNonce(serial: string, purpose: MasaNoncePurpose, nonceHash: string, expiresAt: string | null, now: string): Promise<boolean> {
    const a = masaArgs.useNonce(serial, purpose, nonceHash, expiresAt, now);
    this.#ctx.check();
    return this.#useNonceOn(this.#ctx.pool, a);
  }

  async #useNonceOn(db: Queryable, a: NonceUseArgs): Promise<boolean> {
    const r = await db.query(
      `INSERT INTO masa_nonces (serial, purpose, nonce_hash, used_at, expires_at) VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz)
       ON CONFLICT (serial, purpose, nonce_hash) DO UPDATE SET used_at = excluded.used_at, expires_at = excluded.expires_at
       WHERE masa_nonces.expires_at IS NOT NULL AND masa_nonces.expires_at <= $4::timestamptz`,
      [a.serial, a.purpose, a.nonceHash, a.now, a.expiresAt],
    );
    return r.rowCount === 1;
  }

  async purgeExpiredNonces(now: string): Promise<number> {
    const a = masaArgs.purgeExpiredNonces(now);
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM masa_nonces WHERE expires_at IS NOT NULL AND expires_at <= $1::timestamptz', [a.now]);
    return r.rowCount ?? 0;
  }

  async appendRequestLog(entry: MasaRequestLogEntry): Promise<void> {
    const e = masaArgs.appendRequestLog(entry);
    this.#ctx.check();
    await this.appendRequestLogOn(this.#ctx.pool, e);
  }

  /** The request log insert (checked entry) on `db`: the pool, or a client in the caller's transaction. */
  async appendRequestLogOn(db: Queryable, e: MasaRequestLogEntry): Promise<void> {
    await db.query('INSERT INTO masa_request_log (serial, date, domain_id, nonce, assertion) VALUES ($1, $2, $3, $4, $5)', [e.serial, e.date, e.domainId, e.nonce, e.assertion]);
  }

  async requestLog(serial: string, limit: number): Promise<{ entries: MasaRequestLogEntry[]; total: number }> {
    const a = masaArgs.requestLog(serial, limit);
    this.#ctx.check();
    // One statement: the page and the count come from the same snapshot.
    const { rows } = await this.#ctx.pool.query<MasaRequestLogRow & { total: string }>(
      `SELECT serial, date, domain_id, nonce, assertion, (SELECT COUNT(*) FROM masa_request_log WHERE serial = $1) AS total
       FROM (SELECT * FROM masa_request_log WHERE serial = $1 ORDER BY id DESC LIMIT $2) newest ORDER BY id`,
      [a.serial, a.limit],
    );
    const total = rows[0] === undefined ? 0 : toSafeInteger(rows[0].total, 'masa_request_log count');
    return { entries: rows.map(requestLogFromRow), total };
  }

  async putPendingRelease(release: { serial: string; endpoint: string; masaUrl: string; lastError: string | null; nextAttemptAt: string }): Promise<PendingMasaRelease> {
    const r = masaArgs.putPendingRelease(release);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<PendingReleaseRow>(
      `INSERT INTO masa_pending_releases (serial, endpoint, masa_url, attempts, last_error, created_at, next_attempt_at)
       VALUES ($1, $2, $3, 0, $4, now(), $5::timestamptz)
       ON CONFLICT (serial) DO UPDATE SET endpoint = excluded.endpoint, masa_url = excluded.masa_url, last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at
       RETURNING *`,
      [r.serial, r.endpoint, r.masaUrl, r.lastError, r.nextAttemptAt],
    );
    return pendingReleaseFromRow(rows[0]!);
  }

  async duePendingReleases(now: string, limit: number): Promise<PendingMasaRelease[]> {
    const a = masaArgs.duePendingReleases(now, limit);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<PendingReleaseRow>('SELECT * FROM masa_pending_releases WHERE next_attempt_at <= $1::timestamptz ORDER BY next_attempt_at, serial LIMIT $2', [a.now, a.limit]);
    return rows.map(pendingReleaseFromRow);
  }

  async getPendingRelease(serial: string): Promise<PendingMasaRelease | undefined> {
    masaArgs.serial(serial);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<PendingReleaseRow>('SELECT * FROM masa_pending_releases WHERE serial = $1', [serial]);
    return rows[0] === undefined ? undefined : pendingReleaseFromRow(rows[0]);
  }

  async retryPendingReleaseLater(serial: string, lastError: string, nextAttemptAt: string): Promise<PendingMasaRelease | undefined> {
    const a = masaArgs.retryPendingReleaseLater(serial, lastError, nextAttemptAt);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<PendingReleaseRow>(
      'UPDATE masa_pending_releases SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3::timestamptz WHERE serial = $1 RETURNING *',
      [a.serial, a.lastError, a.nextAttemptAt],
    );
    return rows[0] === undefined ? undefined : pendingReleaseFromRow(rows[0]);
  }

  async deletePendingRelease(serial: string): Promise<boolean> {
    masaArgs.serial(serial);
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM masa_pending_releases WHERE serial = $1', [serial]);
    return (r.rowCount ?? 0) > 0;
  }
}
