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
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadMasterKey, openSoftwareKeyStore } from '../../src/crypto/keystore/index.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { ownerKeyOf } from '../../src/onboarding/masa.js';
import { signVoucherRequest } from '../../src/onboarding/signed-voucher.js';
import { createRootCa, decodePem, domainCaPolicy, parseCertificate } from '../../src/pki/index.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/types.js';
import { runCli } from '../cli/io.js';
import { requirePeer } from '../helpers/peers.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');
const REPO = resolve(import.meta.dirname, '../..');
const SERIAL = 'RM-1';
const CMS = 'application/voucher-cms+json';

interface Proc {
  child: ChildProcess;
  urls: Record<string, string>;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** Starts `rootline <args>` from sources and waits for the named "listening on" lines. */
async function startRootline(args: string[], listeners: string[]): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main-entry.ts'), ...args], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-200_000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const urls = await new Promise<Record<string, string>>((done, fail) => {
    const found: Record<string, string> = {};
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      for (const m of out.matchAll(/^rootline: (\w+) listening on (\S+)$/gm)) found[m[1]!] = m[2]!;
      if (listeners.every((l) => found[l] !== undefined)) done(found);
    });
    void exited.then((code) => fail(new Error(`rootline ${args[0]} exited (${code}) before listening:\n${err}`)));
  });
  return {
    child,
    urls,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => done(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** POST to the MASA over HTTPS, trusting only its TLS CA. */
function postToMasa(url: string, ca: string, body: Uint8Array): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = httpsRequest(url, { method: 'POST', ca, headers: { 'content-type': CMS, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(Buffer.from(body));
  });
}

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
  let dir: string;
  let mfr: string;
  let masaTlsCa: string;
  let masa: Proc | undefined;
  let domainA: Proc | undefined;
  let domainB: Proc | undefined;
  let masaStore: Store | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rootline-masa-remote-'));
    mfr = join(dir, 'manufacturer');
    const port = await freePort();
    // The MASA's own HTTPS identity: a TLS CA the domains are told to trust for it.
    const tlsCa = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=MASA TLS CA', validityDays: 30 });
    const tlsKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const tlsCert = await domainCaPolicy.issueServerCertificate(tlsCa, { publicKey: keyObjectSigner(tlsKey).publicKey, subjectAltNames: { ip: ['127.0.0.1'], dns: ['localhost'] }, validityDays: 20 });
    mkdirSync(join(dir, 'tls'));
    masaTlsCa = join(dir, 'tls', 'masa-tls-ca.pem');
    writeFileSync(masaTlsCa, tlsCa.chainPem);
    writeFileSync(join(dir, 'tls', 'masa-tls.pem'), tlsCert.pem + tlsCa.chainPem);
    writeFileSync(join(dir, 'tls', 'masa-tls.key'), tlsKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });

    // The IDevID carries the MASA URL: the registrars go exactly there.
    const init = await runCli(['factory', 'init', '--data', mfr, '--masa-url', `https://127.0.0.1:${port}`, '--manufacturer', 'Acme'], { cwd: dir });
    assert.equal(init.code, 0, init.stderr);
    const mint = await runCli(['factory', 'mint', '--data', mfr, '--serial', SERIAL, '--model', 'Meter', '--out', 'device'], { cwd: dir });
    assert.equal(mint.code, 0, mint.stderr);

    masa = await startRootline(['masa', 'serve', '--data', mfr, '--tls-cert', join(dir, 'tls', 'masa-tls.pem'), '--tls-key', join(dir, 'tls', 'masa-tls.key'), '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn'], ['masa']);
    for (const name of ['a', 'b']) {
      writeFileSync(
        join(dir, `${name}.json`),
        JSON.stringify({ onboarding: { approval: 'automatic', manufacturers: [{ caFile: join(mfr, 'factory', 'manufacturer-ca.pem'), masaTlsCaFile: masaTlsCa }] } }),
      );
    }
    const serveArgs = (name: string): string[] => ['serve', '--config', join(dir, `${name}.json`), '--data', join(dir, `domain-${name}`), '--host', '127.0.0.1', '--device-host', '127.0.0.1', '--http-port', '0', '--coap-port', '0', '--coaps-port', '0', '--est-port', '0', '--log-level', 'warn'];
    [domainA, domainB] = await Promise.all([startRootline(serveArgs('a'), ['http', 'est']), startRootline(serveArgs('b'), ['http', 'est'])]);
    // The MASA's store, read beside the running MASA (SQLite WAL: readers do not block it).
    masaStore = await openSqliteStore({ file: join(mfr, 'rootline.db') });
  });

  after(async () => {
    await masaStore?.close();
    const codes = await Promise.all([domainA?.stop(), domainB?.stop(), masa?.stop()]);
    // Graceful shutdown: every process drains and exits 0 on SIGTERM.
    if (masa !== undefined) assert.deepEqual(codes, [0, 0, 0], `${masa.stderr()}\n${domainA?.stderr()}\n${domainB?.stderr()}`);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
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
    const logA = await postToMasa(`${masaUrl}/.well-known/brski/requestauditlog`, caPem, await ownerRequest(join(dir, 'domain-a'), SERIAL));
    assert.equal(logA.status, 200, logA.text);
    const eventsA = (JSON.parse(logA.text) as { version: string; events: Array<{ domainID: string }> }).events;
    assert.equal(eventsA.length, 1);
    const logB = await postToMasa(`${masaUrl}/.well-known/brski/requestauditlog`, caPem, await ownerRequest(join(dir, 'domain-b'), SERIAL));
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
    const logB2 = await postToMasa(`${masaUrl}/.well-known/brski/requestauditlog`, caPem, await ownerRequest(join(dir, 'domain-b'), SERIAL));
    assert.equal(logB2.status, 200, logB2.text);
    assert.equal((JSON.parse(logB2.text) as { events: unknown[] }).events.length, 2, 'both vouchers are in the log');
    const logA2 = await postToMasa(`${masaUrl}/.well-known/brski/requestauditlog`, caPem, await ownerRequest(join(dir, 'domain-a'), SERIAL));
    assert.equal(logA2.status, 403, logA2.text);
    const logAudit = (await masaStore!.audit.list({ subject: SERIAL, action: 'masa.auditlog.request' })).map((r) => r.outcome);
    assert.deepEqual(logAudit, ['allow', 'deny', 'allow', 'deny']);
  });
});
