/**
 * The MASA plugin on a real HTTPS listener (loopback), driven by the real curl, its voucher
 * checked by the real openssl: what a third-party registrar would see.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createConstrainedPledgeVoucherRequest, verifyConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import { masaRoutes } from '../../src/onboarding/http/masa-routes.js';
import { createMasa } from '../../src/onboarding/masa.js';
import { httpsMasaClient } from '../../src/onboarding/registrar/masa-client.js';
import { createRegistrarVoucherRequest } from '../../src/onboarding/voucher-requests.js';
import { createRootCa, domainCaPolicy } from '../../src/pki/index.js';
import { requirePeer } from '../helpers/peers.js';
import { createTestDomain, mintTestPledge } from './brski-fixture.js';
import { createTestFactory, opensslSkip, type TestFactory } from './helpers.js';

const curlSkip = requirePeer('curl', ['curl'], 'apt-get install curl');

function curl(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('curl', args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('MASA over HTTPS with curl and openssl', { skip: curlSkip || opensslSkip }, () => {
  let t: TestFactory;
  let app: FastifyInstance;
  let base: string;
  let tlsCa: string;

  before(async () => {
    t = await createTestFactory();
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=MASA TLS CA', validityDays: 60 });
    const server = await domainCaPolicy.issueServerCertificate(ca, { subjectAltNames: { ip: ['127.0.0.1'] }, publicKey: keyObjectSigner(key).publicKey, validityDays: 30 });
    tlsCa = join(t.dir, 'tls-ca.pem');
    writeFileSync(tlsCa, ca.chainPem);
    const masa = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] });
    app = Fastify({ https: { key: key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: server.pem } });
    await app.register(masaRoutes, { masa });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    assert.ok(addr !== null && typeof addr === 'object');
    base = `https://127.0.0.1:${addr.port}`;
  });
  after(async () => {
    await app?.close();
    await t?.close();
  });

  it('curl posts a registrar voucher request; openssl cms -verify accepts the voucher', async () => {
    const acme = await createTestDomain('acme');
    const pledge = await mintTestPledge(t, 'W-1');
    const { der, nonce } = await pledge.request(acme);
    const reqFile = join(t.dir, 'req.der');
    const outFile = join(t.dir, 'voucher.der');
    writeFileSync(reqFile, await acme.registrarRequest(der, { serialNumber: 'W-1', nonce }));
    const r = await curl(['-sS', '--cacert', tlsCa, '-H', 'Content-Type: application/voucher-cms+json', '-H', 'Accept: application/voucher-cms+json', '--data-binary', `@${reqFile}`, '-o', outFile, '-w', '%{http_code} %{content_type}', `${base}/.well-known/brski/requestvoucher`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '200 application/voucher-cms+json');
    const v = spawnSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', outFile, '-CAfile', t.factory.files.masaCa, '-out', join(t.dir, 'voucher.json')], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    const json = JSON.parse(readFileSync(join(t.dir, 'voucher.json'), 'utf8')) as { 'ietf-voucher:voucher': Record<string, string> };
    assert.equal(json['ietf-voucher:voucher']['serial-number'], 'W-1');
    assert.equal(json['ietf-voucher:voucher'].nonce, Buffer.from(nonce).toString('base64'));
    // Replaying the same body is refused with 403 and a typed code.
    const replay = await curl(['-sS', '--cacert', tlsCa, '-H', 'Content-Type: application/voucher-cms+json', '--data-binary', `@${reqFile}`, '-w', ' %{http_code}', `${base}/.well-known/brski/requestvoucher`]);
    assert.match(replay.stdout, /"code":"ERR_ONBOARDING_REPLAY".* 403$/);
  });

  it('a COSE registrar request (cBRSKI §7.1): curl gets application/voucher+cose; httpsMasaClient asks for it and refuses another media type', async () => {
    const acme = await createTestDomain('acme');
    const pledge = await mintTestPledge(t, 'W-2');
    const coseRequest = async (): Promise<{ rvr: Uint8Array; nonce: Uint8Array }> => {
      const pvr = await createConstrainedPledgeVoucherRequest({ signer: pledge.signer, idevid: [pledge.idevidPem], registrarCertificate: acme.registrarCert.der });
      const built = await createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: pvr.bytes, format: 'cose' });
      return { rvr: built.der, nonce: pvr.request.nonce! };
    };
    const first = await coseRequest();
    const reqFile = join(t.dir, 'req.cose');
    const outFile = join(t.dir, 'voucher.cose');
    writeFileSync(reqFile, first.rvr);
    const r = await curl(['-sS', '--cacert', tlsCa, '-H', 'Content-Type: application/voucher+cose', '--data-binary', `@${reqFile}`, '-o', outFile, '-w', '%{http_code} %{content_type}', `${base}/.well-known/brski/requestvoucher`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '200 application/voucher+cose');
    await verifyConstrainedVoucher(new Uint8Array(readFileSync(outFile)), { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'W-2', nonce: first.nonce });

    const client = httpsMasaClient({ trustAnchors: [readFileSync(tlsCa, 'utf8')] });
    const second = await coseRequest();
    const voucher = await client.requestVoucher({ masaUrl: base, request: second.rvr, serialNumber: 'W-2' });
    await verifyConstrainedVoucher(voucher, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'W-2', nonce: second.nonce });

    // A MASA that answers 200 with something other than the voucher format asked for.
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=odd MASA TLS CA', validityDays: 60 });
    const cert = await domainCaPolicy.issueServerCertificate(ca, { subjectAltNames: { ip: ['127.0.0.1'] }, publicKey: keyObjectSigner(key).publicKey, validityDays: 30 });
    const odd = Fastify({ https: { key: key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: cert.pem } });
    let seen: { contentType?: string; accept?: string } = {};
    odd.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    odd.post('/.well-known/brski/requestvoucher', async (req, reply) => {
      seen = { contentType: req.headers['content-type'], accept: req.headers.accept };
      return reply.code(200).type('application/voucher-cms+json').send(Buffer.from([0x30, 0x00]));
    });
    await odd.listen({ host: '127.0.0.1', port: 0 });
    try {
      const addr = odd.server.address();
      assert.ok(addr !== null && typeof addr === 'object');
      const oddClient = httpsMasaClient({ trustAnchors: [ca.chainPem] });
      await assert.rejects(oddClient.requestVoucher({ masaUrl: `https://127.0.0.1:${addr.port}`, request: (await coseRequest()).rvr, serialNumber: 'W-2' }), (err: { code?: string; message?: string }) => err.code === 'ERR_REGISTRAR_MASA_FAILED' && /instead of application\/voucher\+cose/.test(err.message ?? ''));
      assert.deepEqual(seen, { contentType: 'application/voucher+cose', accept: 'application/voucher+cose' });
    } finally {
      await odd.close();
    }
  });
});
