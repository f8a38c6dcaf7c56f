/**
 * The MASA as its own service, end to end with real processes: `rootline masa serve` (the
 * manufacturer, its own data directory and store) and two `rootline serve` domains whose
 * registrars reach it over HTTPS at the MASA URL the IDevID carries.
 *
 *   1. a pledge onboards to domain A (voucher from the remote MASA, claim recorded there);
 *   2. domain B is refused while A owns the device — audited at B's registrar and at the MASA;
 *   3. the request audit log is served to the owner (A) only;
 *   4. A decommissions the device: the claim is released at the remote MASA by A's signed
 *      release request (audited on both sides);
 *   5. B onboards the device; the log now belongs to B, and A may no longer read it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadMasterKey, openSoftwareKeyStore } from '../../src/crypto/keystore/index.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { ownerKeyOf } from '../../src/onboarding/masa.js';
import { signVoucherRequest } from '../../src/onboarding/signed-voucher.js';
import { decodePem, parseCertificate } from '../../src/pki/index.js';
import type { Store } from '../../src/store/types.js';
import { runCli } from '../cli/io.js';
import { OnboardingWorld, postToMasa, type MasaProcess, type RootlineProcess } from '../helpers/onboarding-world.js';
import { requirePeer } from '../helpers/peers.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');
const SERIAL = 'RM-1';
const CMS = 'application/voucher-cms+json';

/**
 * Signs a voucher-request-format owner request with a domain's registrar key, as its registrar
 * would: the key is sealed in the data directory under the domain's KeyStore (the test holds the
 * master key, as the operator does).
 */
async function ownerRequest(domainDir: string, serialNumber: string): Promise<Uint8Array> {
  const keyStore = await openSoftwareKeyStore({ directory: domainDir, masterKey: loadMasterKey({ file: join(domainDir, 'master.key') }) });
  try {
    const sealed = new Uint8Array(readFileSync(join(domainDir, 'onboarding', 'registrar-key.sealed')));
    const pkcs8 = await keyStore.open('onboarding-seal', 'AES-256-GCM', sealed.subarray(0, 12), sealed.subarray(12), new TextEncoder().encode('rootline onboarding registrar TLS key v1'));
    const signer = keyObjectSigner(createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }));
    const registrar = decodePem(readFileSync(join(domainDir, 'onboarding', 'registrar.pem'), 'utf8'), 'CERTIFICATE');
    const domainCa = decodePem(readFileSync(join(domainDir, 'onboarding', 'domain-ca.pem'), 'utf8'), 'CERTIFICATE');
    return await signVoucherRequest({ serialNumber, createdOn: new Date() }, { signer, certificates: [registrar, domainCa] });
  } finally {
    await keyStore.close();
  }
}

async function api(base: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.json() };
}

describe('remote MASA: rootline masa serve + two rootline serve domains', { skip }, () => {
  let world: OnboardingWorld | undefined;
  let dir: string;
  let masaTlsCa: string;
  let masa: MasaProcess | undefined;
  let domainA: RootlineProcess | undefined;
  let domainB: RootlineProcess | undefined;
  let masaStore: Store | undefined;

  before(async () => {
    world = OnboardingWorld.create('masa-remote');
    dir = world.dir;
    const remote = await world.startRemoteMasa({ devices: [{ serial: SERIAL, model: 'Meter', out: 'device' }], domains: ['a', 'b'] });
    ({ masa, masaStore } = remote);
    [domainA, domainB] = remote.domains;
    masaTlsCa = remote.tls.caFile;
  });

  after(async () => {
    // Graceful shutdown: every process drains and exits 0 on SIGTERM.
    await world?.close();
  });

  it('onboards at A, refuses B until A decommissions, then onboards at B; the log is the owner’s only', async () => {
    const masaUrl = masa!.urls.masa!;
    const caPem = readFileSync(masaTlsCa, 'utf8');
    const health = await new Promise<number>((done, fail) => httpsRequest(`${masaUrl}/health`, { ca: caPem }, (res) => done(res.resume().statusCode ?? 0)).on('error', fail).end());
    assert.equal(health, 200);
    const domainACa = parseCertificate(decodePem(readFileSync(join(dir, 'domain-a', 'onboarding', 'domain-ca.pem'), 'utf8'), 'CERTIFICATE'));
    const domainBCa = parseCertificate(decodePem(readFileSync(join(dir, 'domain-b', 'onboarding', 'domain-ca.pem'), 'utf8'), 'CERTIFICATE'));

    // 1. Onboard to A.
    const first = await runCli(['pledge', '--idevid', join(dir, 'device'), '--registrar', domainA!.urls.est!, '--out', join(dir, 'enrolled-a'), '--enroll-only', '--json'], { cwd: dir });
    assert.equal(first.code, 0, `${first.stderr}\n${domainA!.stderr()}\n${masa!.stderr()}`);
    const endpoint = (JSON.parse(first.stdout) as { endpoint: string }).endpoint;
    const claim = await masaStore!.masa.getClaim(SERIAL);
    assert.equal(claim?.owner, ownerKeyOf(domainACa), 'the remote MASA recorded A as the owner');
    assert.equal(claim?.releasedAt, null);
    const verifyA = spawnSync('openssl', ['verify', '-CAfile', join(dir, 'domain-a', 'onboarding', 'domain-ca.pem'), join(dir, 'enrolled-a', 'ldevid.pem')], { encoding: 'utf8' });
    assert.equal(verifyA.status, 0, verifyA.stderr);

    // 2. B is refused while A owns it: audited at B's registrar and at the MASA.
    const refused = await runCli(['pledge', '--idevid', join(dir, 'device'), '--registrar', domainB!.urls.est!, '--out', join(dir, 'refused-b'), '--enroll-only'], { cwd: dir });
    assert.equal(refused.code, 1, refused.stdout);
    const bAudit = await api(domainB!.urls.http!, '/api/v1/audit?action=registrar.voucher.request&limit=1000');
    const bDeny = (bAudit.body as { records: Array<{ subject: string; outcome: string; details: Record<string, unknown> }> }).records.find((r) => r.outcome === 'deny' && r.subject === SERIAL);
    assert.equal(bDeny?.details.masaCode, 'ERR_ONBOARDING_ALREADY_OWNED', JSON.stringify(bAudit.body));
    const masaDeny = (await masaStore!.audit.list({ subject: SERIAL, action: 'masa.voucher.request' })).filter((r) => r.outcome === 'deny');
    assert.deepEqual(masaDeny.map((r) => r.details.code), ['ERR_ONBOARDING_ALREADY_OWNED']);
    assert.equal((await masaStore!.masa.getClaim(SERIAL))?.owner, ownerKeyOf(domainACa), 'still A');

    // 3. The request audit log: A (the owner) may fetch it, B may not.
    const logA = await postToMasa(`${masaUrl}/.well-known/brski/requestauditlog`, caPem, await ownerRequest(join(dir, 'domain-a'), SERIAL), { 'content-type': CMS });
    assert.equal(logA.status, 200, logA.text);
    const eventsA = (JSON.parse(logA.text) as { version: string; events: Array<{ domainID: string }> }).events;
    assert.equal(eventsA.length, 1);
    const logB = await postToMasa(`${masaUrl}/.well-known/brski/requestauditlog`, caPem, await ownerRequest(join(dir, 'domain-b'), SERIAL), { 'content-type': CMS });
    assert.equal(logB.status, 403, logB.text);
    assert.equal((JSON.parse(logB.text) as { code: string }).code, 'ERR_ONBOARDING_NOT_OWNER');

    // 4. A decommissions: LDevID revoked, accounts gone, claim released at the remote MASA.
    const dec = await runCli(['device', 'decommission', endpoint, '--api', domainA!.urls.http!, '--json'], { cwd: dir, fetch: globalThis.fetch });
    assert.equal(dec.code, 0, `${dec.stderr}\n${domainA!.stderr()}`);
    const result = JSON.parse(dec.stdout) as { masaClaim: string; ownershipState: string; revoked: string[] };
    assert.equal(result.masaClaim, 'released', dec.stdout);
    assert.equal(result.ownershipState, 'DECOMMISSIONED');
    assert.equal(result.revoked.length, 1);
    assert.notEqual((await masaStore!.masa.getClaim(SERIAL))?.releasedAt, null, 'released at the MASA');
    const masaRelease = (await masaStore!.audit.list({ subject: SERIAL, action: 'masa.claim.release' })).at(-1);
    assert.equal(masaRelease?.outcome, 'success');
    assert.equal(masaRelease?.details.owner, ownerKeyOf(domainACa));
    assert.equal(masaRelease?.details.tlsClientCertificate, true, 'the registrar presented its certificate in TLS, and it matched the signer');
    const aAudit = await api(domainA!.urls.http!, `/api/v1/audit?action=onboarding.decommission.masa&limit=100`);
    const aStep = (aAudit.body as { records: Array<{ outcome: string; details: Record<string, unknown> }> }).records.at(-1);
    assert.equal(aStep?.outcome, 'success');
    assert.equal(aStep?.details.masaUrl, masaUrl);

    // 5. B can now claim it; the log belongs to B and A is shut out.
    const second = await runCli(['pledge', '--idevid', join(dir, 'device'), '--registrar', domainB!.urls.est!, '--out', join(dir, 'enrolled-b'), '--enroll-only', '--json'], { cwd: dir });
    assert.equal(second.code, 0, `${second.stderr}\n${domainB!.stderr()}\n${masa!.stderr()}`);
    assert.equal((await masaStore!.masa.getClaim(SERIAL))?.owner, ownerKeyOf(domainBCa));
    const deviceB = await api(domainB!.urls.http!, `/api/v1/devices/${encodeURIComponent((JSON.parse(second.stdout) as { endpoint: string }).endpoint)}`);
    assert.equal((deviceB.body as { ownershipState: string }).ownershipState, 'RFPRO');
    const logB2 = await postToMasa(`${masaUrl}/.well-known/brski/requestauditlog`, caPem, await ownerRequest(join(dir, 'domain-b'), SERIAL), { 'content-type': CMS });
    assert.equal(logB2.status, 200, logB2.text);
    assert.equal((JSON.parse(logB2.text) as { events: unknown[] }).events.length, 2, 'both vouchers are in the log');
    const logA2 = await postToMasa(`${masaUrl}/.well-known/brski/requestauditlog`, caPem, await ownerRequest(join(dir, 'domain-a'), SERIAL), { 'content-type': CMS });
    assert.equal(logA2.status, 403, logA2.text);
    const logAudit = (await masaStore!.audit.list({ subject: SERIAL, action: 'masa.auditlog.request' })).map((r) => r.outcome);
    assert.deepEqual(logAudit, ['allow', 'deny', 'allow', 'deny']);
  });
});
