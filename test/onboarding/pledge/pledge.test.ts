/**
 * The pledge against a registrar that lies (RFC 8995 §5.6.1, §5.6.2): real HTTPS on loopback, a
 * hostile server answering the voucher request with vouchers signed by the real MASA key but
 * wrong in one way each, or signed by someone else. The pledge refuses each with its code and
 * reports the refusal (voucher_status false, §5.7).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { runPledge } from '../../../src/onboarding/pledge/pledge.js';
import { openSignedVoucherRequest, signVoucher } from '../../../src/onboarding/signed-voucher.js';
import type { Voucher } from '../../../src/onboarding/voucher.js';
import { createRootCa, domainCaPolicy, type CertificateAuthority } from '../../../src/pki/index.js';
import { createTestFactory, type TestFactory } from '../helpers.js';
import { p256 } from '../registrar/fixture.js';

type Mode = 'other-serial' | 'other-nonce' | 'foreign-masa' | 'not-pinned';

describe('pledge refuses bad vouchers', () => {
  let t: TestFactory;
  let app: FastifyInstance;
  let url: string;
  let domain: CertificateAuthority;
  let foreignMasa: CertificateAuthority;
  let mode: Mode = 'other-serial';
  const statuses: Array<Record<string, unknown>> = [];

  before(async () => {
    t = await createTestFactory();
    domain = await createRootCa({ signer: p256().signer, subject: 'CN=Genuine Domain CA', validityDays: 3650 });
    const attackerCa = await createRootCa({ signer: p256().signer, subject: 'CN=Attacker CA', validityDays: 3650 });
    foreignMasa = await createRootCa({ signer: p256().signer, subject: 'CN=Foreign MASA', validityDays: 3650 });
    const key = p256();
    const cert = await domainCaPolicy.issueServerCertificate(attackerCa, { publicKey: key.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 30 });
    const foreignKey = p256();
    const foreignCert = await foreignMasa.issueCertificate({ subject: 'CN=Foreign MASA signer', publicKey: foreignKey.signer.publicKey, validity: { days: 30 } });
    app = Fastify({ logger: false, https: { key: key.keyPem, cert: cert.pem, requestCert: true, rejectUnauthorized: false } });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post('/.well-known/brski/requestvoucher', async (req, reply) => {
      const pledge = openSignedVoucherRequest(new Uint8Array(req.body as Buffer)).request;
      const voucher: Voucher = {
        createdOn: new Date(),
        assertion: 'logged',
        serialNumber: mode === 'other-serial' ? 'SOMEONE-ELSE' : pledge.serialNumber,
        nonce: mode === 'other-nonce' ? new Uint8Array(16) : pledge.nonce!,
        // 'not-pinned': a genuine-looking voucher for the real domain, relayed by a registrar
        // whose TLS certificate is not of that domain.
        pinnedDomainCert: domain.certificate.der,
      };
      const identity = mode === 'foreign-masa' ? { signer: foreignKey.signer, certificates: [foreignCert.der] } : { signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] };
      return reply.code(200).type('application/voucher-cms+json').send(Buffer.from(await signVoucher(voucher, identity)));
    });
    app.post('/.well-known/brski/voucher_status', async (req, reply) => {
      statuses.push(JSON.parse((req.body as Buffer).toString('utf8')) as Record<string, unknown>);
      return reply.code(200).send();
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    url = `https://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await app?.close();
    await t?.close();
  });

  const cases: Array<[Mode, string]> = [
    ['other-serial', 'ERR_VOUCHER_WRONG_SERIAL'],
    ['other-nonce', 'ERR_VOUCHER_NONCE_MISMATCH'],
    ['foreign-masa', 'ERR_VOUCHER_UNTRUSTED_SIGNER'],
    ['not-pinned', 'ERR_PLEDGE_REGISTRAR_NOT_PINNED'],
  ];
  for (const [m, expected] of cases) {
    it(`${m}: refused with ${expected} and reported as voucher_status false`, async () => {
      mode = m;
      const serial = `PL-${m}`;
      const dir = join(t.dir, serial);
      await t.factory.mintDevice({ serial, model: 'P', outDir: dir });
      const before = statuses.length;
      await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: url }), (err: unknown) => {
        assert.equal((err as { code?: string }).code, expected, String(err));
        return true;
      });
      assert.equal(statuses.length, before + 1);
      const status = statuses.at(-1)!;
      assert.equal(status.version, 1);
      assert.equal(status.status, false);
      assert.match(String(status.reason), new RegExp(`^${expected}:`));
    });
  }

  it('checks its arguments and its output directory before talking to anyone', async () => {
    const dir = join(t.dir, 'PL-args');
    await t.factory.mintDevice({ serial: 'PL-args', model: 'P', outDir: dir });
    const before = statuses.length;
    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: 'http://127.0.0.1:1' }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(runPledge({ idevidDir: join(t.dir, 'nowhere'), registrarUrl: url }), { code: 'ERR_INVALID_ARGUMENT' });
    const out = join(t.dir, 'PL-args-out');
    mkdirSync(out);
    writeFileSync(join(out, 'ldevid.key'), 'taken');
    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: url, outDir: out }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.equal(statuses.length, before);
  });
});
