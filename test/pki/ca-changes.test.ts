import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RootlineError } from '../../src/errors.js';
import { applyCaChange, assertCaChange, type CaChange } from '../../src/pki/ca-state.js';
import { CertificateAuthority, createRootCa } from '../../src/pki/certificate-authority.js';
import { p256Signer } from './forge.js';

const code = (c: string) => (err: unknown) => {
  assert.ok(err instanceof RootlineError, `expected ${c}, got ${String(err)}`);
  assert.equal(err.code, c, err.message);
  return true;
};

describe('CertificateAuthority change tracking (journal)', () => {
  it('hands out completed issuances, revocations and CRL numbers once, oldest first; replaying them over the old state gives the new one', async () => {
    const signer = p256Signer();
    const root = await createRootCa({ signer, subject: 'CN=Journal Root', validityDays: 30 });
    assert.throws(() => root.takeChanges(), code('ERR_INVALID_ARGUMENT'));
    const before = root.state;
    const ca = CertificateAuthority.open(signer, before, { trackChanges: true });
    assert.deepEqual(ca.takeChanges(), []);
    const a = await ca.issueCertificate({ subject: 'CN=a', publicKey: p256Signer().publicKey });
    const b = await ca.issueCertificate({ subject: 'CN=b', publicKey: p256Signer().publicKey });
    ca.revoke(a.serialNumber, 'keyCompromise', new Date('2026-01-02T03:04:05.678Z'));
    await ca.createCrl();
    const changes = ca.takeChanges();
    assert.deepEqual(
      changes.map((c) => c.op),
      ['issue', 'issue', 'revoke', 'crl'],
    );
    assert.deepEqual(changes[0], { op: 'issue', serial: a.serialNumber, subject: 'CN=a', notAfter: a.certificate.notAfter.toISOString() });
    assert.deepEqual(changes[2], { op: 'revoke', serial: a.serialNumber, reason: 'keyCompromise', revokedAt: '2026-01-02T03:04:05.000Z' });
    assert.deepEqual(changes[3], { op: 'crl', crlNumber: 1 });
    assert.deepEqual(ca.takeChanges(), [], 'taken once');
    for (const c of changes) assertCaChange(JSON.parse(JSON.stringify(c)), 'change');
    const replayed = structuredClone(before);
    for (const c of changes) applyCaChange(replayed, c);
    assert.deepEqual(replayed, ca.state);
    // Idempotent: replaying again (a crash between snapshot and journal truncation) changes nothing.
    for (const c of changes) applyCaChange(replayed, c);
    assert.deepEqual(replayed, ca.state);
    assert.ok(b.serialNumber in replayed.issued);
  });

  it('a failed signature leaves no change behind', async () => {
    const signer = p256Signer();
    const root = await createRootCa({ signer, subject: 'CN=Fail Root', validityDays: 30 });
    const failing = { ...signer, sign: async () => Promise.reject(new Error('token gone')) };
    const ca = CertificateAuthority.open(failing, root.state, { trackChanges: true });
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: p256Signer().publicKey }));
    assert.deepEqual(ca.takeChanges(), []);
  });

  it('assertCaChange refuses malformed records with typed errors; applyCaChange never lowers the CRL number or rewrites a revocation', () => {
    const bad: unknown[] = [
      null,
      [],
      { op: 'issue', serial: 'XY', subject: 'CN=a', notAfter: '2026-01-01T00:00:00.000Z' },
      { op: 'issue', serial: 'ab', subject: 'CN=a' },
      { op: 'issue', serial: 'ab', subject: 'CN=a', notAfter: 'soon' },
      { op: 'issue', serial: 'ab', subject: 'CN=a', notAfter: '2026-01-01T00:00:00.000Z', extra: 1 },
      { op: 'revoke', serial: 'ab', reason: 'bored', revokedAt: '2026-01-01T00:00:00.000Z' },
      { op: 'crl', crlNumber: -1 },
      { op: 'crl', crlNumber: 1.5 },
      { op: 'delete', serial: 'ab' },
    ];
    for (const v of bad) assert.throws(() => assertCaChange(v, 'c'), code('ERR_INVALID_ARGUMENT'), JSON.stringify(v));
    const state = { version: 1 as const, certificate: '', chain: [], issued: { ab: { subject: 'CN=a', notAfter: '2026-01-01T00:00:00.000Z' } }, revoked: {}, crlNumber: 5 };
    applyCaChange(state, { op: 'crl', crlNumber: 3 });
    assert.equal(state.crlNumber, 5);
    const first: CaChange = { op: 'revoke', serial: 'ab', reason: 'superseded', revokedAt: '2026-01-01T00:00:00.000Z' };
    applyCaChange(state, first);
    applyCaChange(state, { ...first, reason: 'keyCompromise', revokedAt: '2026-02-01T00:00:00.000Z' });
    assert.deepEqual(state.revoked, { ab: { reason: 'superseded', revokedAt: '2026-01-01T00:00:00.000Z' } });
  });
});
