/**
 * What the MASA (manufacturer side of RFC 8995) and the registrar's decommission keep in the
 * store, so that several rootline nodes sharing one PostgreSQL agree:
 *
 *   - claims: which domain owns a device now (first claim wins, atomically across nodes);
 *   - used nonces: a voucher-request / release nonce is answered once (replay protection);
 *   - the per-device request log the owner may fetch (RFC 8995 §5.8.1);
 *   - registrar side: claim releases still owed to a remote MASA that was unreachable.
 *
 * Times are ISO 8601 strings; "now" is always passed in by the caller so that both dialects
 * decide expiry against the same clock the service uses.
 */

/** A device's claim at the MASA. One row per serial; a released or expired row may be claimed again. */
export interface MasaClaimRecord {
  serial: string;
  /**
   * Who owns it: hex SHA-256 of the pinned domain certificate's SubjectPublicKeyInfo. A key
   * fingerprint, not the RFC 8995 §5.8.2 domainID (the subjectKeyIdentifier a certificate
   * merely asserts): anyone can mint a CA carrying someone else's SKI, nobody can carry their key.
   */
  owner: string;
  /** RFC 8995 §5.8.2 domainID (base64), for the request log and for people. */
  domainId: string;
  /** The pinned-domain-cert as written into the voucher (base64 DER). */
  pinnedDomainCert: string;
  /** The nonce (base64) of the request that made or last renewed the claim; null for nonceless. */
  nonce: string | null;
  claimedAt: string;
  /** After this instant the claim lapses by itself (null: until released). */
  expiresAt: string | null;
  /** Set by a release; a released claim no longer owns the device. */
  releasedAt: string | null;
}

export interface NewMasaClaim {
  serial: string;
  owner: string;
  domainId: string;
  pinnedDomainCert: string;
  nonce: string | null;
  expiresAt: string | null;
}

export type MasaClaimResult = { claimed: true; claim: MasaClaimRecord } | { claimed: false; current: MasaClaimRecord };

/** A nonce to spend before a claim (MasaRepository.useNonceAndClaim); the serial is the claim's. */
export interface MasaNonceUse {
  purpose: MasaNoncePurpose;
  /** Hex SHA-256 of the nonce. */
  nonceHash: string;
  /** null keeps it for ever. */
  expiresAt: string | null;
}

/** useNonceAndClaim: a replayed nonce (nothing written, no claim tried), or the claim's result. */
export type MasaNonceClaimResult = { fresh: false } | ({ fresh: true } & MasaClaimResult);

/** Why a nonce was used: each purpose has its own namespace ('auditlog' is reserved: the MASA lets log requests repeat). */
export type MasaNoncePurpose = 'voucher' | 'release' | 'auditlog';
export const MASA_NONCE_PURPOSES: readonly MasaNoncePurpose[] = ['voucher', 'release', 'auditlog'];

/** One entry of the RFC 8995 §5.8.1 request log as stored. */
export interface MasaRequestLogEntry {
  serial: string;
  /** RFC 3339 date-and-time of the request. */
  date: string;
  domainId: string;
  /** Base64 nonce, or null for a nonceless request. */
  nonce: string | null;
  assertion: string;
}

/** A claim release the registrar owes a remote MASA (it was unreachable at decommission). */
export interface PendingMasaRelease {
  serial: string;
  endpoint: string;
  masaUrl: string;
  attempts: number;
  /** The last failure, for operators (no secrets). */
  lastError: string | null;
  createdAt: string;
  nextAttemptAt: string;
}

export interface MasaRepository {
  /**
   * One atomic statement: claims `serial` for `claim.owner` unless an active claim (not released,
   * not expired at `now`) of another owner exists. The same owner asking again renews its claim
   * (nonce, expiry) and keeps claimedAt. Two nodes racing on one serial: exactly one wins.
   */
  claim(claim: NewMasaClaim, now: string): Promise<MasaClaimResult>;
  /** The claim row (active, released or expired), if the serial was ever claimed. */
  getClaim(serial: string): Promise<MasaClaimRecord | undefined>;
  /** Releases the active claim of `owner`; false (changing nothing) when `owner` holds none. */
  release(serial: string, owner: string, now: string): Promise<MasaClaimRecord | undefined>;
  /** Releases whatever active claim there is (manufacturer support case); returns it, if any. */
  forceRelease(serial: string, now: string): Promise<MasaClaimRecord | undefined>;
  /**
   * Records a nonce as used; false when it was used before and has not expired (a replay).
   * `nonceHash` is hex SHA-256 of the nonce; `expiresAt` null keeps it forever.
   */
  useNonce(serial: string, purpose: MasaNoncePurpose, nonceHash: string, expiresAt: string | null, now: string): Promise<boolean>;
  /**
   * useNonce(claim.serial, …) then, only when the nonce is fresh, claim(claim, now) — in ONE
   * transaction, one commit instead of two. A fresh nonce stays used whether or not the claim
   * wins (as with the two calls in a row); a replay writes nothing. Optional: callers fall back to
   * the two calls.
   */
  useNonceAndClaim?(nonce: MasaNonceUse, claim: NewMasaClaim, now: string): Promise<MasaNonceClaimResult>;
  /** Deletes nonces expired at `now`; returns how many. */
  purgeExpiredNonces(now: string): Promise<number>;
  appendRequestLog(entry: MasaRequestLogEntry): Promise<void>;
  /** The newest `limit` entries of a serial, oldest first, and how many exist in all. */
  requestLog(serial: string, limit: number): Promise<{ entries: MasaRequestLogEntry[]; total: number }>;

  /** Registrar side: remembers (or refreshes) a release owed to a remote MASA. */
  putPendingRelease(release: { serial: string; endpoint: string; masaUrl: string; lastError: string | null; nextAttemptAt: string }): Promise<PendingMasaRelease>;
  /** Releases due at `now` (nextAttemptAt <= now), oldest first. */
  duePendingReleases(now: string, limit: number): Promise<PendingMasaRelease[]>;
  getPendingRelease(serial: string): Promise<PendingMasaRelease | undefined>;
  /** Counts a failed attempt and moves the next one. Returns undefined when the row is gone. */
  retryPendingReleaseLater(serial: string, lastError: string, nextAttemptAt: string): Promise<PendingMasaRelease | undefined>;
  deletePendingRelease(serial: string): Promise<boolean>;
}
