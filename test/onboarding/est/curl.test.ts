/**
 * Interop with real peers only: curl talks to our EST routes over HTTPS with a client
 * certificate, openssl makes the CSRs (`req -new`), decodes the bodies (`base64 -d`, `pkcs7
 * -print_certs`, `asn1parse`) and checks what we issue (`verify`). Nothing of ours runs on the
 * client side here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorizeByManufacturer } from '../../../src/onboarding/est/authorize-manufacturer.js';
import { createPki, curlSkip, MemoryAudit, mintDevice, opensslSkip, p256, run, startEstServer, tempDir, type EstServer, type Pki, type RunResult, type TempDir } from './helpers.js';

describe('EST with curl and openssl as the client', { skip: opensslSkip || curlSkip }, () => {
  let pki: Pki;
  let server: EstServer;
  let audit: MemoryAudit;
  let dir: TempDir;
  before(async () => {
    pki = await createPki();
    audit = new MemoryAudit();
    dir = tempDir();
    server = await startEstServer(pki, { audit, authorize: authorizeByManufacturer({ manufacturerCas: [pki.manufacturer.state.certificate] }) });
    const device = await mintDevice(pki.manufacturer, 'SN-CURL-1');
    const rogue = await mintDevice(pki.rogue, 'SN-CURL-ROGUE');
    dir.write('domain-ca.pem', pki.domain.state.certificate);
    dir.write('idevid.pem', device.cert.pem);
    dir.write('idevid-key.pem', device.key.keyPem);
    dir.write('rogue.pem', rogue.cert.pem);
    dir.write('rogue-key.pem', rogue.key.keyPem);
    dir.write('new-key.pem', p256().keyPem);
  });
  after(async () => {
    await server.close();
    dir.cleanup();
  });

  const ok = (r: RunResult) => assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
  const openssl = (...args: string[]) => run('openssl', args, dir.path);
  /** curl against the EST path `op`; prints "<status> <content-type>" and writes the body to `out`. */
  const curl = (op: string, out: string, ...args: string[]) =>
    run('curl', ['-sS', '--cacert', 'domain-ca.pem', '-o', out, '-w', '%{http_code} %{content_type}', ...args, `${server.url}/.well-known/est/${op}`], dir.path);
  const body = (name: string) => readFileSync(join(dir.path, name), 'utf8');

  /** A CSR from `openssl req -new`, as base64 DER in 64-character lines (openssl base64). */
  async function opensslCsr(key: string, subj: string, out: string): Promise<void> {
    ok(await openssl('req', '-new', '-key', key, '-subj', subj, '-outform', 'DER', '-out', `${out}.der`));
    ok(await openssl('base64', '-in', `${out}.der`, '-out', out));
  }

  /** Decodes a certs-only body with openssl and writes the certificates as PEM to `pem`. */
  async function printCerts(b64: string, pem: string): Promise<void> {
    ok(await openssl('base64', '-d', '-in', b64, '-out', `${b64}.der`));
    ok(await openssl('pkcs7', '-inform', 'DER', '-in', `${b64}.der`, '-print_certs', '-out', pem));
  }

  it('GET /cacerts: a certs-only body that openssl pkcs7 reads', async () => {
    const r = await curl('cacerts', 'cacerts.b64');
    ok(r);
    assert.equal(r.stdout, '200 application/pkcs7-mime; smime-type=certs-only');
    await printCerts('cacerts.b64', 'cacerts.pem');
    assert.match(body('cacerts.pem'), /subject=CN ?= ?Example Domain CA/);
  });

  it('GET /csrattrs: DER that openssl asn1parse reads', async () => {
    const r = await curl('csrattrs', 'attrs.b64');
    assert.equal(r.stdout, '200 application/csrattrs');
    ok(await openssl('base64', '-d', '-in', 'attrs.b64', '-out', 'attrs.der'));
    const p = await openssl('asn1parse', '-inform', 'DER', '-in', 'attrs.der');
    ok(p);
    assert.match(p.stdout, /OBJECT\s+:id-ecPublicKey/);
    assert.match(p.stdout, /OBJECT\s+:prime256v1/);
    assert.match(p.stdout, /OBJECT\s+:ecdsa-with-SHA256/);
  });

  it('POST /simpleenroll with the IDevID: an LDevID openssl verify accepts; then /simplereenroll with it', async () => {
    await opensslCsr('new-key.pem', '/CN=chosen-by-device', 'req.b64');
    const r = await curl('simpleenroll', 'issued.b64', '--cert', 'idevid.pem', '--key', 'idevid-key.pem', '-H', 'Content-Type: application/pkcs10', '--data-binary', '@req.b64');
    ok(r);
    assert.equal(r.stdout, '200 application/pkcs7-mime; smime-type=certs-only', body('issued.b64'));
    await printCerts('issued.b64', 'ldevid.pem');
    const v = await openssl('verify', '-CAfile', 'domain-ca.pem', 'ldevid.pem');
    ok(v);
    assert.match(v.stdout, /ldevid\.pem: OK/);
    const s = await openssl('x509', '-in', 'ldevid.pem', '-noout', '-subject', '-nameopt', 'RFC2253,-dn_rev');
    assert.equal(s.stdout.trim(), 'subject=CN=SN-CURL-1,serialNumber=SN-CURL-1');
    assert.equal(audit.last().outcome, 'success');

    // RFC 7030 §4.2.2 with an openssl-made CSR: the subject openssl encodes must be identical.
    await opensslCsr('new-key.pem', '/CN=SN-CURL-1/serialNumber=SN-CURL-1', 'renew.b64');
    const renew = await curl('simplereenroll', 'renewed.b64', '--cert', 'ldevid.pem', '--key', 'new-key.pem', '-H', 'Content-Type: application/pkcs10', '--data-binary', '@renew.b64');
    assert.equal(renew.stdout, '200 application/pkcs7-mime; smime-type=certs-only', body('renewed.b64'));
    await printCerts('renewed.b64', 'renewed.pem');
    ok(await openssl('verify', '-CAfile', 'domain-ca.pem', 'renewed.pem'));

    await opensslCsr('new-key.pem', '/CN=SN-CURL-2/serialNumber=SN-CURL-2', 'other.b64');
    const mismatch = await curl('simplereenroll', 'mismatch.txt', '--cert', 'ldevid.pem', '--key', 'new-key.pem', '-H', 'Content-Type: application/pkcs10', '--data-binary', '@other.b64');
    assert.equal(mismatch.stdout, '400 text/plain; charset=utf-8');
    assert.match(body('mismatch.txt'), /^ERR_EST_REENROLL_MISMATCH: /);
  });

  it('refuses an unknown manufacturer (403), no certificate (403), a PEM body (400), a wrong media type (415) and a huge body (413)', async () => {
    await opensslCsr('new-key.pem', '/CN=x', 'req2.b64');
    const post = (out: string, ...args: string[]) => curl('simpleenroll', out, ...args, '--data-binary', '@req2.b64');
    const rogue = await post('rogue.txt', '--cert', 'rogue.pem', '--key', 'rogue-key.pem', '-H', 'Content-Type: application/pkcs10');
    assert.equal(rogue.stdout, '403 text/plain; charset=utf-8');
    assert.match(body('rogue.txt'), /^ERR_EST_FORBIDDEN: .*trusted manufacturer/);
    assert.equal(audit.last().subject, 'SN-CURL-ROGUE');
    assert.equal(audit.last().outcome, 'deny');

    const anonymous = await post('anon.txt', '-H', 'Content-Type: application/pkcs10');
    assert.equal(anonymous.stdout, '403 text/plain; charset=utf-8');
    assert.match(body('anon.txt'), /^ERR_EST_UNAUTHENTICATED: /);

    const wrongType = await post('type.txt', '--cert', 'idevid.pem', '--key', 'idevid-key.pem', '-H', 'Content-Type: application/json');
    assert.equal(wrongType.stdout, '415 text/plain; charset=utf-8');
    assert.match(body('type.txt'), /^ERR_EST_UNSUPPORTED_MEDIA_TYPE: /);

    dir.write('huge.b64', 'QUFB\n'.repeat(40_000));
    const huge = await curl('simpleenroll', 'huge.txt', '--cert', 'idevid.pem', '--key', 'idevid-key.pem', '-H', 'Content-Type: application/pkcs10', '--data-binary', '@huge.b64');
    assert.equal(huge.stdout, '413 text/plain; charset=utf-8');
    assert.match(body('huge.txt'), /^ERR_EST_BODY_TOO_LARGE: /);

    ok(await openssl('req', '-new', '-key', 'new-key.pem', '-subj', '/CN=x', '-out', 'req.pem'));
    const pem = await curl('simpleenroll', 'pem.txt', '--cert', 'idevid.pem', '--key', 'idevid-key.pem', '-H', 'Content-Type: application/pkcs10', '--data-binary', '@req.pem');
    assert.equal(pem.stdout, '400 text/plain; charset=utf-8');
    assert.match(body('pem.txt'), /^ERR_EST_MALFORMED_BODY: .*PEM/);
  });
});
