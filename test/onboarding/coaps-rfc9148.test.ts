/**
 * rootline's EST-coaps resources against RFC 9148's published examples and registrations
 * (test/vectors/rfc9148/, see PROVENANCE.md): the §4.1 discovery answer to
 * GET /.well-known/core?rt=ace.est* lists the same targets, resource types and Content-Formats
 * for every operation rootline implements, the §8.1 Content-Format numbers are the ones used,
 * the operations it does not implement (skg, skc) are not found, and the Appendix A payloads
 * (A.1 certs-only, A.2 CSR and its certs-only answer, A.4 CsrAttrs) are read by the same codecs
 * the resources use. Plain CoAP on loopback: only the resource layer is under test here (the
 * DTLS listener has its own tests); the "DTLS client certificate" is whatever peerOf says.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { CoapEndpoint, UdpTransport, parseLinkFormat, udpPeerKey, type Link } from '../../src/coap/index.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { EST_SHORT_NAMES, EstCoapsFormat, mountEstCoaps } from '../../src/onboarding/coaps/index.js';
import { encodeBase64Body } from '../../src/onboarding/est/base64-body.js';
import { decodeCertsOnly } from '../../src/onboarding/est/certs-only.js';
import { CSR_ATTR_OID, decodeCsrAttrs } from '../../src/onboarding/est/csr-attrs.js';
import { decodePkcs10Body } from '../../src/onboarding/est/pkcs10-body.js';
import { createEstService } from '../../src/onboarding/est/service.js';
import { createRootCa, parseCertificate } from '../../src/pki/index.js';

const VECTORS = join(import.meta.dirname, '..', 'vectors', 'rfc9148');
const example = readFileSync(join(VECTORS, 'discovery-response.txt'), 'utf8').replace(/\n/g, '');
function hexVector(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(join(VECTORS, name), 'utf8').replace(/\s/g, ''), 'hex'));
}

const registry = JSON.parse(readFileSync(join(VECTORS, 'content-formats.json'), 'utf8')) as { formats: { mediaType: string; id: number }[]; shortNames: Record<string, string> };

function attr(link: Link, name: string): string | undefined {
  return link.attributes.find((a) => a.name === name)?.value;
}

describe('EST-coaps against RFC 9148', () => {
  let server: CoapEndpoint;
  let client: CoapEndpoint;
  let peer: string;
  let authenticated = true;
  const audit: { action: string; outcome: string; details?: Record<string, unknown> }[] = [];

  before(async () => {
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=RFC 9148 test CA', validityDays: 1 });
    // Any client is let through to the CSR checks: what is under test is the request handling.
    const est = createEstService({ ca, audit: { append: (e) => void audit.push(e) }, authorize: () => ({ decision: 'accept', subject: 'CN=rfc9148' }) });
    const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    server = new CoapEndpoint(transport);
    // The client certificate stands in for a DTLS one (the CA's own: it only has to parse).
    mountEstCoaps(server, { est, audit: { append: (e) => void audit.push(e) }, peerOf: () => ({ clientCertificates: authenticated ? [ca.certificate.der] : [] }) });
    // Something else on the endpoint, which the rt filter must leave out.
    server.resource('/other', { get: () => ({ payload: 'x' }), attributes: { rt: 'brski.rv' } });
    client = new CoapEndpoint(await UdpTransport.bind({ address: '127.0.0.1', port: 0 }));
    peer = udpPeerKey('127.0.0.1', transport.local.port);
  });

  after(async () => {
    await client?.close();
    await server?.close();
  });

  it('uses the Content-Format numbers of RFC 9148 §8.1', () => {
    const id = (type: string) => registry.formats.find((f) => f.mediaType === type)?.id;
    assert.equal(EstCoapsFormat.CertsOnly, id('application/pkcs7-mime; smime-type=certs-only'));
    assert.equal(EstCoapsFormat.CsrAttrs, id('application/csrattrs'));
    assert.equal(EstCoapsFormat.Pkcs10, id('application/pkcs10'));
    assert.equal(EstCoapsFormat.PkixCert, id('application/pkix-cert'));
    for (const [op, short] of Object.entries(EST_SHORT_NAMES)) assert.equal(short, registry.shortNames[op], op);
  });

  it('answers the §4.1 discovery request like the RFC example for every implemented operation', async () => {
    const res = await client.request(peer, { method: 'GET', path: '/.well-known/core', query: ['rt=ace.est*'] });
    assert.equal(res.codeText, '2.05');
    assert.equal(res.contentFormat, 40);
    const ours = parseLinkFormat(Buffer.from(res.payload).toString('utf8'));
    const theirs = parseLinkFormat(example);
    const implemented = theirs.filter((l) => !['ace.est.skg', 'ace.est.skc'].includes(attr(l, 'rt')!));
    assert.equal(implemented.length, 4);
    for (const link of implemented) {
      const mine = ours.find((l) => l.target === link.target);
      assert.ok(mine !== undefined, `${link.target} is listed`);
      assert.equal(attr(mine, 'rt'), attr(link, 'rt'), link.target);
      assert.equal(attr(mine, 'ct'), attr(link, 'ct'), link.target);
    }
    // Nothing but ace.est.* passes the filter.
    assert.deepEqual(ours.map((l) => attr(l, 'rt')).sort(), implemented.map((l) => attr(l, 'rt')).sort());
  });

  it('does not implement skg / skc: 4.04', async () => {
    for (const short of ['skg', 'skc']) assert.equal((await client.request(peer, { method: 'POST', path: `/est/${short}`, payload: new Uint8Array([0x30, 0x00]), contentFormat: 286 })).codeText, '4.04');
  });

  it('reads the Appendix A payloads with the codecs the resources use', () => {
    // A.1: the /crts answer, certs-only with the example Root CA.
    const crts = decodeCertsOnly(hexVector('a1-crts-response.hex'));
    assert.equal(crts.length, 1);
    assert.match(parseCertificate(crts[0]!).subject, /CN=Root CA/);
    // A.2: the CSR (its self-signature verifies) and the certs-only answer certifying its key.
    const csr = decodePkcs10Body(encodeBase64Body(hexVector('a2-sen-request.hex')));
    assert.match(csr.subject, /serialNumber=Wt1234/);
    assert.ok(csr.challengePassword !== undefined, 'the example links the CSR to its DTLS session');
    const issued = decodeCertsOnly(hexVector('a2-sen-response.hex')).map((c) => parseCertificate(c));
    assert.equal(issued.length, 1);
    assert.ok(Buffer.from(issued[0]!.publicKey).equals(Buffer.from(csr.publicKey)));
    assert.match(issued[0]!.issuer, /CN=802\.1AR CA/);
    // A.4: CsrAttrs in binary (RFC 7030 §A.2's example), challengePassword among them.
    const attrs = decodeCsrAttrs(hexVector('a4-att-response.hex'));
    assert.ok(attrs.some((a) => 'oid' in a && a.oid === CSR_ATTR_OID.challengePassword));
  });

  it('takes the A.2 request as sent (286, Accept 281) and refuses its channel binding, which DTLS here cannot check (4.00)', async () => {
    const res = await client.request(peer, { method: 'POST', path: '/est/sen', payload: hexVector('a2-sen-request.hex'), contentFormat: 286, accept: 281 });
    // RFC 7030 §3.5: "If tls-unique information is included by the client, the server MUST verify
    // it"; src/dtls does not expose the Finished value, so the request is refused, not half-trusted.
    assert.equal(res.codeText, '4.00');
    assert.match(Buffer.from(res.payload).toString(), /^ERR_EST_CHANNEL_BINDING:/);
    assert.equal(audit.at(-1)?.action, 'est.simpleenroll');
    assert.equal(audit.at(-1)?.outcome, 'deny');
  });

  it('requires an authenticated client for every function, /crts and /att too (RFC 9148 §4): 4.01, audited', async () => {
    authenticated = false;
    try {
      for (const [path, action] of [['/est/crts', 'est.cacerts'], ['/est/att', 'est.csrattrs']] as const) {
        const res = await client.request(peer, { method: 'GET', path });
        assert.equal(res.codeText, '4.01', path);
        assert.equal(audit.at(-1)?.action, action);
        assert.equal(audit.at(-1)?.outcome, 'deny');
      }
    } finally {
      authenticated = true;
    }
  });

  it('serves the example paths and the /.well-known/est ones alike (§4.1)', async () => {
    for (const base of ['/est', '/.well-known/est']) {
      const res = await client.request(peer, { method: 'GET', path: `${base}/crts`, accept: 287 });
      assert.equal(res.codeText, '2.05');
      assert.equal(res.contentFormat, 287);
    }
  });
});
