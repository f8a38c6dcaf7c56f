/**
 * rootline's EST-coaps resources against RFC 9148's published example and registrations
 * (test/vectors/rfc9148/, see PROVENANCE.md): the §4.1 discovery answer to
 * GET /.well-known/core?rt=ace.est* lists the same targets, resource types and Content-Formats
 * for every operation rootline implements, the §8.1 Content-Format numbers are the ones used,
 * and the operations it does not implement (skg, skc) are not found. Plain CoAP on loopback:
 * only the resource layer is under test here (the DTLS listener has its own tests).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { CoapEndpoint, UdpTransport, parseLinkFormat, udpPeerKey, type Link } from '../../src/coap/index.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { EST_SHORT_NAMES, EstCoapsFormat, mountEstCoaps } from '../../src/onboarding/coaps/index.js';
import { createEstService } from '../../src/onboarding/est/service.js';
import { createRootCa } from '../../src/pki/index.js';

const VECTORS = join(import.meta.dirname, '..', 'vectors', 'rfc9148');
const example = readFileSync(join(VECTORS, 'discovery-response.txt'), 'utf8').replace(/\n/g, '');
const registry = JSON.parse(readFileSync(join(VECTORS, 'content-formats.json'), 'utf8')) as { formats: { mediaType: string; id: number }[]; shortNames: Record<string, string> };

function attr(link: Link, name: string): string | undefined {
  return link.attributes.find((a) => a.name === name)?.value;
}

describe('EST-coaps against RFC 9148', () => {
  let server: CoapEndpoint;
  let client: CoapEndpoint;
  let peer: string;

  before(async () => {
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=RFC 9148 test CA', validityDays: 1 });
    const est = createEstService({ ca, audit: { append: () => undefined }, authorize: () => ({ decision: 'reject', reason: 'not under test' }) });
    const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    server = new CoapEndpoint(transport);
    mountEstCoaps(server, { est, peerOf: () => ({ clientCertificates: [] }) });
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

  it('serves the example paths and the /.well-known/est ones alike (§4.1)', async () => {
    for (const base of ['/est', '/.well-known/est']) {
      const res = await client.request(peer, { method: 'GET', path: `${base}/crts`, accept: 287 });
      assert.equal(res.codeText, '2.05');
      assert.equal(res.contentFormat, 287);
    }
  });
});
