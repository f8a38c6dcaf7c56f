import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { AuditChainVerifier, GENESIS_HASH, canonicalAuditRecord, canonicalJson, hashAuditRecord, verifyAuditChain } from '../../src/store/audit-chain.js';
import type { AuditRecord } from '../../src/store/types.js';

// The worked example of src/store/README.md; the hash was computed with `printf '%s' ... | sha256sum`.
const EXAMPLE_CANONICAL =
  '{"action":"device.create","actor":"operator:ann","at":"2026-01-01T00:00:00.000Z","details":{"a":{"c":null,"d":[1,"é",1e+21,0.5]},"b":2},' +
  '"outcome":"success","prevHash":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,"subject":"urn:dev:1"}';
const EXAMPLE_HASH = 'f867dc652e08f3d75445067b1ccc061d4949f8a1077456c6188a3bd112853c98';

type Unsigned = Omit<AuditRecord, 'hash'>;

function chain(entries: Array<Omit<Unsigned, 'seq' | 'prevHash'>>): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prev = GENESIS_HASH;
  entries.forEach((e, i) => {
    const unsigned: Unsigned = { ...e, seq: i + 1, prevHash: prev };
    const rec = { ...unsigned, hash: hashAuditRecord(unsigned) };
    out.push(rec);
    prev = rec.hash;
  });
  return out;
}

const entryArb = fc.record({
  at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  actor: fc.string({ unit: 'binary', minLength: 1 }),
  action: fc.string({ minLength: 1 }),
  subject: fc.string({ unit: 'binary', minLength: 1 }),
  outcome: fc.constantFrom('allow' as const, 'deny' as const, 'success' as const, 'failure' as const),
  details: fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()).map((d) => JSON.parse(JSON.stringify(d)) as Record<string, unknown>),
});

test('canonical form and hash match the documented worked example', () => {
  const record: Unsigned = {
    seq: 1,
    at: '2026-01-01T00:00:00.000Z',
    actor: 'operator:ann',
    action: 'device.create',
    subject: 'urn:dev:1',
    outcome: 'success',
    details: { b: 2, a: { d: [1, 'é', 1e21, 0.5], c: null } },
    prevHash: GENESIS_HASH,
  };
  assert.equal(canonicalAuditRecord(record), EXAMPLE_CANONICAL);
  assert.equal(hashAuditRecord(record), EXAMPLE_HASH);
  assert.equal(createHash('sha256').update(EXAMPLE_CANONICAL, 'utf8').digest('hex'), EXAMPLE_HASH);
});

test('canonicalAuditRecord (hand-ordered keys for well-shaped records) equals canonicalJson of the record object', () => {
  const generic = (r: Record<string, unknown>): string =>
    canonicalJson({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, subject: r.subject, outcome: r.outcome, details: r.details, prevHash: r.prevHash }, 'record');
  const outcome = (r: Record<string, unknown>, f: (x: Record<string, unknown>) => string): string => {
    try {
      return f(r);
    } catch (err) {
      return `throws ${(err as { code?: string }).code}: ${(err as Error).message}`;
    }
  };
  fc.assert(
    fc.property(entryArb, fc.integer({ min: 1 }), fc.string({ unit: 'binary' }), (e, seq, prevHash) => {
      const r = { ...e, seq, prevHash };
      assert.equal(canonicalAuditRecord(r), generic(r));
    }),
    { numRuns: 2000 },
  );
  // Records that are not well shaped (verify() feeds whatever the database holds) take the
  // general path and give what it gives: omitted undefined fields, errors for non-JSON values.
  const odd = fc.record({
    seq: fc.oneof(fc.integer(), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY), fc.string(), fc.constant(undefined)),
    at: fc.oneof(fc.string(), fc.constant(undefined), fc.integer()),
    actor: fc.oneof(fc.string(), fc.constant(null)),
    action: fc.oneof(fc.string(), fc.constant(undefined)),
    subject: fc.string(),
    outcome: fc.oneof(fc.string(), fc.boolean()),
    details: fc.oneof(fc.constant(undefined), fc.constant(null), fc.jsonValue(), fc.constant({ n: Number.NaN })),
    prevHash: fc.oneof(fc.string(), fc.constant(undefined)),
  });
  fc.assert(
    fc.property(odd, (r) => {
      assert.equal(outcome(r, (x) => canonicalAuditRecord(x as never)), outcome(r, generic));
    }),
    { numRuns: 2000 },
  );
});

test('canonicalJson follows RFC 8785: UTF-16 key order, no whitespace, ECMAScript numbers', () => {
  // RFC 8785 §3.2.3 sorts by UTF-16 code units: U+10000 (D800 DC00) sorts before U+E000.
  assert.equal(canonicalJson({ '\ue000': 1, '\u{10000}': 2, a: 3, B: 4 }), '{"B":4,"a":3,"\u{10000}":2,"\ue000":1}');
  assert.equal(canonicalJson([-0, 1e-7, 123456789012345680000, 'a"\\\n\u001f']), '[0,1e-7,123456789012345680000,"a\\"\\\\\\n\\u001f"]');
  assert.equal(canonicalJson({ skip: undefined, keep: null }), '{"keep":null}');
  assert.throws(() => canonicalJson({ n: Number.POSITIVE_INFINITY }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => canonicalJson({ f: () => 1 }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => canonicalJson(10n), { code: 'ERR_INVALID_ARGUMENT' });
});

test('the hash does not depend on key order in details', () => {
  const base: Unsigned = { seq: 3, at: 'x', actor: 'a', action: 'b', subject: 'c', outcome: 'allow', details: { x: 1, y: [2, { q: 1, p: 2 }] }, prevHash: GENESIS_HASH };
  assert.equal(hashAuditRecord(base), hashAuditRecord({ ...base, details: { y: [2, { p: 2, q: 1 }], x: 1 } }));
  assert.notEqual(hashAuditRecord(base), hashAuditRecord({ ...base, details: { x: 1, y: [{ q: 1, p: 2 }, 2] } }));
});

test('verifyAuditChain: an empty chain and an intact chain verify', () => {
  assert.deepEqual(verifyAuditChain([]), { ok: true, count: 0, lastHash: GENESIS_HASH });
  const records = chain([
    { at: 't1', actor: 'a', action: 'x', subject: 's', outcome: 'allow', details: {} },
    { at: 't2', actor: 'b', action: 'y', subject: 's', outcome: 'deny', details: { k: [1] } },
  ]);
  assert.deepEqual(verifyAuditChain(records), { ok: true, count: 2, lastHash: records[1]!.hash });
  // Any iterable works, so a CLI can stream an export through it.
  function* gen(): Generator<AuditRecord> {
    yield* records;
  }
  assert.equal(verifyAuditChain(gen()).ok, true);
  assert.throws(() => verifyAuditChain(42 as never), { code: 'ERR_INVALID_ARGUMENT' });
});

test('verifyAuditChain: malformed records are reported with their seq', () => {
  const records = chain([
    { at: 't1', actor: 'a', action: 'x', subject: 's', outcome: 'allow', details: {} },
    { at: 't2', actor: 'b', action: 'y', subject: 's', outcome: 'deny', details: {} },
  ]);
  const cases: Array<[Partial<AuditRecord> | Record<string, unknown>, RegExp]> = [
    [{ outcome: 'maybe' as never }, /outcome/],
    [{ details: null as never }, /details/],
    [{ hash: 'ABC' }, /hash/],
    [{ prevHash: records[0]!.hash.toUpperCase() }, /prevHash/],
    [{ actor: 5 as never }, /actor/],
    [{ details: { n: Number.NaN } }, /finite/],
  ];
  for (const [patch, why] of cases) {
    const v = verifyAuditChain([records[0]!, { ...records[1]!, ...patch } as AuditRecord]);
    assert.ok(!v.ok && v.brokenAt === 2 && v.problem === 'malformed' && v.count === 1, JSON.stringify(v));
    assert.match(v.reason, why);
  }
  const v = verifyAuditChain([null as never]);
  assert.ok(!v.ok && v.brokenAt === 1 && v.problem === 'malformed');
});

test('AuditChainVerifier.checkHead: truncation, records past the head, a wrong head hash', () => {
  const records = chain(Array.from({ length: 4 }, (_, i) => ({ at: `t${i}`, actor: 'a', action: 'x', subject: 's', outcome: 'allow' as const, details: {} })));
  const walk = (n: number): AuditChainVerifier => {
    const v = new AuditChainVerifier();
    for (const r of records.slice(0, n)) assert.equal(v.push(r), undefined);
    return v;
  };
  assert.equal(walk(4).checkHead({ seq: 4, hash: records[3]!.hash }), undefined);
  assert.deepEqual(walk(0).checkHead({ seq: 0, hash: GENESIS_HASH }), undefined);
  let f = walk(2).checkHead({ seq: 4, hash: records[3]!.hash });
  assert.ok(f && f.brokenAt === 3 && /records missing/.test(f.reason));
  f = walk(4).checkHead({ seq: 2, hash: records[1]!.hash });
  assert.ok(f && f.brokenAt === 3 && /beyond the head/.test(f.reason));
  f = walk(4).checkHead({ seq: 4, hash: records[2]!.hash });
  assert.ok(f && f.brokenAt === 4 && f.problem === 'head-mismatch');
  // After a failure the verdict is frozen.
  const v = walk(1);
  v.push(records[2]!);
  const frozen = v.result();
  v.push(records[1]!);
  assert.deepEqual(v.result(), frozen);
});

test('property: intact chains verify; any single tampering is reported at the right seq', () => {
  const fields = ['at', 'actor', 'action', 'subject', 'outcome', 'details', 'prevHash', 'hash', 'drop', 'swap'] as const;
  fc.assert(
    fc.property(fc.array(entryArb, { minLength: 2, maxLength: 12 }), fc.nat(), fc.constantFrom(...fields), (entries, pick, field) => {
      const records = chain(entries);
      const ok = verifyAuditChain(records);
      assert.ok(ok.ok && ok.count === records.length);
      const k = pick % (records.length - 1); // never the last: its loss needs the store's head
      const r = records[k]!;
      const tampered = [...records];
      let expect: { brokenAt: number; problem: string };
      switch (field) {
        case 'drop':
          tampered.splice(k, 1);
          expect = { brokenAt: k + 1, problem: 'seq-gap' };
          break;
        case 'swap':
          [tampered[k], tampered[k + 1]] = [tampered[k + 1]!, tampered[k]!];
          expect = { brokenAt: k + 1, problem: 'seq-gap' };
          break;
        case 'prevHash':
          tampered[k] = { ...r, prevHash: createHash('sha256').update(r.prevHash).digest('hex') };
          expect = { brokenAt: k + 1, problem: 'prev-hash-mismatch' };
          break;
        case 'hash':
          tampered[k] = { ...r, hash: createHash('sha256').update(r.hash).digest('hex') };
          expect = { brokenAt: k + 1, problem: 'hash-mismatch' };
          break;
        case 'outcome':
          tampered[k] = { ...r, outcome: r.outcome === 'allow' ? 'deny' : 'allow' };
          expect = { brokenAt: k + 1, problem: 'hash-mismatch' };
          break;
        case 'details':
          tampered[k] = { ...r, details: { ...r.details, tampered: true } };
          expect = { brokenAt: k + 1, problem: 'hash-mismatch' };
          break;
        default:
          tampered[k] = { ...r, [field]: `${r[field]}!` };
          expect = { brokenAt: k + 1, problem: 'hash-mismatch' };
      }
      const v = verifyAuditChain(tampered);
      assert.ok(!v.ok, `tampering ${field} at ${k + 1} went unnoticed`);
      assert.deepEqual({ brokenAt: v.brokenAt, problem: v.problem }, expect, v.reason);
      assert.equal(v.count, k);
    }),
    { numRuns: 300 },
  );
});
