/**
 * Zero-touch onboarding over CoAPs through `rootline serve` (RFC 9148 EST-coaps + constrained
 * BRSKI): `rootline factory init|mint` makes a manufacturer and devices, serve runs the registrar
 * and the MASA with `onboarding.coapsPort: 0` (its 'brski-coaps' listener), and
 *   - `rootline pledge --registrar coaps://…` takes a device to an LDevID that `openssl verify`
 *     accepts under the domain CA, the device RFPRO with its x509 credential;
 *   - libcoap's coap-client (GnuTLS and OpenSSL builds), with a minted IDevID as DTLS client
 *     certificate and the domain CA to check the registrar (-c/-j/-C), discovers the resources,
 *     fetches /est/crts (281 and 287, read back by openssl), POSTs a COSE voucher request to
 *     /.well-known/brski/rv, then an openssl-made DER CSR (286) to /est/sen, and the issued
 *     certificate verifies with `openssl verify` against the domain CA;
 *   - coap-client without a certificate gets 4.01 on /est/crts (RFC 9148 §4: every function needs
 *     an authenticated client) and on /est/sen, both audited.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createConstrainedPledgeVoucherRequest, verifyConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import { parseCertificate, parsePem } from '../../src/pki/index.js';
import { fetchCoapsBootstrapServer } from '../../src/onboarding/pledge/coaps-transport.js';
import { runCli } from '../cli/io.js';
import { run } from '../coap/helpers/libcoap.js';
import { auditRecords, OnboardingWorld, type AuditView, type Factory, type InProcessServe } from '../helpers/onboarding-world.js';
import { findExecutable, requirePeer } from '../helpers/peers.js';
import { request } from '../server/harness.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');
const CLIENTS = ['coap-client-gnutls', 'coap-client-openssl'];
const libcoapSkip = skip !== false ? skip : requirePeer('libcoap', CLIENTS, 'apt-get install libcoap3-bin');

let world: OnboardingWorld | undefined;
let factory: Factory;
let serve: InProcessServe;
let dir: string;
let data: string;
const env = {};
let api: string;
let coaps: string;

function mint(serial: string): Promise<string> {
  return factory.mint(serial, 'Valve');
}

function openssl(args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function audit(action: string): Promise<AuditView[]> {
  return auditRecords(api, action);
}

before(async () => {
  if (skip !== false) return;
  world = OnboardingWorld.create('serve-onboarding-coaps');
  dir = world.dir;
  factory = await world.initFactory({ data: 'data', masaUrl: 'https://127.0.0.1/masa', manufacturer: 'Acme' });
  data = factory.data;
  serve = world.serveInProcess({ factory, coaps: true });
  api = await serve.listenerUrl('http');
  coaps = await serve.listenerUrl('brski-coaps');
});

after(async () => {
  await world?.close();
});

test('serve prints the brski-coaps listener and health reports it up', { skip }, async () => {
  assert.match(coaps, /^coaps:\/\/127\.0\.0\.1:[0-9]+$/);
  const health = await request(`${api}/api/v1/health`);
  assert.equal(health.status, 200, health.text);
  const listeners = (health.body as { listeners: Record<string, { state: string; url?: string }> }).listeners;
  assert.equal(listeners['brski-coaps']?.state, 'up');
  assert.equal(listeners['brski-coaps']?.url, coaps);
});

test('rootline pledge --registrar coaps://: LDevID verifies under the domain CA, device RFPRO with its x509 credential', { skip }, async () => {
  const device = await mint('COAP-E2E-1');
  const out = join(dir, 'enrolled');
  const r = await runCli(['pledge', '--idevid', device, '--registrar', coaps, '--out', out, '--enroll-only', '--json'], { env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
  const result = JSON.parse(r.stdout) as { serialNumber: string; endpoint: string; voucher: { assertion: string } };
  assert.equal(result.serialNumber, 'COAP-E2E-1');
  assert.equal(result.endpoint, 'urn:dev:ops:Acme-Valve-COAP-E2E-1');
  assert.equal(result.voucher.assertion, 'logged');
  assert.equal(statSync(join(out, 'ldevid.key')).mode & 0o777, 0o600);
  const domainCa = join(data, 'onboarding', 'domain-ca.pem');
  const verify = openssl(['verify', '-CAfile', domainCa, join(out, 'ldevid.pem')]);
  assert.equal(verify.status, 0, verify.stderr);
  assert.match(verify.stdout, /ldevid\.pem: OK/);
  assert.equal(readFileSync(join(out, 'domain-ca.pem'), 'utf8').trim(), readFileSync(domainCa, 'utf8').trim());
  // The voucher on disk is the MASA's COSE_Sign1, for this serial, pinning serve's domain CA.
  const voucher = await verifyConstrainedVoucher(new Uint8Array(readFileSync(join(out, 'voucher.cose'))), { masaTrustAnchors: [readFileSync(join(device, 'masa-ca.pem'), 'utf8')], serialNumber: 'COAP-E2E-1' });
  assert.equal(parseCertificate(voucher.pinnedDomainCertificate).subject, parseCertificate(readFileSync(domainCa, 'utf8')).subject);

  const view = await request(`${api}/api/v1/devices/${encodeURIComponent(result.endpoint)}`);
  assert.equal(view.status, 200, view.text);
  const body = view.body as { ownershipState: string; credentials: { kind: string; lookup: string }[] };
  assert.equal(body.ownershipState, 'RFPRO');
  assert.deepEqual(body.credentials.map((c) => [c.kind, c.lookup]), [['x509', result.endpoint]]);
  const records = await audit('registrar.voucher.request');
  const ok = records.find((a) => a.subject === 'COAP-E2E-1' && a.outcome === 'success');
  assert.equal(ok?.details.format, 'cose');
  // The provisional DTLS handshakes were audited under the registrar's own action.
  assert.ok((await audit('registrar.dtls.handshake')).some((a) => a.outcome === 'allow'));
  // The next step for the device: where to bootstrap, asked over DTLS with the new LDevID.
  const named = await fetchCoapsBootstrapServer({
    registrarUrl: coaps,
    ldevidChain: parsePem(readFileSync(join(out, 'ldevid-chain.pem'), 'utf8'), {}).map((b) => b.der),
    key: createPrivateKey(readFileSync(join(out, 'ldevid.key'), 'utf8')),
    domainCa: parsePem(readFileSync(domainCa, 'utf8'), {})[0]!.der,
  });
  assert.equal(named.endpoint, result.endpoint);
  assert.match(named.uri, /^coaps:\/\/127\.0\.0\.1:[0-9]+$/);
  assert.equal(named.uri, await serve.listenerUrl('coaps'));
});

for (const client of CLIENTS) {
  test(`${client} with an IDevID (-c/-j/-C): discovery, /est/crts, /brski/rv, /est/sen → an LDevID openssl verifies`, { skip: libcoapSkip !== false ? libcoapSkip : findExecutable(client) === undefined ? `SKIPPED: ${client} not installed` : false }, async () => {
    const serial = `LIBCOAP-${client.endsWith('gnutls') ? 'G' : 'O'}`;
    const device = await mint(serial);
    const domainCa = join(data, 'onboarding', 'domain-ca.pem');
    const tls = ['-c', join(device, 'idevid.pem'), '-j', join(device, 'idevid.key'), '-C', domainCa];
    const base = coaps;

    // Discovery (RFC 9148 §4.1, filtered as in its example).
    const disco = await run(client, ['-v', '6', ...tls, `${base}/.well-known/core?rt=ace.est*`]);
    const text = disco.stdout.toString();
    assert.match(text, /c:2\.05/, text + disco.stderr);
    for (const rt of ['ace.est.crts', 'ace.est.sen', 'ace.est.sren', 'ace.est.att']) assert.ok(text.includes(`rt="${rt}"`) || text.includes(`rt=${rt}`), `${rt} in ${text}`);
    assert.ok(!text.includes('brski.rv'), 'the rt filter leaves BRSKI out');

    // /est/crts as certs-only (281) and as one certificate (287), read back by openssl.
    const p7 = join(dir, `${serial}-crts.p7`);
    const crts = await run(client, [...tls, '-A', '281', '-o', p7, `${base}/est/crts`]);
    assert.equal(crts.code, 0, crts.stderr);
    const printed = openssl(['pkcs7', '-inform', 'DER', '-in', p7, '-print_certs']);
    assert.equal(printed.status, 0, printed.stderr);
    assert.match(printed.stdout, /subject=CN ?= ?rootline domain CA/);
    const der = join(dir, `${serial}-ca.der`);
    assert.equal((await run(client, [...tls, '-A', '287', '-o', der, `${base}/est/crts`])).code, 0);
    assert.match(openssl(['x509', '-inform', 'DER', '-in', der, '-noout', '-subject']).stdout, /rootline domain CA/);

    // The voucher request: COSE-signed with the IDevID, naming the registrar certificate that
    // serve wrote (the one presented in the handshake); libcoap carries it (Content-Format 836).
    const registrarPem = readFileSync(join(data, 'onboarding', 'registrar.pem'), 'utf8');
    const registrarDer = parsePem(registrarPem, {})[0]!.der;
    const signer = keyObjectSigner(createPrivateKey(readFileSync(join(device, 'idevid.key'), 'utf8')));
    const pvr = await createConstrainedPledgeVoucherRequest({ signer, idevid: [readFileSync(join(device, 'idevid.pem'), 'utf8')], registrarCertificate: registrarDer });
    const pvrFile = join(dir, `${serial}.pvr`);
    writeFileSync(pvrFile, pvr.bytes);
    const voucherFile = join(dir, `${serial}.voucher`);
    // -b 64: the request goes in 64-byte Block1 blocks and the voucher comes back in Block2 ones
    // (RFC 9148 §4.6: EST-coaps servers MUST implement both for payloads beyond one datagram).
    const rv = await run(client, ['-v', '6', ...tls, '-b', '64', '-m', 'post', '-t', '836', '-A', '836', '-f', pvrFile, '-o', voucherFile, `${base}/.well-known/brski/rv`]);
    assert.match(rv.stdout.toString(), /Block1:[0-9]+\/_\/64/, 'the voucher request went block-wise');
    assert.match(rv.stdout.toString(), /c:2\.04/, rv.stdout.toString() + rv.stderr);
    // The SID-keyed voucher (MASA certificate and pinned CA inside) is about 1 KiB: it comes back
    // in Block2 blocks only beyond the endpoint's 1024-byte payload.
    if (readFileSync(voucherFile).length > 1024) assert.match(rv.stdout.toString(), /Block2:1\//, 'the voucher came back block-wise');
    const voucher = await verifyConstrainedVoucher(new Uint8Array(readFileSync(voucherFile)), { masaTrustAnchors: [readFileSync(join(device, 'masa-ca.pem'), 'utf8')], serialNumber: serial, nonce: pvr.request.nonce! });
    assert.equal(voucher.voucher.serialNumber, serial);

    // An openssl-made key and DER CSR (286) to /est/sen; the answer (281) is a certs-only CMS.
    const key = join(dir, `${serial}-ldevid.key`);
    const csr = join(dir, `${serial}.csr`);
    assert.equal(openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]).status, 0);
    const req = openssl(['req', '-new', '-key', key, '-subj', `/serialNumber=${serial}`, '-outform', 'DER', '-out', csr]);
    assert.equal(req.status, 0, req.stderr);
    const issuedFile = join(dir, `${serial}-issued.p7`);
    const sen = await run(client, ['-v', '6', ...tls, '-b', '64', '-m', 'post', '-t', '286', '-A', '281', '-f', csr, '-o', issuedFile, `${base}/est/sen`]);
    assert.match(sen.stdout.toString(), /Block1/, 'the CSR went block-wise');
    assert.match(sen.stdout.toString(), /c:2\.04/, sen.stdout.toString() + sen.stderr);
    const ldevidPem = join(dir, `${serial}-ldevid.pem`);
    const certs = openssl(['pkcs7', '-inform', 'DER', '-in', issuedFile, '-print_certs', '-out', ldevidPem]);
    assert.equal(certs.status, 0, certs.stderr);
    const verify = openssl(['verify', '-CAfile', domainCa, ldevidPem]);
    assert.equal(verify.status, 0, verify.stderr + verify.stdout);
    assert.match(verify.stdout, /: OK/);
    // The certificate is for the openssl key and names the device's endpoint.
    const issued = parseCertificate(readFileSync(ldevidPem, 'utf8'));
    const keyPub = openssl(['ec', '-in', key, '-pubout', '-outform', 'DER']);
    assert.equal(keyPub.status, 0);
    assert.match(issued.subject, new RegExp(`CN=urn:dev:ops:Acme-Valve-${serial}`));
    const view = await request(`${api}/api/v1/devices/${encodeURIComponent(`urn:dev:ops:Acme-Valve-${serial}`)}`);
    assert.equal((view.body as { ownershipState: string }).ownershipState, 'RFPRO');
  });
}

test('coap-client without a client certificate: 4.01 on /est/crts and /est/sen, audited', { skip: libcoapSkip }, async () => {
  const domainCa = join(data, 'onboarding', 'domain-ca.pem');
  const crts = await run('coap-client-gnutls', ['-v', '6', '-C', domainCa, `${coaps}/est/crts`]);
  assert.match(crts.stdout.toString(), /c:4\.01/, crts.stdout.toString() + crts.stderr);
  const cacerts = await audit('est.cacerts');
  assert.equal(cacerts.at(-1)?.outcome, 'deny');
  assert.equal(cacerts.at(-1)?.details.code, 'ERR_EST_UNAUTHENTICATED');
  const key = join(dir, 'anon.key');
  const csr = join(dir, 'anon.csr');
  assert.equal(openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]).status, 0);
  assert.equal(openssl(['req', '-new', '-key', key, '-subj', '/CN=anonymous', '-outform', 'DER', '-out', csr]).status, 0);
  const before = (await audit('est.simpleenroll')).length;
  const sen = await run('coap-client-gnutls', ['-v', '6', '-C', domainCa, '-m', 'post', '-t', '286', '-f', csr, `${coaps}/est/sen`]);
  assert.match(sen.stdout.toString(), /c:4\.01/, sen.stdout.toString() + sen.stderr);
  const records = await audit('est.simpleenroll');
  assert.equal(records.length, before + 1);
  assert.equal(records.at(-1)?.outcome, 'deny');
  assert.equal(records.at(-1)?.details.code, 'ERR_EST_UNAUTHENTICATED');
});

test('a raw public key (coap-client-gnutls -M) gets no session on the registrar listener; the refusal is audited', { skip: libcoapSkip }, async () => {
  const key = join(dir, 'rpk.key');
  assert.equal(openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]).status, 0);
  const denied = async () => (await audit('registrar.dtls.handshake')).filter((a) => a.outcome === 'deny');
  const before = (await denied()).length;
  const r = await run('coap-client-gnutls', ['-v', '6', '-B', '3', '-M', key, `${coaps}/.well-known/core`]);
  assert.doesNotMatch(r.stdout.toString(), /c:2\.05/, r.stdout.toString());
  // The auditor writes the refusal as it happens; polled (the test's own timeout bounds the wait).
  for (;;) {
    const now = await denied();
    if (now.length > before) {
      assert.equal(typeof now.at(-1)!.details.reason, 'string');
      break;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
});
