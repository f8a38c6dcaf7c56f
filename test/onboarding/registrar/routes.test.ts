/**
 * The registrar's HTTP face with curl as the client (a real peer), and the README as the
 * contract: every code the room uses is documented, each HTTP status as the table says.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import * as registrarRoom from '../../../src/onboarding/registrar/index.js';
import * as pledgeRoom from '../../../src/onboarding/pledge/index.js';
import { createPledgeVoucherRequest } from '../../../src/onboarding/voucher-requests.js';
import { parseCertificate } from '../../../src/pki/index.js';
import { curlSkip, opensslSkip, run } from '../est/helpers.js';
import { createWorld, startDomain, type Domain, type World } from './fixture.js';

const src = new URL('../../../src/onboarding/', import.meta.url);

describe('registrar public surface', () => {
  it('documents every ERR_REGISTRAR_* / ERR_PLEDGE_* code and each status in the table', () => {
    const readme = readFileSync(new URL('registrar/README.md', src), 'utf8');
    const sources = ['registrar/errors.ts', 'registrar/routes.ts', 'registrar/registrar.ts', 'pledge/pledge.ts'].map((f) => readFileSync(new URL(f, src), 'utf8')).join('\n');
    const codes = new Set(sources.match(/ERR_(?:REGISTRAR|PLEDGE)_[A-Z_]+/g));
    assert.ok(codes.size >= 14, `found ${codes.size}`);
    for (const c of codes) assert.ok(readme.includes(`\`${c}\``), `${c} missing from README`);
    for (const [c, status] of Object.entries(registrarRoom.REGISTRAR_HTTP_STATUS)) {
      assert.match(readme, new RegExp(`\\| \`${c}\` \\| ${status} \\|`), `${c} → ${status} not in the README table`);
    }
  });

  it('exports the operations by name', () => {
    for (const name of ['createRegistrar', 'registrarRoutes', 'httpsMasaClient', 'inProcessMasaClient', 'approvalBook', 'createProvisioner', 'x509BootstrapConfig', 'parseStatusTelemetry', 'encodeStatusTelemetry']) {
      assert.equal(typeof (registrarRoom as Record<string, unknown>)[name], 'function', name);
    }
    for (const name of ['runPledge', 'pledgeResultJson']) assert.equal(typeof (pledgeRoom as Record<string, unknown>)[name], 'function', name);
  });
});

describe('registrar over HTTPS with curl', { skip: curlSkip || opensslSkip }, () => {
  let w: World;
  let d: Domain;
  let dir: string;
  let files: { ca: string; cert: string; key: string; request: string };

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Curl', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
    dir = await w.mint('CURL-1');
    const idevid = parseCertificate(readFileSync(join(dir, 'idevid.pem'), 'utf8'));
    const { der } = await createPledgeVoucherRequest({ signer: keyObjectSigner(createPrivateKey(readFileSync(join(dir, 'idevid.key'), 'utf8'))), idevid: [idevid], registrarCertificate: d.registrarCert.der });
    files = { ca: join(dir, 'domain-ca.pem'), cert: join(dir, 'idevid-chain.pem'), key: join(dir, 'idevid.key'), request: join(dir, 'request.cms') };
    writeFileSync(files.ca, d.ca.chainPem);
    writeFileSync(files.request, der);
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  const curl = (path: string, args: string[], withCert = true) =>
    run('curl', ['-sS', '--cacert', files.ca, ...(withCert ? ['--cert', files.cert, '--key', files.key] : []), '-w', '\n%{http_code}', ...args, `${d.url}${path}`], dir);
  const statusOf = (out: string) => Number(out.trim().split('\n').at(-1));

  it('answers the voucher request curl posts, and the voucher verifies with openssl cms', async () => {
    const noCert = await curl('/.well-known/brski/requestvoucher', ['-H', 'content-type: application/voucher-cms+json', '--data-binary', `@${files.request}`], false);
    assert.equal(statusOf(noCert.stdout), 403, noCert.stderr);
    assert.match(noCert.stdout, /ERR_REGISTRAR_UNAUTHENTICATED/);
    const wrongType = await curl('/.well-known/brski/requestvoucher', ['-H', 'content-type: application/json', '--data-binary', `@${files.request}`]);
    assert.equal(statusOf(wrongType.stdout), 415);
    const notAcceptable = await curl('/.well-known/brski/requestvoucher', ['-H', 'content-type: application/voucher-cms+json', '-H', 'accept: text/html', '--data-binary', `@${files.request}`]);
    assert.equal(statusOf(notAcceptable.stdout), 406);

    const voucherFile = join(dir, 'voucher.cms');
    const ok = await run('curl', ['-sS', '--cacert', files.ca, '--cert', files.cert, '--key', files.key, '-o', voucherFile, '-w', '%{http_code} %{content_type}', '-H', 'content-type: application/voucher-cms+json', '-H', 'accept: application/voucher-cms+json', '--data-binary', `@${files.request}`, `${d.url}/.well-known/brski/requestvoucher`], dir);
    assert.equal(ok.stdout, '200 application/voucher-cms+json', ok.stderr);
    const cms = await run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', voucherFile, '-CAfile', w.t.factory.files.masaCa, '-purpose', 'any'], dir);
    assert.equal(cms.status, 0, cms.stderr);
    assert.match(cms.stdout, /"serial-number":"CURL-1"/);

    const replay = await curl('/.well-known/brski/requestvoucher', ['-H', 'content-type: application/voucher-cms+json', '--data-binary', `@${files.request}`]);
    assert.equal(statusOf(replay.stdout), 403);
    assert.match(replay.stdout, /ERR_REGISTRAR_REPLAY/);

    const bad = await curl('/.well-known/brski/voucher_status', ['-H', 'content-type: application/json', '--data-binary', '{"version":1,"status":"yes"}']);
    assert.equal(statusOf(bad.stdout), 400);
    assert.match(bad.stdout, /ERR_REGISTRAR_BAD_STATUS/);
    const good = await curl('/.well-known/brski/voucher_status', ['-H', 'content-type: application/json', '--data-binary', '{"version":1,"status":true}']);
    assert.equal(statusOf(good.stdout), 200);
    const recorded = await d.store.audit.list({ subject: 'CURL-1', action: 'registrar.voucher-status' });
    assert.deepEqual(recorded.map((r) => r.outcome), ['deny', 'success']);
  });
});
