/**
 * The MASA repository contract (claims, used nonces, request log, pending releases) on SQLite and
 * PostgreSQL, and the property the MASA relies on across nodes: two stores (two connections /
 * pools, as two rootline nodes would have) racing to claim one serial — exactly one wins, every
 * time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { NewMasaClaim } from '../../src/store/masa-types.js';
import type { Store } from '../../src/store/types.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const pgSkip = postgresSkip();
let server: PostgresServer | undefined;
before(async () => {
  if (pgSkip === false) server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

interface Backend {
  name: string;
  skip: string | false;
  /** A fresh database and a function opening another store on it (another node). */
  fresh(): Promise<{ open: () => Promise<Store>; dispose: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async fresh() {
      const dir = mkdtempSync(join(tmpdir(), 'rootline-masa-store-'));
      return { open: () => openSqliteStore({ file: join(dir, 'db.sqlite') }), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: pgSkip,
    async fresh() {
      const cs = await server!.createDatabase();
      return { open: () => openPostgresStore({ connectionString: cs }), dispose: () => server!.dropDatabase(cs) };
    },
  },
];

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const CERT = Buffer.from('pinned').toString('base64');

function claimOf(owner: string, serial = 'SN-1', expiresAt: string | null = null): NewMasaClaim {
  return { serial, owner, domainId: Buffer.from(owner.slice(0, 20)).toString('base64'), pinnedDomainCert: CERT, nonce: Buffer.from('n').toString('base64'), expiresAt };
}

const T0 = '2030-01-01T00:00:00.000Z';
const T1 = '2030-01-01T00:10:00.000Z';
const T2 = '2030-01-01T01:00:00.000Z';

for (const backend of backends) {
  describe(`MASA repository on ${backend.name}`, { skip: backend.skip }, () => {
    async function withStores<T>(n: number, fn: (stores: Store[]) => Promise<T>): Promise<T> {
      const db = await backend.fresh();
      const stores: Store[] = [];
      try {
        for (let i = 0; i < n; i++) stores.push(await db.open());
        return await fn(stores);
      } finally {
        for (const s of stores) await s.close();
        await db.dispose();
      }
    }

    test('first claim wins; another owner is refused until release; the same owner renews', () =>
      withStores(1, async ([s]) => {
        const first = await s!.masa.claim(claimOf(A), T0);
        assert.equal(first.claimed, true);
        assert.equal(first.claimed && first.claim.owner, A);
        const other = await s!.masa.claim(claimOf(B), T1);
        assert.equal(other.claimed, false);
        assert.equal(!other.claimed && other.current.owner, A);
        const again = await s!.masa.claim({ ...claimOf(A), nonce: Buffer.from('m').toString('base64') }, T1);
        assert.ok(again.claimed);
        // Renewal keeps the original claim time and takes the new nonce.
        assert.equal(again.claim.claimedAt, T0);
        assert.equal(again.claim.nonce, Buffer.from('m').toString('base64'));
        assert.equal(await s!.masa.release('SN-1', B, T1), undefined, 'a non-owner cannot release');
        const released = await s!.masa.release('SN-1', A, T1);
        assert.equal(released?.releasedAt, T1);
        assert.equal(await s!.masa.release('SN-1', A, T1), undefined, 'released once');
        const taken = await s!.masa.claim(claimOf(B), T2);
        assert.ok(taken.claimed);
        assert.equal(taken.claim.owner, B);
        assert.equal(taken.claim.claimedAt, T2);
        assert.equal(taken.claim.releasedAt, null);
        assert.equal((await s!.masa.getClaim('SN-1'))?.owner, B);
        assert.equal(await s!.masa.getClaim('SN-2'), undefined);
      }));

    test('an expired claim lapses by itself; forceRelease releases any active claim', () =>
      withStores(1, async ([s]) => {
        assert.ok((await s!.masa.claim(claimOf(A, 'SN-1', T1), T0)).claimed);
        assert.equal((await s!.masa.claim(claimOf(B), T0)).claimed, false);
        assert.equal(await s!.masa.release('SN-1', A, T2), undefined, 'an expired claim is not active');
        assert.ok((await s!.masa.claim(claimOf(B), T1)).claimed, 'expired exactly at T1');
        const forced = await s!.masa.forceRelease('SN-1', T2);
        assert.equal(forced?.owner, B);
        assert.equal(await s!.masa.forceRelease('SN-1', T2), undefined);
        assert.ok((await s!.masa.claim(claimOf(A), T2)).claimed);
      }));

    test('a nonce is used once per serial and purpose, again only after it expired', () =>
      withStores(1, async ([s]) => {
        const h = 'c'.repeat(64);
        assert.equal(await s!.masa.useNonce('SN-1', 'voucher', h, T1, T0), true);
        assert.equal(await s!.masa.useNonce('SN-1', 'voucher', h, T1, T0), false);
        assert.equal(await s!.masa.useNonce('SN-1', 'release', h, null, T0), true, 'purposes are separate');
        assert.equal(await s!.masa.useNonce('SN-2', 'voucher', h, null, T0), true, 'serials are separate');
        assert.equal(await s!.masa.useNonce('SN-1', 'voucher', h, T2, T1), true, 'expired at T1: usable again');
        assert.equal(await s!.masa.useNonce('SN-1', 'release', h, null, T2), false, 'no expiry: never again');
        assert.equal(await s!.masa.purgeExpiredNonces(T2), 1);
        assert.equal(await s!.masa.useNonce('SN-1', 'release', h, null, T2), false);
      }));

    test('useNonceAndClaim: the nonce, then the claim only when fresh, in one transaction; a replay writes nothing', () =>
      withStores(2, async ([s, other]) => {
        const h = 'c'.repeat(64);
        const use = { purpose: 'voucher' as const, nonceHash: h, expiresAt: T1 };
        const first = await s!.masa.useNonceAndClaim!(use, claimOf(A), T0);
        assert.ok(first.fresh && first.claimed);
        assert.equal(first.claim.owner, A);
        // The same nonce again: a replay, the claim is not tried (B would lose anyway; A would renew).
        assert.deepEqual(await s!.masa.useNonceAndClaim!(use, claimOf(A), T0), { fresh: false });
        assert.equal(await s!.masa.useNonce('SN-1', 'voucher', h, T1, T0), false, 'the nonce was spent');
        // A fresh nonce of another owner: spent, and the claim refused (A holds it) — as two calls would.
        const lost = await other!.masa.useNonceAndClaim!({ ...use, nonceHash: 'd'.repeat(64) }, claimOf(B), T0);
        assert.ok(lost.fresh && !lost.claimed);
        assert.equal(lost.current.owner, A);
        assert.equal(await s!.masa.useNonce('SN-1', 'voucher', 'd'.repeat(64), T1, T0), false, 'spent although the claim lost');
        // Nonce and claim of other serials are separate; an expired nonce is usable again.
        const renewed = await s!.masa.useNonceAndClaim!({ ...use, expiresAt: T2 }, claimOf(A), T1);
        assert.ok(renewed.fresh && renewed.claimed && renewed.claim.claimedAt === T0);
        // Arguments are checked before anything is written.
        for (const [nonce, claim, re] of [
          [{ ...use, purpose: 'nope' }, claimOf(A, 'SN-9'), /purpose/],
          [{ ...use, nonceHash: 'x' }, claimOf(A, 'SN-9'), /nonceHash/],
          [{ ...use, extra: 1 }, claimOf(A, 'SN-9'), /nonce\.extra/],
          [{ purpose: 'voucher', nonceHash: h }, claimOf(A, 'SN-9'), /nonce\.expiresAt/],
          [use, { ...claimOf(A, 'SN-9'), owner: 'zz' }, /claim\.owner/],
        ] as const) {
          await assert.rejects(s!.masa.useNonceAndClaim!(nonce as never, claim, T0), (err: Error) => (err as { code?: string }).code === 'ERR_INVALID_ARGUMENT' && re.test(err.message));
        }
        assert.equal(await s!.masa.getClaim('SN-9'), undefined);
        assert.equal(await s!.masa.useNonce('SN-9', 'voucher', h, T1, T0), true, 'nothing was spent for SN-9');
      }));

    test('useNonceAndClaim: nodes racing one nonce, exactly one is fresh', () =>
      withStores(2, async ([s, other]) => {
        for (let i = 0; i < 20; i++) {
          const serial = `SN-R${i}`;
          const use = { purpose: 'voucher' as const, nonceHash: 'e'.repeat(64), expiresAt: null };
          const results = await Promise.all([s, other, s, other].map((st) => st!.masa.useNonceAndClaim!(use, claimOf(A, serial), T0)));
          assert.equal(results.filter((r) => r.fresh).length, 1);
          assert.equal((await s!.masa.getClaim(serial))?.owner, A);
        }
      }));

    test('the request log keeps the newest entries in order and counts all', () =>
      withStores(1, async ([s]) => {
        for (let i = 0; i < 5; i++) await s!.masa.appendRequestLog({ serial: 'SN-1', date: `2030-01-01T00:00:0${i}Z`, domainId: 'ZG9t', nonce: i % 2 === 0 ? 'bm9uY2U=' : null, assertion: 'logged' });
        await s!.masa.appendRequestLog({ serial: 'SN-2', date: '2030-01-01T00:00:00Z', domainId: 'ZG9t', nonce: null, assertion: 'logged' });
        const log = await s!.masa.requestLog('SN-1', 3);
        assert.equal(log.total, 5);
        assert.deepEqual(log.entries.map((e) => e.date), ['2030-01-01T00:00:02Z', '2030-01-01T00:00:03Z', '2030-01-01T00:00:04Z']);
        assert.equal(log.entries[0]!.nonce, 'bm9uY2U=');
        assert.equal(log.entries[1]!.nonce, null);
        assert.deepEqual(await s!.masa.requestLog('SN-3', 10), { entries: [], total: 0 });
      }));

    test('pending releases: put, due, retry later, delete', () =>
      withStores(1, async ([s]) => {
        const put = await s!.masa.putPendingRelease({ serial: 'SN-1', endpoint: 'dev-1', masaUrl: 'https://masa.example:9443', lastError: 'ECONNREFUSED', nextAttemptAt: T0 });
        assert.equal(put.attempts, 0);
        assert.deepEqual((await s!.masa.duePendingReleases(T0, 10)).map((r) => r.serial), ['SN-1']);
        const later = await s!.masa.retryPendingReleaseLater('SN-1', 'timeout', T2);
        assert.equal(later?.attempts, 1);
        assert.equal(later?.lastError, 'timeout');
        assert.deepEqual(await s!.masa.duePendingReleases(T1, 10), []);
        assert.equal((await s!.masa.getPendingRelease('SN-1'))?.nextAttemptAt, T2);
        assert.equal(await s!.masa.deletePendingRelease('SN-1'), true);
        assert.equal(await s!.masa.retryPendingReleaseLater('SN-1', 'x', T2), undefined);
        assert.equal(await s!.masa.deletePendingRelease('SN-1'), false);
      }));

    test('arguments are checked before the database is touched', () =>
      withStores(1, async ([s]) => {
        const bad: Array<[string, () => Promise<unknown>]> = [
          ['owner not a SHA-256', () => s!.masa.claim({ ...claimOf(A), owner: 'xyz' }, T0)],
          ['unknown field', () => s!.masa.claim({ ...claimOf(A), extra: 1 } as unknown as NewMasaClaim, T0)],
          ['missing expiresAt', () => s!.masa.claim({ ...claimOf(A), expiresAt: undefined } as unknown as NewMasaClaim, T0)],
          ['bad now', () => s!.masa.claim(claimOf(A), 'yesterday')],
          ['control character in serial', () => s!.masa.getClaim('SN\u0001')],
          ['bad purpose', () => s!.masa.useNonce('SN-1', 'other' as 'voucher', 'c'.repeat(64), null, T0)],
          ['http MASA URL', () => s!.masa.putPendingRelease({ serial: 'SN-1', endpoint: 'e', masaUrl: 'http://masa.example', lastError: null, nextAttemptAt: T0 })],
          ['limit 0', () => s!.masa.requestLog('SN-1', 0)],
        ];
        for (const [what, call] of bad) await assert.rejects(call(), { code: 'ERR_INVALID_ARGUMENT' }, what);
      }));

    test('fuzz: any argument either works or is ERR_INVALID_ARGUMENT; the store never fails otherwise', () =>
      withStores(1, async ([s]) => {
        const text = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('', 'a'.repeat(64), 'SN-1', 'YWJj', '2030-01-01T00:00:00Z', 'https://m.example', '\u0000', '\ud800'));
        const anyValue = fc.oneof(text, fc.constant(null), fc.constant(undefined), fc.integer(), fc.object({ maxDepth: 1 }));
        await fc.assert(
          fc.asyncProperty(fc.record({ serial: anyValue, owner: fc.oneof(anyValue, fc.constant(A)), domainId: anyValue, pinnedDomainCert: anyValue, nonce: anyValue, expiresAt: anyValue }), anyValue, fc.nat({ max: 5 }), async (claim, now, op) => {
            try {
              if (op === 0) await s!.masa.claim(claim as unknown as NewMasaClaim, now as string);
              else if (op === 1) await s!.masa.useNonce(claim.serial as string, 'voucher', claim.owner as string, claim.expiresAt as string | null, now as string);
              else if (op === 2) await s!.masa.release(claim.serial as string, claim.owner as string, now as string);
              else if (op === 3) await s!.masa.putPendingRelease({ serial: claim.serial, endpoint: claim.domainId, masaUrl: claim.pinnedDomainCert, lastError: claim.nonce, nextAttemptAt: now } as never);
              else if (op === 4) await s!.masa.appendRequestLog({ serial: claim.serial, date: claim.expiresAt, domainId: claim.domainId, nonce: claim.nonce, assertion: claim.pinnedDomainCert } as never);
              else await s!.masa.requestLog(claim.serial as string, claim.nonce as number);
            } catch (err) {
              assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT', String(err));
            }
          }),
          { numRuns: 300 },
        );
      }));

    test('two nodes racing to claim the same serial: exactly one wins, every time', () =>
      withStores(2, async ([one, two]) => {
        const rounds = 60;
        for (let i = 0; i < rounds; i++) {
          const serial = `RACE-${i}`;
          // Alternate who starts first so neither node is always ahead.
          const [ra, rb] = i % 2 === 0
            ? await Promise.all([one!.masa.claim(claimOf(A, serial), T0), two!.masa.claim(claimOf(B, serial), T0)])
            : await Promise.all([two!.masa.claim(claimOf(B, serial), T0), one!.masa.claim(claimOf(A, serial), T0)]).then(([b, a]) => [a, b] as const);
          assert.equal(Number(ra.claimed) + Number(rb.claimed), 1, `round ${i}: exactly one claim succeeds`);
          const winner = ra.claimed ? A : B;
          const loser = ra.claimed ? rb : ra;
          assert.equal(loser.claimed ? undefined : loser.current.owner, winner, 'the loser is told who won');
          assert.equal((await one!.masa.getClaim(serial))?.owner, winner);
          assert.equal((await two!.masa.getClaim(serial))?.owner, winner);
        }
        // Released devices race again: still exactly one winner each time.
        for (let i = 0; i < rounds; i++) {
          const serial = `RACE-${i}`;
          const holder = (await one!.masa.getClaim(serial))!.owner;
          assert.ok(await two!.masa.release(serial, holder, T1));
          const [ra, rb] = await Promise.all([one!.masa.claim(claimOf(A, serial), T2), two!.masa.claim(claimOf(B, serial), T2)]);
          assert.equal(Number(ra.claimed) + Number(rb.claimed), 1, `re-claim round ${i}`);
        }
      }));

    test('two nodes racing on the same nonce: exactly one is fresh', () =>
      withStores(2, async ([one, two]) => {
        for (let i = 0; i < 40; i++) {
          const h = i.toString(16).padStart(64, '0');
          const [x, y] = await Promise.all([one!.masa.useNonce('SN-1', 'voucher', h, null, T0), two!.masa.useNonce('SN-1', 'voucher', h, null, T0)]);
          assert.equal(Number(x) + Number(y), 1, `nonce ${i}`);
        }
      }));
  });
}
