/**
 * Constrained pledges through a remote MASA, end to end with real processes: `rootline masa
 * serve` (the manufacturer) and two `rootline serve` domains with onboarding over CoAPs
 * (`onboarding.coapsPort`), whose registrars reach the MASA over HTTPS at the URL the IDevID
 * carries; `rootline pledge --registrar coaps://…` is the constrained pledge.
 *
 *   1. the pledge onboards to domain A: its COSE request goes to A's registrar over DTLS, A sends
 *      the MASA a COSE registrar request (application/voucher+cose, cBRSKI §7.1) and relays the
 *      MASA's COSE voucher unchanged; the LDevID verifies under A's CA;
 *   2. domain B is refused while A owns the device — audited at B's registrar and at the MASA;
 *   3. the MASA's HTTP content negotiation refuses wrong Content-Type (415), a body that is not
 *      what its Content-Type says (400) and unacceptable Accept (406), each audited;
 *   4. A decommissions the device: the claim is released at the remote MASA that vouched (the
 *      constrained path records the MASA URL too), and B onboards it over CoAPs;
 *   5. a draft-built pledge (cBRSKI §9.2.2: no certificate in its request, the registrar named by
 *      proximity-registrar-pubk-sha256) gets the remote MASA's voucher over CoAPs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { sign1 } from '../../src/cose/sign1.js';
import { encodeConstrainedVoucherRequest, looksLikeCoseSign1, verifyConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import { openCoapsRegistrar } from '../../src/onboarding/pledge/coaps-transport.js';
import { ownerKeyOf } from '../../src/onboarding/masa.js';
import { createRootCa, decodePem, domainCaPolicy, parseCertificate } from '../../src/pki/index.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/types.js';
import { runCli } from '../cli/io.js';
import { requirePeer } from '../helpers/peers.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');
const REPO = resolve(import.meta.dirname, '../..');
const SERIAL = 'RMC-1';
const DRAFT_SERIAL = 'RMC-2';
const CMS = 'application/voucher-cms+json';
const COSE = 'application/voucher+cose';

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
      for (const m of out.matchAll(/^rootline: ([\w-]+) listening on (\S+)$/gm)) found[m[1]!] = m[2]!;
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

/** POST to the MASA over HTTPS with the given headers, trusting only its TLS CA. */
function postToMasa(url: string, ca: string, body: Uint8Array, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = httpsRequest(url, { method: 'POST', ca, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(Buffer.from(body));
  });
}

interface AuditRecord {
  subject: string;
  outcome: string;
  details: Record<string, unknown>;
}

async function audit(base: string, action: string): Promise<AuditRecord[]> {
  const res = await fetch(`${base}/api/v1/audit?action=${encodeURIComponent(action)}&limit=1000`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { records: AuditRecord[] }).records;
}

describe('remote MASA for constrained pledges: rootline masa serve + two rootline serve domains over CoAPs', { skip }, () => {
  let dir: string;
  let mfr: string;
  let masaTlsCa: string;
  let masa: Proc | undefined;
  let domainA: Proc | undefined;
  let domainB: Proc | undefined;
  let masaStore: Store | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rootline-masa-remote-coaps-'));
    mfr = join(dir, 'manufacturer');
    const port = await freePort();
    const tlsCa = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=MASA TLS CA', validityDays: 30 });
    const tlsKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const tlsCert = await domainCaPolicy.issueServerCertificate(tlsCa, { publicKey: keyObjectSigner(tlsKey).publicKey, subjectAltNames: { ip: ['127.0.0.1'], dns: ['localhost'] }, validityDays: 20 });
    mkdirSync(join(dir, 'tls'));
    masaTlsCa = join(dir, 'tls', 'masa-tls-ca.pem');
    writeFileSync(masaTlsCa, tlsCa.chainPem);
    writeFileSync(join(dir, 'tls', 'masa-tls.pem'), tlsCert.pem + tlsCa.chainPem);
    writeFileSync(join(dir, 'tls', 'masa-tls.key'), tlsKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });

    const init = await runCli(['factory', 'init', '--data', mfr, '--masa-url', `https://127.0.0.1:${port}`, '--manufacturer', 'Acme'], { cwd: dir });
    assert.equal(init.code, 0, init.stderr);
    for (const [serial, out] of [[SERIAL, 'device'], [DRAFT_SERIAL, 'draft-device']] as const) {
      const mint = await runCli(['factory', 'mint', '--data', mfr, '--serial', serial, '--model', 'Valve', '--out', out], { cwd: dir });
      assert.equal(mint.code, 0, mint.stderr);
    }

    masa = await startRootline(['masa', 'serve', '--data', mfr, '--tls-cert', join(dir, 'tls', 'masa-tls.pem'), '--tls-key', join(dir, 'tls', 'masa-tls.key'), '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn'], ['masa']);
    for (const name of ['a', 'b']) {
      writeFileSync(
        join(dir, `${name}.json`),
        JSON.stringify({ onboarding: { approval: 'automatic', coapsPort: 0, manufacturers: [{ caFile: join(mfr, 'factory', 'manufacturer-ca.pem'), masaTlsCaFile: masaTlsCa }] } }),
      );
    }
    const serveArgs = (name: string): string[] => ['serve', '--config', join(dir, `${name}.json`), '--data', join(dir, `domain-${name}`), '--host', '127.0.0.1', '--device-host', '127.0.0.1', '--http-port', '0', '--coap-port', '0', '--coaps-port', '0', '--est-port', '0', '--log-level', 'warn'];
    [domainA, domainB] = await Promise.all([startRootline(serveArgs('a'), ['http', 'est', 'brski-coaps']), startRootline(serveArgs('b'), ['http', 'est', 'brski-coaps'])]);
    masaStore = await openSqliteStore({ file: join(mfr, 'rootline.db') });
  });

  after(async () => {
    await masaStore?.close();
    const codes = await Promise.all([domainA?.stop(), domainB?.stop(), masa?.stop()]);
    if (masa !== undefined) assert.deepEqual(codes, [0, 0, 0], `${masa.stderr()}\n${domainA?.stderr()}\n${domainB?.stderr()}`);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('onboards over CoAPs at A with the remote MASA’s COSE voucher, refuses B while A owns it, then B after A decommissions', async () => {
    const masaUrl = masa!.urls.masa!;
    const caPem = readFileSync(masaTlsCa, 'utf8');
    const domainACaFile = join(dir, 'domain-a', 'onboarding', 'domain-ca.pem');
    const domainACa = parseCertificate(decodePem(readFileSync(domainACaFile, 'utf8'), 'CERTIFICATE'));
    const domainBCa = parseCertificate(decodePem(readFileSync(join(dir, 'domain-b', 'onboarding', 'domain-ca.pem'), 'utf8'), 'CERTIFICATE'));
    const masaCa = readFileSync(join(dir, 'device', 'masa-ca.pem'), 'utf8');

    // 1. Onboard to A over CoAPs.
    const first = await runCli(['pledge', '--idevid', join(dir, 'device'), '--registrar', domainA!.urls['brski-coaps']!, '--out', join(dir, 'enrolled-a'), '--enroll-only', '--json'], { cwd: dir });
    assert.equal(first.code, 0, `${first.stderr}\n${domainA!.stderr()}\n${masa!.stderr()}`);
    const endpoint = (JSON.parse(first.stdout) as { endpoint: string }).endpoint;
    const verifyA = spawnSync('openssl', ['verify', '-CAfile', domainACaFile, join(dir, 'enrolled-a', 'ldevid.pem')], { encoding: 'utf8' });
    assert.equal(verifyA.status, 0, verifyA.stderr);
    // The voucher the pledge got is the MASA's COSE_Sign1, for this serial, pinning A's CA.
    const voucherBytes = new Uint8Array(readFileSync(join(dir, 'enrolled-a', 'voucher.cose')));
    assert.ok(looksLikeCoseSign1(voucherBytes));
    const voucher = await verifyConstrainedVoucher(voucherBytes, { masaTrustAnchors: [masaCa], serialNumber: SERIAL });
    assert.equal(parseCertificate(voucher.pinnedDomainCertificate).fingerprint256, domainACa.fingerprint256);
    assert.equal((await masaStore!.masa.getClaim(SERIAL))?.owner, ownerKeyOf(domainACa), 'the remote MASA recorded A as the owner');
    const issued = (await masaStore!.audit.list({ subject: SERIAL, action: 'masa.voucher.issue' })).at(-1);
    assert.equal(issued?.outcome, 'success');
    assert.equal(issued?.details.format, 'cose');
    // The registrar relayed the MASA's voucher unchanged: the hash it recorded is the pledge's file.
    const aGrant = (await audit(domainA!.urls.http!, 'registrar.voucher.request')).find((r) => r.subject === SERIAL && r.outcome === 'success');
    assert.equal(aGrant?.details.format, 'cose');
    assert.equal(aGrant?.details.masaUrl, masaUrl);
    assert.equal(aGrant?.details.voucherSha256, createHash('sha256').update(voucherBytes).digest('hex'));

    // 2. B is refused while A owns it: audited at B's registrar and at the MASA.
    const refused = await runCli(['pledge', '--idevid', join(dir, 'device'), '--registrar', domainB!.urls['brski-coaps']!, '--out', join(dir, 'refused-b'), '--enroll-only'], { cwd: dir });
    assert.equal(refused.code, 1, refused.stdout);
    const bDeny = (await audit(domainB!.urls.http!, 'registrar.voucher.request')).find((r) => r.outcome === 'deny' && r.subject === SERIAL);
    assert.equal(bDeny?.details.masaCode, 'ERR_ONBOARDING_ALREADY_OWNED', JSON.stringify(bDeny));
    assert.equal(bDeny?.details.masaStatus, 403);
    assert.equal(bDeny?.details.format, 'cose');
    const masaDeny = (await masaStore!.audit.list({ subject: SERIAL, action: 'masa.voucher.request' })).filter((r) => r.outcome === 'deny');
    assert.deepEqual(masaDeny.map((r) => r.details.code), ['ERR_ONBOARDING_ALREADY_OWNED']);
    assert.equal((await masaStore!.masa.getClaim(SERIAL))?.owner, ownerKeyOf(domainACa), 'still A');

    // 3. Content negotiation at the real MASA: each refusal answered with its status and audited.
    const url = `${masaUrl}/.well-known/brski/requestvoucher`;
    const cmsLike = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]);
    const coseLike = new Uint8Array([0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40]);
    const wrongType = await postToMasa(url, caPem, coseLike, { 'content-type': 'text/plain' });
    assert.equal(wrongType.status, 415, wrongType.text);
    assert.equal((JSON.parse(wrongType.text) as { code: string }).code, 'ERR_ONBOARDING_UNSUPPORTED_MEDIA_TYPE');
    const notAcceptable = await postToMasa(url, caPem, coseLike, { 'content-type': COSE, accept: 'application/json' });
    assert.equal(notAcceptable.status, 406, notAcceptable.text);
    const mislabelled = await postToMasa(url, caPem, cmsLike, { 'content-type': COSE, accept: COSE });
    assert.equal(mislabelled.status, 400, mislabelled.text);
    assert.equal((JSON.parse(mislabelled.text) as { code: string }).code, 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE');
    const refusedCodes = (await masaStore!.audit.list({ action: 'masa.voucher.request' })).filter((r) => r.outcome === 'deny' && r.subject === 'unknown').map((r) => r.details.code);
    assert.deepEqual(refusedCodes, ['ERR_ONBOARDING_UNSUPPORTED_MEDIA_TYPE', 'ERR_ONBOARDING_NOT_ACCEPTABLE', 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE']);
    assert.equal((await postToMasa(url, caPem, coseLike, { 'content-type': CMS })).status, 400, 'a COSE body sent as CMS is refused too');

    // 4. A decommissions: the claim is released at the remote MASA the constrained path recorded.
    const dec = await runCli(['device', 'decommission', endpoint, '--api', domainA!.urls.http!, '--json'], { cwd: dir, fetch: globalThis.fetch });
    assert.equal(dec.code, 0, `${dec.stderr}\n${domainA!.stderr()}`);
    assert.equal((JSON.parse(dec.stdout) as { masaClaim: string }).masaClaim, 'released', dec.stdout);
    assert.notEqual((await masaStore!.masa.getClaim(SERIAL))?.releasedAt, null, 'released at the MASA');
    const second = await runCli(['pledge', '--idevid', join(dir, 'device'), '--registrar', domainB!.urls['brski-coaps']!, '--out', join(dir, 'enrolled-b'), '--enroll-only', '--json'], { cwd: dir });
    assert.equal(second.code, 0, `${second.stderr}\n${domainB!.stderr()}\n${masa!.stderr()}`);
    assert.equal((await masaStore!.masa.getClaim(SERIAL))?.owner, ownerKeyOf(domainBCa));
    const voucherB = await verifyConstrainedVoucher(new Uint8Array(readFileSync(join(dir, 'enrolled-b', 'voucher.cose'))), { masaTrustAnchors: [masaCa], serialNumber: SERIAL });
    assert.equal(parseCertificate(voucherB.pinnedDomainCertificate).fingerprint256, domainBCa.fingerprint256);
  });

  it('a draft-built pledge (no certificate in its request, registrar named by proximity-registrar-pubk-sha256) gets the remote MASA’s voucher over CoAPs', async () => {
    const device = join(dir, 'draft-device');
    const idevid = decodePem(readFileSync(join(device, 'idevid.pem'), 'utf8'), 'CERTIFICATE');
    const signer = keyObjectSigner(createPrivateKey(readFileSync(join(device, 'idevid.key'), 'utf8')));
    const { hostname, port } = new URL(domainA!.urls['brski-coaps']!);
    const conn = await openCoapsRegistrar({ host: hostname, port: Number(port), certificate: { signer, chain: [idevid] } });
    try {
      // cBRSKI §9.2.2 / Appendix C.3: no x5chain, no x5bag; the registrar by the SHA-256 of its key.
      const registrarKey = parseCertificate(conn.serverChain[0]!).publicKey;
      const nonce = new Uint8Array(randomBytes(8));
      const payload = encodeConstrainedVoucherRequest({ assertion: 'proximity', serialNumber: DRAFT_SERIAL, nonce, proximityRegistrarPubkSha256: new Uint8Array(createHash('sha256').update(registrarKey).digest()) });
      const pvr = await sign1({ payload, signer });
      const ex = await conn.request('POST', '/.well-known/brski/rv', { payload: pvr, contentFormat: 836 }, 836);
      assert.equal(ex.status, 204, Buffer.from(ex.payload).toString('utf8'));
      assert.equal(ex.contentFormat, 836);
      const voucher = await verifyConstrainedVoucher(ex.payload, { masaTrustAnchors: [readFileSync(join(device, 'masa-ca.pem'), 'utf8')], serialNumber: DRAFT_SERIAL, nonce });
      const domainACa = parseCertificate(decodePem(readFileSync(join(dir, 'domain-a', 'onboarding', 'domain-ca.pem'), 'utf8'), 'CERTIFICATE'));
      assert.equal(parseCertificate(voucher.pinnedDomainCertificate).fingerprint256, domainACa.fingerprint256);
      assert.equal((await masaStore!.masa.getClaim(DRAFT_SERIAL))?.owner, ownerKeyOf(domainACa));
      const grant = (await audit(domainA!.urls.http!, 'registrar.voucher.request')).find((r) => r.subject === DRAFT_SERIAL && r.outcome === 'success');
      assert.equal(grant?.details.voucherSha256, createHash('sha256').update(ex.payload).digest('hex'), 'relayed unchanged');
    } finally {
      await conn.close();
    }
  });
});
