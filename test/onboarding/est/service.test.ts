/**
 * The EST service's decisions without a transport: who may enroll, what the certificate says,
 * re-enrollment's identical-subject rule, channel binding, pending approval, and the audit
 * record every decision leaves.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCsr } from '../../../src/pki/create-csr.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { domainCaPolicy } from '../../../src/pki/domain-policy.js';
import { encodeBase64Body } from '../../../src/onboarding/est/base64-body.js';
import { decodeCertsOnly } from '../../../src/onboarding/est/certs-only.js';
import { challengePasswordFor, type ChannelBinding } from '../../../src/onboarding/est/channel-binding.js';
import { authorizeByManufacturer } from '../../../src/onboarding/est/authorize-manufacturer.js';
import { createEstService, type EstAuthorize, type EstService } from '../../../src/onboarding/est/service.js';
import { CSR_ATTR_OID } from '../../../src/onboarding/est/csr-attrs.js';
import { estHttpStatus } from '../../../src/onboarding/est/errors.js';
import { createPki, forgeCsr, MemoryAudit, mintDevice, p256, type Device, type KeyPair, type Pki } from './helpers.js';

const rejects = (code: string, status?: number) => (err: unknown) => {
  assert.equal((err as { code?: string }).code, code, String(err));
  if (status !== undefined) assert.equal(estHttpStatus(err), status);
  return true;
};

async function csrBody(key: KeyPair, subject: string, extra: { challengePassword?: string; dns?: string[] } = {}): Promise<string> {
  const der = await createCsr({
    signer: key.signer,
    subject,
    ...(extra.dns !== undefined ? { subjectAltNames: { dns: extra.dns } } : {}),
    ...(extra.challengePassword !== undefined ? { challengePassword: extra.challengePassword } : {}),
  });
  return encodeBase64Body(der);
}

describe('EST service', () => {
  let pki: Pki;
  let device: Device;
  let authorize: EstAuthorize;
  before(async () => {
    pki = await createPki();
    device = await mintDevice(pki.manufacturer, 'SN-100');
    authorize = authorizeByManufacturer({ manufacturerCas: [pki.manufacturer.state.certificate] });
  });

  const ctx = (d: { cert: { der: Uint8Array } }, binding?: ChannelBinding) => ({ clientCertificates: [d.cert.der], ...(binding ? { channelBinding: binding } : {}) });

  it('issues an LDevID to an IDevID-authenticated pledge, subject from policy rather than the CSR, and audits it', async () => {
    const audit = new MemoryAudit();
    const service = createEstService({ ca: pki.domain, authorize, audit });
    const key = p256();
    const out = await service.simpleEnroll(ctx(device), await csrBody(key, 'CN=root,O=Evil', { dns: ['admin.example'] }));
    assert.equal(out.status, 'issued');
    if (out.status !== 'issued') return;
    const cert = out.certificate.certificate;
    assert.equal(cert.subject, 'CN=SN-100,serialNumber=SN-100');
    assert.equal(cert.subjectAltNames, undefined, 'SANs the CSR asked for are not granted');
    assert.equal(cert.issuer, pki.domain.certificate.subject);
    assert.deepEqual(cert.publicKey, key.signer.publicKey);
    assert.deepEqual(cert.extKeyUsage, ['clientAuth']);
    assert.deepEqual(decodeCertsOnly(out.response), [out.certificate.der]);
    const e = audit.last();
    assert.equal(e.action, 'est.simpleenroll');
    assert.equal(e.outcome, 'success');
    assert.equal(e.subject, 'SN-100');
    assert.equal((e.details!.issued as { serialNumber: string }).serialNumber, out.certificate.serialNumber);
    assert.ok(!JSON.stringify(audit.entries).includes('PRIVATE KEY'));
  });

  it('refuses a pledge from an unknown manufacturer with 403 and an audit record naming why', async () => {
    const audit = new MemoryAudit();
    const service = createEstService({ ca: pki.domain, authorize, audit });
    const rogue = await mintDevice(pki.rogue, 'SN-ROGUE');
    const before = Object.keys(pki.domain.state.issued).length;
    await assert.rejects(service.simpleEnroll(ctx(rogue), await csrBody(p256(), 'CN=x')), rejects('ERR_EST_FORBIDDEN', 403));
    assert.equal(Object.keys(pki.domain.state.issued).length, before, 'nothing issued');
    const e = audit.last();
    assert.equal(e.outcome, 'deny');
    assert.equal(e.subject, 'SN-ROGUE');
    assert.equal(e.details!.code, 'ERR_EST_FORBIDDEN');
    assert.match(String(e.details!.reason), /not an IDevID of a trusted manufacturer.*ERR_PKI_UNTRUSTED/);
  });

  it('refuses a CSR whose signature does not verify (ERR_EST_BAD_CSR), no client certificate, and garbage', async () => {
    const audit = new MemoryAudit();
    const service = createEstService({ ca: pki.domain, authorize, audit });
    const forged = encodeBase64Body(await forgeCsr(p256(), p256(), 'CN=forged'));
    await assert.rejects(service.simpleEnroll(ctx(device), forged), rejects('ERR_EST_BAD_CSR', 400));
    assert.equal(audit.last().details!.code, 'ERR_EST_BAD_CSR');
    assert.equal(audit.last().outcome, 'deny');
    await assert.rejects(service.simpleEnroll({ clientCertificates: [] }, await csrBody(p256(), 'CN=x')), rejects('ERR_EST_UNAUTHENTICATED', 403));
    assert.equal(audit.last().actor, 'device:unauthenticated');
    await assert.rejects(service.simpleEnroll(ctx(device), 'not base64!'), rejects('ERR_EST_MALFORMED_BODY', 400));
    assert.equal(audit.entries.length, 3);
  });

  it('answers pending (202) while authorize waits for an operator, then issues', async () => {
    const audit = new MemoryAudit();
    let approved = false;
    const service = createEstService({
      ca: pki.domain,
      audit,
      authorize: authorizeByManufacturer({
        manufacturerCas: [pki.manufacturer.certificate.der],
        decide: (idevid) => (approved ? { decision: 'accept' } : { decision: 'pending', retryAfterSeconds: 30, reason: `operator approval for ${idevid.subject}`, identity: 'SN-100' }),
      }),
    });
    const body = await csrBody(p256(), 'CN=x');
    const first = await service.simpleEnroll(ctx(device), body);
    assert.deepEqual(first, { status: 'pending', retryAfterSeconds: 30, reason: 'operator approval for CN=Acme Sensor,O=Acme,serialNumber=SN-100' });
    assert.equal(audit.last().details!.pending, true);
    approved = true;
    assert.equal((await service.simpleEnroll(ctx(device), body)).status, 'issued');
  });

  it('enforces RFC 7030 §3.5 channel binding by policy', async () => {
    const audit = new MemoryAudit();
    const binding: ChannelBinding = { type: 'tls-unique', value: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };
    const required = createEstService({ ca: pki.domain, authorize, audit, policy: { channelBinding: 'required' } });
    assert.deepEqual(required.csrAttrs()[0], { oid: CSR_ATTR_OID.challengePassword });
    await assert.rejects(required.simpleEnroll(ctx(device, binding), await csrBody(p256(), 'CN=x')), rejects('ERR_EST_CHANNEL_BINDING', 400));
    const linked = await csrBody(p256(), 'CN=x', { challengePassword: challengePasswordFor(binding) });
    assert.equal((await required.simpleEnroll(ctx(device, binding), linked)).status, 'issued');
    // A CSR linked to another session is refused even where linking is optional ("MUST verify it").
    const optional = createEstService({ ca: pki.domain, authorize, audit });
    assert.ok(!optional.csrAttrs().some((a) => 'oid' in a && a.oid === CSR_ATTR_OID.challengePassword));
    const other: ChannelBinding = { type: 'tls-unique', value: new Uint8Array(12) };
    await assert.rejects(optional.simpleEnroll(ctx(device, other), linked), rejects('ERR_EST_CHANNEL_BINDING'));
    await assert.rejects(optional.simpleEnroll(ctx(device), linked), rejects('ERR_EST_CHANNEL_BINDING'));
    assert.equal((await optional.simpleEnroll(ctx(device), await csrBody(p256(), 'CN=x'))).status, 'issued');
  });

  describe('re-enrollment (RFC 7030 §4.2.2)', () => {
    let service: EstService;
    let audit: MemoryAudit;
    let ldevid: Device;
    before(async () => {
      audit = new MemoryAudit();
      service = createEstService({ ca: pki.domain, authorize, audit });
      const key = p256();
      const out = await service.simpleEnroll(ctx(device), await csrBody(key, 'CN=x'));
      assert.equal(out.status, 'issued');
      if (out.status === 'issued') ldevid = { serial: 'SN-100', key, cert: out.certificate };
    });

    it('renews with the same key and rekeys with a new one, keeping subject and validity policy', async () => {
      const renewed = await service.simpleReenroll(ctx(ldevid), await csrBody(ldevid.key, ldevid.cert.certificate.subject));
      assert.equal(renewed.status, 'issued');
      if (renewed.status !== 'issued') return;
      assert.deepEqual(renewed.certificate.certificate.subjectDer, ldevid.cert.certificate.subjectDer);
      assert.notEqual(renewed.certificate.serialNumber, ldevid.cert.serialNumber);
      assert.equal(audit.last().details!.rekey, false);
      const next = p256();
      const rekeyed = await service.simpleReenroll(ctx(ldevid), await csrBody(next, 'CN=SN-100,serialNumber=SN-100'));
      assert.equal(rekeyed.status, 'issued');
      if (rekeyed.status === 'issued') assert.deepEqual(rekeyed.certificate.certificate.publicKey, next.signer.publicKey);
      assert.equal(audit.last().details!.rekey, true);
      assert.equal(audit.last().details!.renewing, ldevid.cert.serialNumber);
    });

    it('refuses a different subject or subjectAltName', async () => {
      await assert.rejects(service.simpleReenroll(ctx(ldevid), await csrBody(ldevid.key, 'CN=SN-999,serialNumber=SN-999')), rejects('ERR_EST_REENROLL_MISMATCH', 400));
      assert.match(String(audit.last().details!.reason), /subject/);
      await assert.rejects(
        service.simpleReenroll(ctx(ldevid), await csrBody(ldevid.key, 'CN=SN-100,serialNumber=SN-100', { dns: ['other.example'] })),
        rejects('ERR_EST_REENROLL_MISMATCH'),
      );
      assert.match(String(audit.last().details!.reason), /subjectAltName/);
    });

    it('keeps a SAN the current certificate has, byte for byte', async () => {
      const key = p256();
      const withSan = await domainCaPolicy.issueLdevid(pki.domain, { publicKey: key.signer.publicKey, subject: 'CN=SN-200', subjectAltNames: { dns: ['sn-200.devices.example'] } });
      const out = await service.simpleReenroll({ clientCertificates: [withSan.der] }, await csrBody(key, 'CN=SN-200', { dns: ['sn-200.devices.example'] }));
      assert.equal(out.status, 'issued');
      if (out.status === 'issued') assert.deepEqual(out.certificate.certificate.subjectAltNames?.dns, ['sn-200.devices.example']);
    });

    it('refuses an IDevID, a certificate from another CA, and a revoked LDevID', async () => {
      await assert.rejects(service.simpleReenroll(ctx(device), await csrBody(device.key, device.cert.certificate.subject)), rejects('ERR_EST_FORBIDDEN', 403));
      const key = p256();
      const revoked = await domainCaPolicy.issueLdevid(pki.domain, { publicKey: key.signer.publicKey, subject: 'CN=SN-300' });
      pki.domain.revoke(revoked.serialNumber, 'keyCompromise');
      await assert.rejects(service.simpleReenroll({ clientCertificates: [revoked.der] }, await csrBody(key, 'CN=SN-300')), rejects('ERR_EST_FORBIDDEN'));
      assert.match(String(audit.last().details!.reason), /revoked/);
      assert.equal(parseCertificate(revoked.der).subject, 'CN=SN-300');
    });
  });

  it('does not hand out a certificate whose audit record could not be written', async () => {
    const failing = { append: () => Promise.reject(new Error('disk full')) };
    const service = createEstService({ ca: pki.domain, authorize, audit: failing });
    await assert.rejects(service.simpleEnroll(ctx(device), await csrBody(p256(), 'CN=x')), /disk full/);
  });

  it('fails closed when authorize misbehaves', async () => {
    const audit = new MemoryAudit();
    const service = createEstService({ ca: pki.domain, audit, authorize: () => ({ decision: 'maybe' }) as never });
    await assert.rejects(service.simpleEnroll(ctx(device), await csrBody(p256(), 'CN=x')), rejects('ERR_EST_ISSUE_FAILED', 500));
    assert.equal(audit.last().outcome, 'failure');
    const throwing = createEstService({ ca: pki.domain, audit, authorize: () => { throw new TypeError('bug'); } });
    await assert.rejects(throwing.simpleEnroll(ctx(device), await csrBody(p256(), 'CN=x')), rejects('ERR_EST_ISSUE_FAILED'));
    assert.equal(audit.last().details!.reason, 'bug');
  });
});
