/**
 * EST codecs against the RFC 7030 example and the real openssl: our certs-only CMS is read by
 * `openssl pkcs7`, openssl's `crl2pkcs7` output is read by us, base64 bodies tolerate line breaks
 * and nothing else, CSR attributes decode the RFC's own example.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBase64Body, encodeBase64Body } from '../../../src/onboarding/est/base64-body.js';
import { decodeCertsOnly, encodeCertsOnly } from '../../../src/onboarding/est/certs-only.js';
import { CSR_ATTR_OID, decodeCsrAttrs, encodeCsrAttrs, oidValue } from '../../../src/onboarding/est/csr-attrs.js';
import { decodePkcs10Body } from '../../../src/onboarding/est/pkcs10-body.js';
import { derSequence, derTlv } from '../../../src/pki/der.js';
import { decodePem, encodePem } from '../../../src/pki/pem.js';
import { createPki, forgeCsr, mintDevice, opensslSkip, p256, run, tempDir, type Pki, type TempDir } from './helpers.js';

const code = (c: string) => (err: unknown) => (err as { code?: string })?.code === c;

describe('base64 bodies (RFC 7030, RFC 8951 §3)', () => {
  const der = Uint8Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff);

  it('encodes in CRLF lines of 76 characters and decodes with or without the line breaks', () => {
    const body = encodeBase64Body(der);
    const lines = body.split('\r\n');
    assert.equal(lines.at(-1), '');
    assert.ok(lines.slice(0, -1).every((l) => l.length <= 76 && l.length > 0));
    assert.equal(lines[0]!.length, 76);
    assert.deepEqual(decodeBase64Body(body), der);
    assert.deepEqual(decodeBase64Body(body.replace(/\r\n/g, '')), der);
    assert.deepEqual(decodeBase64Body(body.replace(/\r\n/g, '\n')), der);
    assert.deepEqual(decodeBase64Body(Buffer.from(body)), der);
  });

  it('refuses PEM, binary DER, other text, bad padding and non-canonical bits with a clear error', () => {
    assert.throws(() => decodeBase64Body(encodePem('CERTIFICATE REQUEST', der)), (e: Error) => code('ERR_EST_MALFORMED_BODY')(e) && /PEM/.test(e.message));
    assert.throws(() => decodeBase64Body(Uint8Array.of(0x30, 0x82, 0x01, 0x0a)), (e: Error) => code('ERR_EST_MALFORMED_BODY')(e) && /binary/.test(e.message));
    assert.throws(() => decodeBase64Body('{"csr":"x"}'), (e: Error) => code('ERR_EST_MALFORMED_BODY')(e) && /not base64/.test(e.message));
    assert.throws(() => decodeBase64Body(''), (e: Error) => code('ERR_EST_MALFORMED_BODY')(e) && /empty/.test(e.message));
    assert.throws(() => decodeBase64Body('QUJD='), code('ERR_EST_MALFORMED_BODY'));
    assert.throws(() => decodeBase64Body('QQ=A'), code('ERR_EST_MALFORMED_BODY'));
    assert.throws(() => decodeBase64Body('QR=='), (e: Error) => code('ERR_EST_MALFORMED_BODY')(e) && /canonical/.test(e.message));
    assert.throws(() => decodeBase64Body(encodeBase64Body(der), { maxLength: 100 }), (e: Error) => code('ERR_EST_MALFORMED_BODY')(e) && /longer/.test(e.message));
  });
});

describe('CSR attributes (RFC 7030 §4.5.2)', () => {
  it('decodes the example of RFC 7030 §4.5.2 and encodes it back byte for byte', () => {
    // RFC 7030 §4.5.2 example: challengePassword, id-ecPublicKey with secp384r1, extensionRequest
    // asking for macAddress (1.3.6.1.1.1.1.22), ecdsa-with-SHA384.
    const example = 'MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJ\nBgcrBgEBAQEWBggqhkjOPQQDAw==';
    const der = decodeBase64Body(example);
    const attrs = decodeCsrAttrs(der);
    assert.deepEqual(attrs, [
      { oid: '1.2.840.113549.1.9.7' },
      { type: '1.2.840.10045.2.1', values: [oidValue('1.3.132.0.34')] },
      { type: '1.2.840.113549.1.9.14', values: [oidValue('1.3.6.1.1.1.1.22')] },
      { oid: '1.2.840.10045.4.3.3' },
    ]);
    assert.deepEqual(encodeCsrAttrs(attrs), der);
  });

  it('round-trips large arcs and refuses malformed input', () => {
    const attrs = [{ oid: '2.999.18446744073709551616' }, { type: CSR_ATTR_OID.ecPublicKey, values: [oidValue(CSR_ATTR_OID.prime256v1)] }];
    assert.deepEqual(decodeCsrAttrs(encodeCsrAttrs(attrs)), attrs);
    assert.throws(() => decodeCsrAttrs(Uint8Array.of(0x31, 0x00)), code('ERR_EST_MALFORMED_CSRATTRS'));
    assert.throws(() => decodeCsrAttrs(Uint8Array.of(0x30, 0x03, 0x06, 0x01, 0x80)), code('ERR_EST_MALFORMED_CSRATTRS'));
    assert.throws(() => decodeCsrAttrs(Uint8Array.of(0x30, 0x05, 0x30, 0x03, 0x06, 0x01, 0x2a)), code('ERR_EST_MALFORMED_CSRATTRS'));
    // An Attribute with an empty SET violates SIZE(1..MAX).
    assert.throws(() => decodeCsrAttrs(Uint8Array.of(0x30, 0x07, 0x30, 0x05, 0x06, 0x01, 0x2a, 0x31, 0x00)), code('ERR_EST_MALFORMED_CSRATTRS'));
    assert.throws(() => decodeCsrAttrs(Uint8Array.of(0x30, 0x00, 0x00)), code('ERR_EST_MALFORMED_CSRATTRS'));
    assert.throws(() => encodeCsrAttrs([{ oid: '3.1' }]), code('ERR_INVALID_ARGUMENT'));
  });
});

describe('certs-only CMS and PKCS#10 bodies with openssl', { skip: opensslSkip }, () => {
  let pki: Pki;
  let dir: TempDir;
  before(async () => {
    pki = await createPki();
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it('openssl pkcs7 -print_certs reads our certs-only SignedData', async () => {
    const device = await mintDevice(pki.manufacturer, 'SN-CMS-1');
    const der = encodeCertsOnly([pki.domain.certificate.der, device.cert.pem]);
    dir.write('ours.p7b', der);
    const r = await run('openssl', ['pkcs7', '-inform', 'DER', '-in', 'ours.p7b', '-print_certs', '-noout'], dir.path);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /subject=CN ?= ?Example Domain CA, ?O ?= ?Example Operator/);
    assert.match(r.stdout, /subject=CN ?= ?Acme Sensor, ?O ?= ?Acme, ?serialNumber ?= ?SN-CMS-1/);
    // The same bytes decode back to exactly the certificates given (order is the SET's).
    const back = decodeCertsOnly(der).map((c) => Buffer.from(c).toString('hex')).sort();
    assert.deepEqual(back, [pki.domain.certificate.der, device.cert.der].map((c) => Buffer.from(c).toString('hex')).sort());
  });

  it('decodes what openssl crl2pkcs7 -nocrl writes', async () => {
    const device = await mintDevice(pki.manufacturer, 'SN-CMS-2');
    dir.write('a.pem', device.cert.pem);
    dir.write('b.pem', pki.manufacturer.state.certificate);
    const r = await run('openssl', ['crl2pkcs7', '-nocrl', '-certfile', 'a.pem', '-certfile', 'b.pem', '-outform', 'DER', '-out', 'theirs.p7b'], dir.path);
    assert.equal(r.status, 0, r.stderr);
    const certs = decodeCertsOnly(new Uint8Array(readFileSync(join(dir.path, 'theirs.p7b'))));
    assert.equal(certs.length, 2);
    assert.ok(certs.some((c) => Buffer.from(c).equals(Buffer.from(device.cert.der))));
  });

  it('refuses signed content, trailing bytes and other structures', () => {
    const der = encodeCertsOnly([pki.domain.certificate.der]);
    const oid = (hex: string) => derTlv(0x06, Buffer.from(hex, 'hex'));
    const signedData = (signerInfos: Uint8Array, encap = derSequence(oid('2a864886f70d010701'))) =>
      derSequence(oid('2a864886f70d010702'), derTlv(0xa0, derSequence(derTlv(0x02, Uint8Array.of(1)), derTlv(0x31, new Uint8Array(0)), encap, derTlv(0xa0, pki.domain.certificate.der), signerInfos)));
    // The hand-built degenerate form is exactly what the encoder writes.
    assert.deepEqual(signedData(derTlv(0x31, new Uint8Array(0))), der);
    assert.throws(() => decodeCertsOnly(signedData(derTlv(0x31, derTlv(0x05, new Uint8Array(0))))), (e: Error) => code('ERR_EST_MALFORMED_PKCS7')(e) && /signerInfos/.test(e.message));
    const withContent = derSequence(oid('2a864886f70d010701'), derTlv(0xa0, derTlv(0x04, Uint8Array.of(1))));
    assert.throws(() => decodeCertsOnly(signedData(derTlv(0x31, new Uint8Array(0)), withContent)), (e: Error) => code('ERR_EST_MALFORMED_PKCS7')(e) && /content/.test(e.message));
    assert.throws(() => decodeCertsOnly(der.subarray(0, der.length - 1)), code('ERR_EST_MALFORMED_PKCS7'));
    assert.throws(() => decodeCertsOnly(Uint8Array.from([...der, 0])), code('ERR_EST_MALFORMED_PKCS7'));
    assert.throws(() => decodeCertsOnly(pki.domain.certificate.der), code('ERR_EST_MALFORMED_PKCS7'));
  });

  it('accepts an openssl req CSR as base64 with line breaks, and refuses a CSR whose signature does not verify', async () => {
    const key = p256();
    dir.write('k.pem', key.keyPem);
    const r = await run('openssl', ['req', '-new', '-key', 'k.pem', '-subj', '/CN=from-openssl', '-outform', 'DER', '-out', 'req.der'], dir.path);
    assert.equal(r.status, 0, r.stderr);
    const der = new Uint8Array(readFileSync(join(dir.path, 'req.der')));
    const csr = decodePkcs10Body(encodeBase64Body(der));
    assert.equal(csr.subject, 'CN=from-openssl');
    // Signed by another key than the one it carries: no proof of possession.
    const other = p256();
    const forged = await forgeCsr(key, other, 'CN=forged');
    assert.throws(() => decodePkcs10Body(encodeBase64Body(forged)), (e: Error) => code('ERR_EST_BAD_CSR')(e) && /signature/.test(e.message));
    assert.throws(() => decodePkcs10Body(encodeBase64Body(Uint8Array.of(0x30, 0x00))), code('ERR_EST_BAD_CSR'));
    assert.throws(() => decodePkcs10Body(encodePem('CERTIFICATE REQUEST', der)), code('ERR_EST_MALFORMED_BODY'));
    assert.deepEqual(decodePem(encodePem('CERTIFICATE REQUEST', der), 'CERTIFICATE REQUEST'), der);
  });
});
