/**
 * BRSKI end to end on loopback: factory → MASA (HTTPS) → registrar (HTTPS, provisional TLS) →
 * pledge. The LDevID is checked with `openssl verify`, the voucher with `openssl cms -verify`,
 * and the registry with the store itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runPledge } from '../../../src/onboarding/pledge/pledge.js';
import { parseCertificate } from '../../../src/pki/index.js';
import { opensslSkip, run } from '../est/helpers.js';
import { createWorld, startDomain, type Domain, type World } from './fixture.js';

describe('BRSKI onboarding end to end (MASA and registrar over HTTPS)', { skip: opensslSkip }, () => {
  let w: World;
  let d: Domain;

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Example', { masaClient: w.httpsMasa, masaUrl: w.masa.url });
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  it('onboards a pledge: LDevID from the domain CA, device in RFPRO with x509 credential and bootstrap config', async () => {
    const idevidDir = await w.mint('SN-1001', 'Thermo 5');
    const outDir = join(w.t.dir, 'out-SN-1001');
    const steps: string[] = [];
    const result = await runPledge({ idevidDir, registrarUrl: d.url, outDir, onStep: (s) => steps.push(s) });
    assert.deepEqual(steps, ['voucher-request', 'voucher', 'voucher-status', 'enroll', 'enroll-status']);
    assert.equal(result.serialNumber, 'SN-1001');
    const endpoint = 'urn:dev:ops:Acme-Thermo_5-SN-1001';
    assert.equal(result.endpoint, endpoint);
    assert.equal(Buffer.compare(Buffer.from(result.domainCa.der), Buffer.from(d.ca.certificate.der)), 0, 'the voucher pins the domain CA');

    // The real peer: the LDevID chains to the domain CA, for client authentication.
    const files = result.files!;
    // domain-ca.pem is what the pledge pinned from the voucher, not a file the test supplied.
    const verify = await run('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', files.domainCa, files.ldevid], outDir);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /: OK/);
    // The voucher: CMS signed by the MASA, checked by openssl against the factory's masa-ca.pem.
    const cms = await run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', files.voucher, '-CAfile', w.t.factory.files.masaCa, '-purpose', 'any'], outDir);
    assert.equal(cms.status, 0, cms.stderr);
    const voucher = JSON.parse(cms.stdout) as Record<string, Record<string, unknown>>;
    assert.equal(voucher['ietf-voucher:voucher']!['serial-number'], 'SN-1001');
    assert.equal(voucher['ietf-voucher:voucher']!['pinned-domain-cert'], Buffer.from(d.ca.certificate.der).toString('base64'));

    // The key on disk is the certified one, and private.
    const ldevid = parseCertificate(readFileSync(files.ldevid, 'utf8'));
    assert.equal(ldevid.fingerprint256, result.ldevid.certificate.fingerprint256);

    const device = await d.store.devices.get(endpoint);
    assert.ok(device, 'device created');
    assert.equal(device.ownershipState, 'RFPRO');
    assert.equal(device.model, 'Thermo 5');
    assert.equal(device.attributes.serialNumber, 'SN-1001');
    assert.deepEqual((device.attributes.enrollStatus as { status: boolean }).status, true);
    const creds = await d.store.devices.credentials(endpoint);
    assert.equal(creds.length, 1);
    assert.equal(creds[0]!.kind, 'x509');
    assert.equal(creds[0]!.lookup, endpoint);
    assert.equal(Buffer.compare(Buffer.from(creds[0]!.material), Buffer.from(result.ldevid.der)), 0);
    const bs = await d.store.bootstrapConfigs.get(endpoint);
    assert.ok(bs, 'bootstrap config set');
    const server = (bs.config.servers as Array<Record<string, unknown>>)[0]!;
    assert.equal(server.securityMode, 'x509');
    assert.equal(server.clientPublicKey, Buffer.from(result.ldevid.der).toString('hex'));
    assert.equal(server.serverPublicKey, Buffer.from(d.lwm2mServerCert.der).toString('hex'));
    assert.equal(server.clientPrivateKey, undefined, 'the registrar never has the device key');

    // Every step left its record; the chain of records is intact.
    const actions = (await d.store.audit.list({ subject: endpoint })).map((r) => `${r.action}:${r.outcome}`);
    assert.deepEqual(actions, ['registrar.device.create:success', 'registrar.bootstrap-config.set:success', 'ownership.transition:success', 'ownership.transition:success', 'registrar.enroll:success', 'registrar.enroll-status:success']);
    const bySerial = (await d.store.audit.list({ subject: 'SN-1001' })).map((r) => `${r.action}:${r.outcome}`);
    assert.ok(bySerial.includes('registrar.voucher.request:success'), bySerial.join());
    assert.ok(bySerial.includes('registrar.voucher-status:success'), bySerial.join());
    assert.ok(bySerial.includes('est.simpleenroll:success'), bySerial.join());
    const masaLog = (await w.t.store.audit.list({ subject: 'SN-1001', action: 'masa.voucher.issue' })).length;
    assert.equal(masaLog, 1);
    assert.equal((await d.store.audit.verify()).ok, true);
  });
});
