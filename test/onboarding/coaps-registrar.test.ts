/**
 * BRSKI and EST over CoAPs against the real registrar and MASA (no serve): DTLS 1.2 on loopback
 * with the pledge's IDevID as client certificate, the CoAP resources of src/onboarding/coaps,
 * the constrained (COSE) voucher from the in-process MASA, EST-coaps enrollment. Every refusal is
 * checked for its CoAP code, its ERR_ code in the diagnostic payload and its audit record.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoapEndpoint, parseLinkFormat } from '../../src/coap/index.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { connectDtls, dtlsClientTransport } from '../../src/dtls/index.js';
import { inProcessConstrainedMasaClient, startRegistrarCoaps, type RegistrarCoapsServer, type RegistrarHandshakeEvent } from '../../src/onboarding/coaps/index.js';
import { createConstrainedPledgeVoucherRequest, verifyConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import { decodeCertsOnly } from '../../src/onboarding/est/certs-only.js';
import { decodeCsrAttrs } from '../../src/onboarding/est/csr-attrs.js';
import { askCoapsBootstrapServer, fetchCoapsBootstrapServer, openCoapsRegistrar, runCoapsPledge, type CoapsRegistrarConnection } from '../../src/onboarding/pledge/coaps-transport.js';
import { createPledgeVoucherRequest } from '../../src/onboarding/voucher-requests.js';
import { createCsr, parseCertificate, parsePem, verifyChain } from '../../src/pki/index.js';
import type { AuditRecord } from '../../src/store/types.js';
import { createTestFactory, type TestFactory } from './helpers.js';
import { createWorld, startDomain, type Domain, type World } from './registrar/fixture.js';

function pemDers(file: string): Uint8Array[] {
  return parsePem(readFileSync(file, 'utf8'), {}).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
}

interface Device {
  dir: string;
  signer: ReturnType<typeof keyObjectSigner>;
  chain: Uint8Array[];
}

function deviceOf(dir: string): Device {
  return { dir, signer: keyObjectSigner(createPrivateKey(readFileSync(join(dir, 'idevid.key'), 'utf8'))), chain: pemDers(join(dir, 'idevid.pem')) };
}

async function auditOf(domain: Domain, action: string): Promise<AuditRecord[]> {
  return domain.store.audit.list({ action, limit: 1000 });
}

/** Byte equality whatever the view (Buffer or Uint8Array). */
function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

function diagnosticCode(payload: Uint8Array): string | undefined {
  return /^(ERR_[A-Z0-9_]+):/.exec(Buffer.from(payload).toString('utf8'))?.[1];
}

describe('BRSKI + EST over CoAPs (registrar resources)', () => {
  let world: World;
  let domain: Domain;
  let server: RegistrarCoapsServer;
  let rogue: TestFactory;
  const handshakes: RegistrarHandshakeEvent[] = [];
  let url: string;

  before(async () => {
    world = await createWorld();
    domain = await startDomain(world.t, 'coaps', {
      masaClient: world.inProcessMasa,
      masaUrl: 'https://masa.example.com',
      overrides: { policy: { approval: 'automatic' }, constrainedMasaClient: inProcessConstrainedMasaClient(world.masa.masa) },
    });
    server = await startRegistrarCoaps({
      host: '127.0.0.1',
      port: 0,
      registrar: domain.registrar,
      identity: { signer: domain.registrarKey.signer, chain: [domain.registrarCert.der, domain.ca.certificate.der] },
      audit: domain.store.audit,
      onHandshake: (e) => handshakes.push(e),
    });
    url = `coaps://127.0.0.1:${server.address.port}`;
    rogue = await createTestFactory('https://masa.rogue.example');
  });

  after(async () => {
    await server?.close();
    await domain?.close();
    await world?.close();
    await rogue?.close();
  });

  async function connect(device: Device): Promise<CoapsRegistrarConnection> {
    return openCoapsRegistrar({ host: '127.0.0.1', port: server.address.port, certificate: { signer: device.signer, chain: device.chain } });
  }

  it('lists the EST-coaps and BRSKI resources in /.well-known/core (RFC 9148 §4.1)', async () => {
    const conn = await connect(deviceOf(await world.mint('DISC-1')));
    try {
      const ex = await conn.request('GET', '/.well-known/core');
      assert.equal(ex.status, 205);
      assert.equal(ex.contentFormat, 40);
      const links = parseLinkFormat(Buffer.from(ex.payload).toString('utf8'));
      const attr = (l: (typeof links)[number], name: string) => l.attributes.find((a) => a.name === name)?.value;
      const rt = new Map(links.map((l) => [String(attr(l, 'rt')), l]));
      for (const [name, path] of [['ace.est.crts', '/est/crts'], ['ace.est.sen', '/est/sen'], ['ace.est.sren', '/est/sren'], ['ace.est.att', '/est/att'], ['brski.rv', '/.well-known/brski/rv'], ['brski.vs', '/.well-known/brski/vs'], ['brski.es', '/.well-known/brski/es']]) {
        assert.equal(rt.get(name!)?.target, path, `${name} at ${path}`);
      }
      assert.equal(attr(rt.get('ace.est.crts')!, 'ct'), '281 287');
      assert.equal(attr(rt.get('ace.est.att')!, 'ct'), '285');
      // As in the discovery example of draft-ietf-anima-constrained-join-proxy (cBRSKI):
      // </.well-known/brski/rv>;rt=brski.rv;ct=836, vs and es with ct="50 60".
      assert.equal(attr(rt.get('brski.rv')!, 'ct'), '836');
      assert.equal(attr(rt.get('brski.vs')!, 'ct'), '50 60');
      assert.equal(attr(rt.get('brski.es')!, 'ct'), '50 60');
      // The /.well-known/est twins are served but not listed.
      assert.ok(!links.some((l) => l.target.startsWith('/.well-known/est')));
      // The server presented the registrar certificate (what the pledge names for proximity).
      assert.ok(sameBytes(conn.serverChain[0], domain.registrarCert.der));
    } finally {
      await conn.close();
    }
  });

  it('serves /crts as certs-only (281, default) or the CA certificate (287); other Accept is 4.06', async () => {
    const conn = await connect(deviceOf(await world.mint('CRTS-1')));
    try {
      for (const path of ['/est/crts', '/.well-known/est/crts']) {
        const def = await conn.request('GET', path);
        assert.equal(def.status, 205);
        assert.equal(def.contentFormat, 281);
        const got = decodeCertsOnly(def.payload);
        assert.equal(got.length, 1);
        assert.ok(sameBytes(got[0], domain.ca.certificate.der));
      }
      const one = await conn.request('GET', '/est/crts', undefined, 287);
      assert.equal(one.contentFormat, 287);
      assert.ok(sameBytes(one.payload, domain.ca.certificate.der));
      const bad = await conn.request('GET', '/est/crts', undefined, 50);
      assert.equal(bad.status, 406);
      assert.equal(diagnosticCode(bad.payload), 'ERR_COAPS_NOT_ACCEPTABLE');
      const att = await conn.request('GET', '/est/att');
      assert.equal(att.status, 205);
      assert.equal(att.contentFormat, 285);
      assert.ok(decodeCsrAttrs(att.payload).length > 0);
      assert.equal((await conn.request('POST', '/est/crts')).status, 405);
    } finally {
      await conn.close();
    }
  });

  it('onboards a pledge end to end: COSE voucher, EST-coaps LDevID, device RFPRO, audit trail', async () => {
    const dir = await world.mint('COAPS-1');
    const out = mkdtempSync(join(tmpdir(), 'rootline-coaps-pledge-'));
    const steps: string[] = [];
    const result = await runCoapsPledge({ idevidDir: dir, registrarUrl: url, outDir: out, onStep: (s) => steps.push(s) });
    assert.deepEqual(steps, ['voucher-request', 'voucher', 'voucher-status', 'enroll', 'enroll-status']);
    assert.equal(result.serialNumber, 'COAPS-1');
    // The voucher is the MASA's COSE_Sign1 and pins this domain.
    assert.equal(result.voucher.der[0], 0xd2);
    const verified = await verifyConstrainedVoucher(result.voucher.der, { masaTrustAnchors: [world.t.factory.masaCaCertificate], serialNumber: 'COAPS-1' });
    assert.ok(sameBytes(verified.pinnedDomainCertificate, domain.ca.certificate.der));
    assert.ok(sameBytes(result.domainCa.der, domain.ca.certificate.der));
    verifyChain(result.ldevid.certificate, [], [domain.ca.certificate], { purpose: 'clientAuth' });
    assert.equal(result.endpoint, 'urn:dev:ops:Acme-Sensor-COAPS-1');
    const device = await domain.store.devices.get(result.endpoint!);
    assert.equal(device?.ownershipState, 'RFPRO');
    const cred = await domain.store.devices.findCredential('x509', result.endpoint!);
    assert.ok(sameBytes(cred?.material, result.ldevid.der));
    assert.equal((device?.attributes.enrollStatus as { status?: boolean } | undefined)?.status, true);
    for (const f of ['ldevid.pem', 'ldevid-chain.pem', 'ldevid.key', 'domain-ca.pem', 'voucher.cose']) assert.ok(readFileSync(join(out, f)).length > 0, f);
    const voucherAudit = (await auditOf(domain, 'registrar.voucher.request')).filter((e) => e.subject === 'COAPS-1');
    assert.equal(voucherAudit.at(-1)?.outcome, 'success');
    assert.equal(voucherAudit.at(-1)?.details.format, 'cose');
    assert.ok((await auditOf(domain, 'est.simpleenroll')).some((e) => e.subject === 'COAPS-1' && e.outcome === 'success'));
    assert.ok((await auditOf(domain, 'registrar.enroll-status')).some((e) => e.outcome === 'success'));
    assert.ok(handshakes.some((h) => h.outcome === 'allow' && h.identity.includes('COAPS-1')));
  });

  it('names the LwM2M bootstrap server to the enrolled device over its LDevID session, and to nobody else', async () => {
    const dir = await world.mint('BS-1');
    const result = await runCoapsPledge({ idevidDir: dir, registrarUrl: url });
    const named = await fetchCoapsBootstrapServer({ registrarUrl: url, ldevidChain: result.ldevid.chain, key: result.key, domainCa: result.domainCa.der });
    assert.equal(named.endpoint, result.endpoint);
    assert.equal(named.uri, 'coaps://lwm2m.example:5684');
    assert.ok(sameBytes(named.serverCertificate, domain.lwm2mServerCert.der));
    assert.equal((await auditOf(domain, 'registrar.bootstrap-server')).at(-1)?.outcome, 'allow');
    // With the IDevID: 4.01, audited.
    const conn = await connect(deviceOf(dir));
    try {
      const ex = await conn.request('GET', '/.well-known/rootline/lwm2m-bootstrap');
      assert.equal(ex.status, 401);
      assert.equal(diagnosticCode(ex.payload), 'ERR_REGISTRAR_UNAUTHENTICATED');
      assert.equal((await auditOf(domain, 'registrar.bootstrap-server')).at(-1)?.outcome, 'deny');
    } finally {
      await conn.close();
    }
  });

  it('asks for the bootstrap server on the enrollstatus session: two registrar handshakes per device (IDevID, LDevID)', async () => {
    const dir = await world.mint('BS-2');
    const before = handshakes.length;
    let named: Awaited<ReturnType<typeof askCoapsBootstrapServer>> | undefined;
    let askedAfterStatus = false;
    const steps: string[] = [];
    const result = await runCoapsPledge({
      idevidDir: dir,
      registrarUrl: url,
      onStep: (s) => steps.push(s),
      afterCoapsEnrollment: async (conn) => {
        askedAfterStatus = steps.at(-1) === 'enroll-status';
        named = await askCoapsBootstrapServer(conn);
      },
    });
    assert.ok(askedAfterStatus);
    assert.equal(named?.endpoint, result.endpoint);
    assert.equal(named?.uri, 'coaps://lwm2m.example:5684');
    assert.ok(sameBytes(named?.serverCertificate, domain.lwm2mServerCert.der));
    const mine = handshakes.slice(before).filter((h) => h.identity.includes('BS-2') || h.identity.includes(result.endpoint!));
    assert.deepEqual(mine.map((h) => h.outcome), ['allow', 'allow'], JSON.stringify(mine));
    // The LDevID session is the one that asked: the audit names the endpoint, allowed.
    const audit = (await auditOf(domain, 'registrar.bootstrap-server')).at(-1);
    assert.equal(audit?.outcome, 'allow');
    // A failing hook fails the pledge with its own error.
    const dir2 = await world.mint('BS-3');
    await assert.rejects(
      runCoapsPledge({ idevidDir: dir2, registrarUrl: url, afterCoapsEnrollment: async () => Promise.reject(new Error('hook says no')) }),
      /hook says no/,
    );
    await assert.rejects(runCoapsPledge({ idevidDir: dir2, registrarUrl: url, afterCoapsEnrollment: 'x' as never }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  it('refuses without a client certificate: 4.01 with an audit record (rv and sen)', async () => {
    const session = await connectDtls({ host: '127.0.0.1', port: server.address.port, verifyServer: () => true, serverCertificateTypes: ['x509'] });
    const coap = new CoapEndpoint(dtlsClientTransport(session));
    try {
      const before = (await auditOf(domain, 'est.simpleenroll')).length;
      const csr = await createCsr({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=nobody' });
      const sen = await coap.request(session.peerKey, { method: 'POST', path: '/est/sen', payload: csr, contentFormat: 286 });
      assert.equal(sen.codeText, '4.01');
      assert.equal(diagnosticCode(sen.payload), 'ERR_EST_UNAUTHENTICATED');
      const after = await auditOf(domain, 'est.simpleenroll');
      assert.equal(after.length, before + 1);
      assert.equal(after.at(-1)?.outcome, 'deny');
      assert.equal(after.at(-1)?.actor, 'device:unauthenticated');
      const rv = await coap.request(session.peerKey, { method: 'POST', path: '/.well-known/brski/rv', payload: new Uint8Array([0xd2, 0x84]), contentFormat: 836 });
      assert.equal(rv.codeText, '4.01');
      assert.equal(diagnosticCode(rv.payload), 'ERR_REGISTRAR_UNAUTHENTICATED');
      assert.equal((await auditOf(domain, 'registrar.voucher.request')).at(-1)?.actor, 'pledge:unauthenticated');
      // RFC 9148 §4: unlike EST over HTTPS, even /crts and /att need client authentication.
      for (const [path, action] of [['/est/crts', 'est.cacerts'], ['/est/att', 'est.csrattrs']] as const) {
        const res = await coap.request(session.peerKey, { method: 'GET', path });
        assert.equal(res.codeText, '4.01', path);
        assert.equal(diagnosticCode(res.payload), 'ERR_EST_UNAUTHENTICATED');
        assert.equal((await auditOf(domain, action)).at(-1)?.outcome, 'deny');
      }
    } finally {
      await coap.close();
    }
  });

  it('refuses a pledge of an untrusted manufacturer with 4.03 and an audit record', async () => {
    const minted = await rogue.factory.mintDevice({ serial: 'ROGUE-1', model: 'X', outDir: join(rogue.dir, 'rogue') });
    const device = deviceOf(join(rogue.dir, 'rogue'));
    assert.ok(minted);
    const conn = await connect(device);
    try {
      const pvr = await createConstrainedPledgeVoucherRequest({ signer: device.signer, idevid: device.chain, registrarCertificate: conn.serverChain[0]! });
      const ex = await conn.request('POST', '/.well-known/brski/rv', { payload: pvr.bytes, contentFormat: 836 });
      assert.equal(ex.status, 403);
      assert.equal(diagnosticCode(ex.payload), 'ERR_REGISTRAR_REFUSED');
      const last = (await auditOf(domain, 'registrar.voucher.request')).at(-1);
      assert.equal(last?.subject, 'ROGUE-1');
      assert.equal(last?.outcome, 'deny');
    } finally {
      await conn.close();
    }
  });

  it('answers bad requests with their codes: bad CSR 4.00, wrong Content-Format 4.15, enroll before a voucher 4.03, CMS on rv 4.00', async () => {
    const device = deviceOf(await world.mint('BAD-1'));
    const conn = await connect(device);
    try {
      const garbage = await conn.request('POST', '/est/sen', { payload: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), contentFormat: 286 });
      assert.equal(garbage.status, 400);
      assert.equal(diagnosticCode(garbage.payload), 'ERR_EST_BAD_CSR');
      const denied = (await auditOf(domain, 'est.simpleenroll')).at(-1);
      assert.equal(denied?.outcome, 'deny');
      assert.equal(denied?.details.code, 'ERR_EST_BAD_CSR');
      const csr = await createCsr({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: [[{ type: 'serialNumber', value: 'BAD-1' }]] });
      assert.equal((await conn.request('POST', '/est/sen', { payload: csr, contentFormat: 42 })).status, 415);
      assert.equal((await conn.request('POST', '/est/sen', { payload: csr, contentFormat: 286 }, 50)).status, 406);
      const early = await conn.request('POST', '/est/sen', { payload: csr, contentFormat: 286 });
      assert.equal(early.status, 403);
      assert.equal(diagnosticCode(early.payload), 'ERR_EST_FORBIDDEN');
      // A CMS voucher request where COSE is declared: refused before the MASA is asked.
      const cms = await createPledgeVoucherRequest({ signer: device.signer, idevid: device.chain, registrarCertificate: conn.serverChain[0]! });
      const wrong = await conn.request('POST', '/.well-known/brski/rv', { payload: cms.der, contentFormat: 836 });
      assert.equal(wrong.status, 400);
      assert.equal(diagnosticCode(wrong.payload), 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE');
      const pvr = await createConstrainedPledgeVoucherRequest({ signer: device.signer, idevid: device.chain, registrarCertificate: conn.serverChain[0]! });
      assert.equal((await conn.request('POST', '/.well-known/brski/rv', { payload: pvr.bytes, contentFormat: 60 })).status, 415);
      assert.equal((await conn.request('POST', '/.well-known/brski/rv', { payload: pvr.bytes, contentFormat: 836 }, 281)).status, 406);
      // Proximity: a request naming another registrar certificate.
      const elsewhere = await createConstrainedPledgeVoucherRequest({ signer: device.signer, idevid: device.chain, registrarCertificate: domain.lwm2mServerCert.der });
      const prox = await conn.request('POST', '/.well-known/brski/rv', { payload: elsewhere.bytes, contentFormat: 836 });
      assert.equal(prox.status, 403);
      assert.equal(diagnosticCode(prox.payload), 'ERR_ONBOARDING_PROXIMITY_MISMATCH');
      // Status telemetry that is neither JSON nor CBOR.
      assert.equal((await conn.request('POST', '/.well-known/brski/vs', { payload: new Uint8Array([1]), contentFormat: 0 })).status, 415);
    } finally {
      await conn.close();
    }
  });

  it('a relayed request of another device is refused (identity mismatch, 4.03)', async () => {
    const a = deviceOf(await world.mint('RELAY-A'));
    const b = deviceOf(await world.mint('RELAY-B'));
    const conn = await connect(a);
    try {
      const pvrOfB = await createConstrainedPledgeVoucherRequest({ signer: b.signer, idevid: b.chain, registrarCertificate: conn.serverChain[0]! });
      const ex = await conn.request('POST', '/.well-known/brski/rv', { payload: pvrOfB.bytes, contentFormat: 836 });
      assert.equal(ex.status, 403);
      assert.equal(diagnosticCode(ex.payload), 'ERR_REGISTRAR_IDENTITY_MISMATCH');
    } finally {
      await conn.close();
    }
  });

  it('re-enrolls over /est/sren with the LDevID as DTLS client certificate', async () => {
    const dir = await world.mint('SREN-1');
    const result = await runCoapsPledge({ idevidDir: dir, registrarUrl: url });
    const conn = await openCoapsRegistrar({ host: '127.0.0.1', port: server.address.port, certificate: { signer: keyObjectSigner(result.key), chain: result.ldevid.chain }, trustAnchors: [result.domainCa.der] });
    try {
      // Renewal with the same key and the same subject (RFC 7030 §4.2.2).
      const csr = await createCsr({ signer: keyObjectSigner(result.key), subject: result.ldevid.certificate.subjectRdns.map((rdn) => rdn.map((a) => ({ type: a.type, value: a.value }))) });
      const ex = await conn.request('POST', '/est/sren', { payload: csr, contentFormat: 286 }, 287);
      assert.equal(ex.status, 204, Buffer.from(ex.payload).toString());
      assert.equal(ex.contentFormat, 287);
      const renewed = parseCertificate(ex.payload);
      assert.equal(renewed.subject, result.ldevid.certificate.subject);
      assert.notEqual(renewed.serialNumber, result.ldevid.certificate.serialNumber);
      const cred = await domain.store.devices.findCredential('x509', result.endpoint!);
      assert.ok(sameBytes(cred?.material, renewed.der));
    } finally {
      await conn.close();
    }
  });
});

describe('BRSKI over CoAPs with operator approval', () => {
  let world: World;
  let domain: Domain;
  let server: RegistrarCoapsServer;

  before(async () => {
    world = await createWorld();
    domain = await startDomain(world.t, 'manual', {
      masaClient: world.inProcessMasa,
      masaUrl: 'https://masa.example.com',
      overrides: { policy: { approval: 'manual', retryAfterSeconds: 7 }, constrainedMasaClient: inProcessConstrainedMasaClient(world.masa.masa) },
    });
    server = await startRegistrarCoaps({ host: '127.0.0.1', port: 0, registrar: domain.registrar, identity: { signer: domain.registrarKey.signer, chain: [domain.registrarCert.der, domain.ca.certificate.der] } });
  });

  after(async () => {
    await server?.close();
    await domain?.close();
    await world?.close();
  });

  it('answers 5.03 with Max-Age while pending, then the voucher once the operator approved', async () => {
    const dir = await world.mint('WAIT-1');
    const waits: number[] = [];
    let approved = false;
    const result = await runCoapsPledge({
      idevidDir: dir,
      registrarUrl: `coaps://127.0.0.1:${server.address.port}`,
      maxPendingAttempts: 3,
      // Instead of sleeping Max-Age seconds, the operator approves in the meantime.
      sleep: async () => {
        if (!approved) {
          await domain.registrar.approve('WAIT-1', 'operator:test');
          approved = true;
        }
      },
      onStep: (s, d) => {
        if (s === 'pending') waits.push(Number(d.retryAfterSeconds));
      },
    });
    assert.deepEqual(waits, [7]);
    assert.equal(result.serialNumber, 'WAIT-1');
    assert.equal((await domain.store.devices.get(result.endpoint!))?.ownershipState, 'RFPRO');
    const pending = (await domain.store.audit.list({ action: 'registrar.voucher.request', limit: 1000 })).find((e) => e.details.pending === true);
    assert.equal(pending?.subject, 'WAIT-1');
  });
});

describe('BRSKI over CoAPs without a constrained MASA client', () => {
  let world: World;
  let domain: Domain;
  let server: RegistrarCoapsServer;

  before(async () => {
    world = await createWorld();
    // Only the CMS MASA client: constrained requests cannot get a COSE voucher.
    domain = await startDomain(world.t, 'cms-only', { masaClient: world.inProcessMasa, masaUrl: 'https://masa.example.com', overrides: { policy: { approval: 'automatic' } } });
    server = await startRegistrarCoaps({ host: '127.0.0.1', port: 0, registrar: domain.registrar, identity: { signer: domain.registrarKey.signer, chain: [domain.registrarCert.der, domain.ca.certificate.der] } });
  });

  after(async () => {
    await server?.close();
    await domain?.close();
    await world?.close();
  });

  it('answers 5.02 ERR_REGISTRAR_MASA_FAILED, audited, and the pledge reports the code', async () => {
    const dir = await world.mint('NOMASA-1');
    await assert.rejects(runCoapsPledge({ idevidDir: dir, registrarUrl: `coaps://127.0.0.1:${server.address.port}` }), (err: unknown) => {
      const e = err as { code?: string; status?: number; serverCode?: string };
      assert.equal(e.code, 'ERR_PLEDGE_PROTOCOL');
      assert.equal(e.status, 502);
      assert.equal(e.serverCode, 'ERR_REGISTRAR_MASA_FAILED');
      return true;
    });
    const last = (await domain.store.audit.list({ action: 'registrar.voucher.request', limit: 1000 })).at(-1);
    assert.equal(last?.subject, 'NOMASA-1');
    assert.equal(last?.outcome, 'deny');
    assert.equal(last?.details.code, 'ERR_REGISTRAR_MASA_FAILED');
    assert.equal(last?.details.format, 'cose');
  });
});
