/**
 * The CoAPs pledge against a registrar that lies (RFC 8995 §5.6.1, §5.6.2), over real DTLS on
 * loopback: the registrar's CoAP resources (startRegistrarCoaps) in front of a hostile registrar
 * that answers the COSE voucher request with vouchers signed by the real MASA key but wrong in
 * one way each, or signed by someone else, or that never finishes. The pledge refuses each with
 * its code and reports the refusal (voucher status false, CBOR on /vs) before throwing; it never
 * reaches enrollment.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistrarCoaps, type RegistrarCoapsServer } from '../../src/onboarding/coaps/index.js';
import { openCoseSignedVoucherRequest, signConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import type { EstService } from '../../src/onboarding/est/service.js';
import { runCoapsPledge } from '../../src/onboarding/pledge/coaps-transport.js';
import { runPledge } from '../../src/onboarding/pledge/pledge.js';
import { PledgeRefusedError } from '../../src/onboarding/registrar/errors.js';
import { parseStatusTelemetry, type StatusTelemetry } from '../../src/onboarding/registrar/status-telemetry.js';
import type { Voucher } from '../../src/onboarding/voucher.js';
import { createRootCa, domainCaPolicy, type CertificateAuthority } from '../../src/pki/index.js';
import { createTestFactory, type TestFactory } from './helpers.js';
import { p256 } from './registrar/fixture.js';

type Mode = 'other-serial' | 'other-nonce' | 'foreign-masa' | 'not-pinned' | 'garbage' | 'refuse';

describe('CoAPs pledge refuses bad vouchers', () => {
  let t: TestFactory;
  let server: RegistrarCoapsServer;
  let url: string;
  let genuineDomain: CertificateAuthority;
  let mode: Mode = 'other-serial';
  const statuses: StatusTelemetry[] = [];
  let enrollments = 0;

  before(async () => {
    t = await createTestFactory();
    genuineDomain = await createRootCa({ signer: p256().signer, subject: 'CN=Genuine Domain CA', validityDays: 3650 });
    const attackerCa = await createRootCa({ signer: p256().signer, subject: 'CN=Attacker CA', validityDays: 3650 });
    const foreignMasa = await createRootCa({ signer: p256().signer, subject: 'CN=Foreign MASA', validityDays: 3650 });
    const key = p256();
    const cert = await domainCaPolicy.issueServerCertificate(attackerCa, { publicKey: key.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 30 });
    const foreignKey = p256();
    const foreignCert = await foreignMasa.issueCertificate({ subject: 'CN=Foreign MASA signer', publicKey: foreignKey.signer.publicKey, validity: { days: 30 } });
    const noEst = (): never => {
      enrollments++;
      throw new Error('the pledge must not get this far');
    };
    const est = { cacerts: noEst, csrAttrs: noEst, simpleEnroll: noEst, simpleReenroll: noEst } as unknown as EstService;
    server = await startRegistrarCoaps({
      host: '127.0.0.1',
      port: 0,
      identity: { signer: key.signer, chain: [cert.der, attackerCa.certificate.der] },
      registrar: {
        est,
        async requestVoucher(_ctx, body) {
          const pledge = openCoseSignedVoucherRequest(body).request;
          if (mode === 'garbage') return { status: 'voucher', voucher: new Uint8Array([0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40]), serialNumber: pledge.serialNumber, endpoint: 'x' };
          if (mode === 'refuse') throw new PledgeRefusedError('policy says no');
          const voucher: Voucher = {
            createdOn: new Date(),
            assertion: 'logged',
            serialNumber: mode === 'other-serial' ? 'SOMEONE-ELSE' : pledge.serialNumber,
            nonce: mode === 'other-nonce' ? new Uint8Array(16) : pledge.nonce!,
            // 'not-pinned': a genuine voucher for the genuine domain, relayed by a registrar whose
            // DTLS certificate is not of that domain.
            pinnedDomainCert: genuineDomain.certificate.der,
          };
          const identity = mode === 'foreign-masa' ? { signer: foreignKey.signer, certificates: [foreignCert.der] } : { signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] };
          return { status: 'voucher', voucher: await signConstrainedVoucher(voucher, identity), serialNumber: pledge.serialNumber, endpoint: 'x' };
        },
        async voucherStatus(_ctx, body) {
          const s = parseStatusTelemetry(body);
          statuses.push(s);
          return s;
        },
        async enrollStatus(_ctx, body) {
          return parseStatusTelemetry(body);
        },
      },
    });
    url = `coaps://127.0.0.1:${server.address.port}`;
  });

  after(async () => {
    await server?.close();
    await t?.close();
  });

  const cases: Array<[Mode, string]> = [
    ['other-serial', 'ERR_VOUCHER_WRONG_SERIAL'],
    ['other-nonce', 'ERR_VOUCHER_NONCE_MISMATCH'],
    ['foreign-masa', 'ERR_VOUCHER_UNTRUSTED_SIGNER'],
    ['not-pinned', 'ERR_PLEDGE_REGISTRAR_NOT_PINNED'],
    ['garbage', 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE'],
  ];
  for (const [m, expected] of cases) {
    it(`${m}: refused with ${expected} and reported as voucher status false (CBOR)`, async () => {
      mode = m;
      const serial = `PC-${m}`;
      const dir = join(t.dir, serial);
      await t.factory.mintDevice({ serial, model: 'P', outDir: dir });
      const before = statuses.length;
      await assert.rejects(runCoapsPledge({ idevidDir: dir, registrarUrl: url }), (err: unknown) => {
        assert.equal((err as { code?: string }).code, expected, String(err));
        return true;
      });
      assert.equal(statuses.length, before + 1);
      const status = statuses.at(-1)!;
      assert.equal(status.version, 1);
      assert.equal(status.status, false);
      assert.match(String(status.reason), new RegExp(`^${expected}:`));
      assert.equal(enrollments, 0);
    });
  }

  it("a registrar refusal is the pledge's ERR_PLEDGE_PROTOCOL with the CoAP code and the server's code (through runPledge's coaps:// hook)", async () => {
    mode = 'refuse';
    const dir = join(t.dir, 'PC-refuse');
    await t.factory.mintDevice({ serial: 'PC-refuse', model: 'P', outDir: dir });
    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: url }), (err: unknown) => {
      const e = err as { code?: string; status?: number; serverCode?: string; message: string };
      assert.equal(e.code, 'ERR_PLEDGE_PROTOCOL');
      assert.equal(e.status, 403);
      assert.equal(e.serverCode, 'ERR_REGISTRAR_REFUSED');
      assert.match(e.message, /CoAP 4\.03/);
      return true;
    });
  });

  it('checks its arguments and its output directory before talking to anyone', async () => {
    const dir = join(t.dir, 'PC-args');
    await t.factory.mintDevice({ serial: 'PC-args', model: 'P', outDir: dir });
    const before = statuses.length;
    for (const bad of ['coaps://127.0.0.1:1/path', 'coaps://127.0.0.1:1?q', 'coap://127.0.0.1:1']) await assert.rejects(runCoapsPledge({ idevidDir: dir, registrarUrl: bad }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(runCoapsPledge({ idevidDir: join(t.dir, 'nowhere'), registrarUrl: url }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(runCoapsPledge({ idevidDir: join(t.dir, 'nowhere'), registrarUrl: url }), /nowhere\/idevid\.pem is missing/);
    const out = join(t.dir, 'PC-args-out');
    mkdirSync(out);
    writeFileSync(join(out, 'voucher.cose'), 'taken');
    await assert.rejects(runCoapsPledge({ idevidDir: dir, registrarUrl: url, outDir: out }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.equal(statuses.length, before);
  });
});
