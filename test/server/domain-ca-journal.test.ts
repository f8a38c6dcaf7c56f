import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootlineError } from '../../src/errors.js';
import { CertificateAuthority, createRootCa } from '../../src/pki/certificate-authority.js';
import type { CaChange, CaState } from '../../src/pki/ca-state.js';
import { DOMAIN_CA_JOURNAL_FILE, DOMAIN_CA_STATE_FILE, DomainCaStateFiles, MIN_COMPACTION_RECORDS } from '../../src/server/domain-ca-journal.js';
import { p256Signer } from '../pki/forge.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rootline-ca-journal-'));
  dirs.push(d);
  return d;
}
const damaged = (err: unknown) => {
  assert.ok(err instanceof RootlineError, String(err));
  assert.equal(err.code, 'ERR_SERVER_CA_STATE_DAMAGED', err.message);
  return true;
};

async function trackedCa(): Promise<{ ca: CertificateAuthority; signer: ReturnType<typeof p256Signer> }> {
  const signer = p256Signer();
  const root = await createRootCa({ signer, subject: 'CN=Journal Domain CA', validityDays: 30 });
  return { ca: CertificateAuthority.open(signer, root.state, { trackChanges: true }), signer };
}

function fakeIssue(i: number): CaChange {
  return { op: 'issue', serial: (0x100000 + i).toString(16), subject: `CN=dev-${i}`, notAfter: '2027-01-01T00:00:00.000Z' };
}

describe('domain CA state: snapshot + append-only journal', () => {
  it('an issuance appends one line (the snapshot is not rewritten); reading back replays the journal to the same state; the state reopens a CA', async () => {
    const dir = freshDir();
    const files = new DomainCaStateFiles(dir);
    assert.equal(files.read(), undefined);
    const { ca, signer } = await trackedCa();
    files.writeSnapshot(ca.state);
    const snapshotBefore = readFileSync(join(dir, DOMAIN_CA_STATE_FILE), 'utf8');
    const issued = [];
    for (let i = 0; i < 3; i++) {
      issued.push(await ca.issueCertificate({ subject: `CN=d${i}`, publicKey: p256Signer().publicKey }));
      files.append(ca.takeChanges(), () => ca.state);
    }
    ca.revoke(issued[1]!.serialNumber, 'cessationOfOperation');
    await ca.createCrl();
    files.append(ca.takeChanges(), () => ca.state);
    assert.equal(readFileSync(join(dir, DOMAIN_CA_STATE_FILE), 'utf8'), snapshotBefore, 'snapshot untouched');
    assert.equal(readFileSync(join(dir, DOMAIN_CA_JOURNAL_FILE), 'utf8').split('\n').length - 1, 5);
    assert.equal(statSync(join(dir, DOMAIN_CA_JOURNAL_FILE)).mode & 0o777, 0o600);
    const again = new DomainCaStateFiles(dir);
    const state = again.read()!;
    assert.deepEqual(state, ca.state);
    assert.equal(again.journalRecords, 5);
    const reopened = CertificateAuthority.open(signer, state);
    assert.ok(reopened.isRevoked(issued[1]!.serialNumber));
    assert.equal((await reopened.issueCertificate({ subject: 'CN=next', publicKey: p256Signer().publicKey })).certificate.issuer, 'CN=Journal Domain CA');
  });

  it('folds the journal into a new snapshot once it is as long as the snapshot (at least MIN_COMPACTION_RECORDS)', async () => {
    const dir = freshDir();
    const files = new DomainCaStateFiles(dir);
    const { ca } = await trackedCa();
    const state: CaState = ca.state;
    files.writeSnapshot(state);
    for (let i = 0; i < MIN_COMPACTION_RECORDS - 1; i++) {
      const c = fakeIssue(i);
      state.issued[(c as { serial: string }).serial] = { subject: `CN=dev-${i}`, notAfter: '2027-01-01T00:00:00.000Z' };
      files.append([c], () => state);
    }
    assert.equal(files.journalRecords, MIN_COMPACTION_RECORDS - 1);
    const c = fakeIssue(MIN_COMPACTION_RECORDS - 1);
    state.issued[(c as { serial: string }).serial] = { subject: 'CN=last', notAfter: '2027-01-01T00:00:00.000Z' };
    files.append([{ ...c, subject: 'CN=last' } as CaChange], () => state);
    assert.equal(files.journalRecords, 0);
    assert.equal(readFileSync(join(dir, DOMAIN_CA_JOURNAL_FILE), 'utf8'), '');
    assert.equal(existsSync(join(dir, `${DOMAIN_CA_STATE_FILE}.tmp`)), false);
    const read = new DomainCaStateFiles(dir).read()!;
    assert.equal(Object.keys(read.issued).length, MIN_COMPACTION_RECORDS + 1, 'root + every fake serial');
    assert.deepEqual(read, state);
  });

  it('a crash between the new snapshot and emptying the journal: replaying the old journal over it changes nothing', async () => {
    const dir = freshDir();
    const files = new DomainCaStateFiles(dir);
    const { ca } = await trackedCa();
    files.writeSnapshot(ca.state);
    await ca.issueCertificate({ subject: 'CN=a', publicKey: p256Signer().publicKey });
    const a = ca.state;
    const first = ca.takeChanges();
    files.append(first, () => ca.state);
    const journal = readFileSync(join(dir, DOMAIN_CA_JOURNAL_FILE));
    files.writeSnapshot(ca.state);
    writeFileSync(join(dir, DOMAIN_CA_JOURNAL_FILE), journal);
    assert.deepEqual(new DomainCaStateFiles(dir).read(), a);
  });

  it('a torn last line (no newline: the append never returned) is dropped; any other damage refuses with ERR_SERVER_CA_STATE_DAMAGED', async () => {
    const dir = freshDir();
    const files = new DomainCaStateFiles(dir);
    const { ca } = await trackedCa();
    files.writeSnapshot(ca.state);
    await ca.issueCertificate({ subject: 'CN=a', publicKey: p256Signer().publicKey });
    files.append(ca.takeChanges(), () => ca.state);
    const good = ca.state;
    const journalFile = join(dir, DOMAIN_CA_JOURNAL_FILE);
    const intact = readFileSync(journalFile, 'utf8');
    appendFileSync(journalFile, JSON.stringify(fakeIssue(7)).slice(0, 25));
    assert.deepEqual(new DomainCaStateFiles(dir).read(), good, 'torn tail ignored');

    for (const tail of [
      'not json\n',
      `${JSON.stringify({ op: 'issue', serial: 'zz' })}\n`,
      `${JSON.stringify({ op: 'revoke', serial: 'abcdef', reason: 'superseded', revokedAt: '2026-01-01T00:00:00.000Z' })}\n`, // never issued
      '\n',
    ]) {
      writeFileSync(journalFile, intact + tail);
      assert.throws(() => new DomainCaStateFiles(dir).read(), damaged, tail);
    }
    writeFileSync(journalFile, intact);
    writeFileSync(join(dir, DOMAIN_CA_STATE_FILE), '{"version":1');
    assert.throws(() => new DomainCaStateFiles(dir).read(), damaged);
    rmSync(join(dir, DOMAIN_CA_STATE_FILE));
    assert.throws(() => new DomainCaStateFiles(dir).read(), damaged, 'a journal without its snapshot');
  });

  it('reads a snapshot written by the previous code (pretty-printed, no journal)', async () => {
    const dir = freshDir();
    const { ca } = await trackedCa();
    writeFileSync(join(dir, DOMAIN_CA_STATE_FILE), `${JSON.stringify(ca.state, null, 2)}\n`, { mode: 0o600 });
    assert.deepEqual(new DomainCaStateFiles(dir).read(), ca.state);
  });
});
