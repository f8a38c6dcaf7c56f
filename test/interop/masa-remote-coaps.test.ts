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
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { sign1 } from '../../src/cose/sign1.js';
import { encodeConstrainedVoucherRequest, looksLikeCoseSign1, verifyConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import { openCoapsRegistrar } from '../../src/onboarding/pledge/coaps-transport.js';
import { ownerKeyOf } from '../../src/onboarding/masa.js';
import { decodePem, parseCertificate } from '../../src/pki/index.js';
import type { Store } from '../../src/store/types.js';
import { runCli } from '../cli/io.js';
import { auditRecords, OnboardingWorld, postToMasa, type AuditView, type MasaProcess, type RootlineProcess } from '../helpers/onboarding-world.js';
import { requirePeer } from '../helpers/peers.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');
const SERIAL = 'RMC-1';
const DRAFT_SERIAL = 'RMC-2';
const CMS = 'application/voucher-cms+json';
const COSE = 'application/voucher+cose';

function audit(base: string, action: string): Promise<AuditView[]> {
  return auditRecords(base, action);
}

describe('remote MASA for constrained pledges: rootline masa serve + two rootline serve domains over CoAPs', { skip }, () => {
  let world: OnboardingWorld | undefined;
  let dir: string;
  let masaTlsCa: string;
  let masa: MasaProcess | undefined;
  let domainA: RootlineProcess | undefined;
  let domainB: RootlineProcess | undefined;
  let masaStore: Store | undefined;

  before(async () => {
    world = OnboardingWorld.create('masa-remote-coaps');
    dir = world.dir;
    const devices = [{ serial: SERIAL, model: 'Valve', out: 'device' }, { serial: DRAFT_SERIAL, model: 'Valve', out: 'draft-device' }];
    const remote = await world.startRemoteMasa({ devices, domains: ['a', 'b'], coaps: true });
    ({ masa, masaStore } = remote);
    [domainA, domainB] = remote.domains;
    masaTlsCa = remote.tls.caFile;
  });

  after(async () => {
    await world?.close();
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
