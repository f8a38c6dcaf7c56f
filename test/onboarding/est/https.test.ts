/**
 * EST over real HTTPS on 127.0.0.1: fastify with provisional TLS client authentication and our
 * client, under TLS 1.2 (tls-unique) and TLS 1.3 (tls-exporter). Issued LDevIDs are checked with
 * `openssl verify` against the domain CA.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { estClient } from '../../../src/onboarding/est/client.js';
import { authorizeByManufacturer } from '../../../src/onboarding/est/authorize-manufacturer.js';
import { CSR_ATTR_OID } from '../../../src/onboarding/est/csr-attrs.js';
import { createCsr } from '../../../src/pki/create-csr.js';
import { encodePem } from '../../../src/pki/pem.js';
import { createPki, MemoryAudit, mintDevice, opensslSkip, p256, run, startEstServer, tempDir, type Device, type EstServer, type Pki, type TempDir } from './helpers.js';

const httpError = (status: number, serverCode: string) => (err: unknown) => {
  const e = err as { code?: string; status?: number; serverCode?: string };
  assert.equal(e.code, 'ERR_EST_HTTP', String(err));
  assert.equal(e.status, status, String(err));
  assert.equal(e.serverCode, serverCode, String(err));
  return true;
};

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  describe(`EST over HTTPS (${version})`, { skip: opensslSkip }, () => {
    let pki: Pki;
    let server: EstServer;
    let audit: MemoryAudit;
    let device: Device;
    let dir: TempDir;
    const pendingSerials = new Set<string>();
    before(async () => {
      pki = await createPki();
      device = await mintDevice(pki.manufacturer, 'SN-HTTPS-1');
      audit = new MemoryAudit();
      dir = tempDir();
      dir.write('domain-ca.pem', pki.domain.state.certificate);
      server = await startEstServer(
        pki,
        {
          audit,
          policy: { channelBinding: 'required' },
          authorize: authorizeByManufacturer({
            manufacturerCas: [pki.manufacturer.state.certificate],
            decide: (idevid) => {
              const serial = idevid.subjectRdns.flat().find((a) => a.type === 'serialNumber')!.value;
              // First request of a "PENDING-" pledge waits for approval; the next is accepted.
              if (serial.startsWith('PENDING-') && !pendingSerials.has(serial)) {
                pendingSerials.add(serial);
                return { decision: 'pending', retryAfterSeconds: 7, reason: 'awaiting operator approval' };
              }
              return { decision: 'accept', identity: serial };
            },
          }),
        },
        { maxVersion: version },
      );
    });
    after(async () => {
      await server.close();
      dir.cleanup();
    });

    const client = (d: Device, extra: Partial<Parameters<typeof estClient>[0]> = {}) =>
      estClient({ baseUrl: server.url, ca: pki.domain.state.certificate, clientCert: d.cert.pem, clientKey: d.key.keyPem, ...extra });

    it('serves cacerts and csrattrs, and enrolls an IDevID pledge for an LDevID that openssl verify accepts', async () => {
      const c = client(device);
      const cacerts = await c.cacerts();
      assert.deepEqual(cacerts, [pki.domain.certificate.der]);
      const attrs = await c.csrAttrs();
      assert.ok(attrs.some((a) => 'oid' in a && a.oid === CSR_ATTR_OID.challengePassword), 'binding required is advertised');
      const key = p256();
      const result = await c.simpleEnroll({ signer: key.signer, subject: 'CN=ignored' });
      assert.equal(result.parsed.subject, 'CN=SN-HTTPS-1,serialNumber=SN-HTTPS-1');
      assert.deepEqual(result.parsed.publicKey, key.signer.publicKey);
      assert.equal(result.chain.length, 2);
      assert.deepEqual(result.chain[1], pki.domain.certificate.der);
      dir.write('ldevid.pem', result.pem);
      const v = await run('openssl', ['verify', '-CAfile', 'domain-ca.pem', '-purpose', 'sslclient', 'ldevid.pem'], dir.path);
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stdout, /ldevid\.pem: OK/);
      // The manufacturer CA does not vouch for it: the LDevID is the domain's.
      dir.write('manufacturer-ca.pem', pki.manufacturer.state.certificate);
      const wrong = await run('openssl', ['verify', '-CAfile', 'manufacturer-ca.pem', 'ldevid.pem'], dir.path);
      assert.notEqual(wrong.status, 0);
      const e = audit.last();
      assert.equal(e.outcome, 'success');
      assert.equal(e.details!.channelBinding, version === 'TLSv1.3' ? 'tls-exporter' : 'tls-unique');
    });

    it('re-enrolls with the LDevID as TLS client certificate and refuses a subject change', async () => {
      const key = p256();
      const enrolled = await client(device).simpleEnroll({ signer: key.signer, subject: 'CN=x' });
      const ldevid: Device = { serial: device.serial, key, cert: { der: enrolled.certificate, pem: enrolled.pem, serialNumber: enrolled.parsed.serialNumber, certificate: enrolled.parsed } };
      const c = client(ldevid);
      const next = p256();
      const renewed = await c.simpleReenroll({ signer: next.signer, subject: enrolled.parsed.subjectRdns });
      assert.deepEqual(renewed.parsed.subjectDer, enrolled.parsed.subjectDer);
      assert.deepEqual(renewed.parsed.publicKey, next.signer.publicKey);
      await assert.rejects(c.simpleReenroll({ signer: next.signer, subject: 'CN=SN-OTHER,serialNumber=SN-OTHER' }), httpError(400, 'ERR_EST_REENROLL_MISMATCH'));
      assert.equal(audit.last().action, 'est.simplereenroll');
      assert.equal(audit.last().outcome, 'deny');
      // The IDevID cannot re-enroll: it is not a certificate of this CA.
      await assert.rejects(client(device).simpleReenroll({ signer: next.signer, subject: device.cert.certificate.subjectRdns }), httpError(403, 'ERR_EST_FORBIDDEN'));
    });

    it('refuses a pledge from an unknown manufacturer (403) and audits it', async () => {
      const rogue = await mintDevice(pki.rogue, 'SN-ROGUE-1');
      await assert.rejects(client(rogue).simpleEnroll({ signer: p256().signer, subject: 'CN=x' }), httpError(403, 'ERR_EST_FORBIDDEN'));
      const e = audit.last();
      assert.equal(e.outcome, 'deny');
      assert.equal(e.subject, 'SN-ROGUE-1');
      assert.match(String(e.details!.reason), /trusted manufacturer/);
    });

    it('refuses a CSR not bound to this session and one whose signature does not verify', async () => {
      // A CSR made beforehand carries no channel binding; policy requires one.
      const csr = await createCsr({ signer: p256().signer, subject: 'CN=x' });
      await assert.rejects(client(device).simpleEnroll(csr), httpError(400, 'ERR_EST_CHANNEL_BINDING'));
      await assert.rejects(client(device).simpleEnroll(encodePem('CERTIFICATE REQUEST', csr)), httpError(400, 'ERR_EST_CHANNEL_BINDING'));
    });

    it('honours 202 Retry-After: waits as told, repeats, and gets the certificate', async () => {
      const pledge = await mintDevice(pki.manufacturer, `PENDING-${version}`);
      const waits: number[] = [];
      const result = await client(pledge, { sleep: async (ms) => void waits.push(ms) }).simpleEnroll({ signer: p256().signer, subject: 'CN=x' });
      assert.deepEqual(waits, [7000]);
      assert.equal(result.parsed.subject, `CN=PENDING-${version},serialNumber=PENDING-${version}`);
      const pendingAudit = audit.entries.filter((e) => e.subject === `PENDING-${version}`);
      assert.deepEqual(pendingAudit.map((e) => e.outcome), ['deny', 'success']);
    });

    it('gives up with ERR_EST_PENDING when the wait is longer than the client accepts', async () => {
      const pledge = await mintDevice(pki.manufacturer, `PENDING-LONG-${version}`);
      await assert.rejects(client(pledge, { maxRetryAfterSeconds: 5, sleep: async () => assert.fail('must not wait') }).simpleEnroll({ signer: p256().signer, subject: 'CN=x' }), (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'ERR_EST_PENDING');
        assert.equal((err as { retryAfterSeconds?: number }).retryAfterSeconds, 7);
        return true;
      });
    });

    it('enrolls over a connection opened elsewhere (the pledge keeps its BRSKI connection) after checking the server against its trust anchor', async () => {
      const url = new URL(server.url);
      const provisional = () =>
        new Promise<TLSSocket>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port: Number(url.port), cert: device.cert.pem, key: device.key.keyPem, rejectUnauthorized: false, maxVersion: version });
          s.once('secureConnect', () => resolve(s)).once('error', reject);
        });
      let handshakes = 0;
      server.app.server.on('secureConnection', () => handshakes++);
      const socket = await provisional();
      const key = p256();
      const result = await client(device, { connection: socket }).simpleEnroll({ signer: key.signer, subject: 'CN=x' });
      assert.deepEqual(result.parsed.publicKey, key.signer.publicKey);
      assert.equal(audit.last().outcome, 'success');
      assert.equal(handshakes, 1, 'simpleenroll and cacerts on the given connection');
      assert.ok(socket.destroyed, 'the client closed it');
      // A trust anchor that does not vouch for the server: refused before anything is sent.
      const before = audit.entries.length;
      const other = await provisional();
      assert.throws(
        () => estClient({ baseUrl: server.url, ca: pki.manufacturer.state.certificate, clientCert: device.cert.pem, clientKey: device.key.keyPem, connection: other }),
        (err: unknown) => (err as { code?: string }).code === 'ERR_EST_UNTRUSTED_SERVER',
      );
      assert.ok(other.destroyed);
      assert.equal(audit.entries.length, before);
    });

    it('does not talk to a server its trust anchor does not vouch for', async () => {
      const c = estClient({ baseUrl: server.url, ca: pki.manufacturer.state.certificate, clientCert: device.cert.pem, clientKey: device.key.keyPem });
      await assert.rejects(c.cacerts(), (err: unknown) => (err as { code?: string }).code === 'ERR_EST_UNTRUSTED_SERVER');
    });
  });
}
