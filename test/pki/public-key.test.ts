/** Raw public keys (RFC 7250): extraction, the P-256 check and fingerprints, against openssl. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RootlineError } from '../../src/errors.js';
import { createRootCa, type CertificateAuthority } from '../../src/pki/certificate-authority.js';
import { encodePem } from '../../src/pki/pem.js';
import { assertP256PublicKey, decodePublicKeyPem, extractRawPublicKey, parsePublicKey, publicKeyFingerprint } from '../../src/pki/public-key.js';
import { p256Signer } from './forge.js';
import { openssl, opensslSkip, tempDir, type TempDir } from './openssl.js';

const code = (c: string) => (err: unknown) => err instanceof RootlineError && err.code === c;

describe('raw public keys', { skip: opensslSkip }, () => {
  let dir: TempDir;
  let ca: CertificateAuthority;
  before(async () => {
    dir = tempDir();
    ca = await createRootCa({ signer: p256Signer(), subject: 'CN=RPK', validityDays: 1 });
  });
  after(() => dir.cleanup());

  it('extracts the same SPKI from a certificate (DER, PEM), a PEM public key and SPKI DER', async () => {
    const device = p256Signer();
    const cert = await ca.issueCertificate({ subject: 'CN=rpk-device', publicKey: device.publicKey });
    const fromDer = extractRawPublicKey(cert.der);
    assert.deepEqual(fromDer, device.publicKey);
    assert.deepEqual(extractRawPublicKey(cert.pem), device.publicKey);
    assert.deepEqual(extractRawPublicKey(Buffer.from(cert.pem)), device.publicKey);
    assert.deepEqual(extractRawPublicKey(encodePem('PUBLIC KEY', device.publicKey)), device.publicKey);
    assert.deepEqual(extractRawPublicKey(device.publicKey), device.publicKey);
  });

  it('fingerprints equal SHA-256 of the DER openssl writes for the key', () => {
    const gen = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'k.pem'], dir.path);
    assert.equal(gen.status, 0, gen.stderr);
    const pub = openssl(['pkey', '-in', 'k.pem', '-pubout', '-out', 'pub.pem'], dir.path);
    assert.equal(pub.status, 0, pub.stderr);
    const der = openssl(['pkey', '-pubin', '-in', 'pub.pem', '-outform', 'DER', '-out', 'pub.der'], dir.path);
    assert.equal(der.status, 0, der.stderr);
    const spki = extractRawPublicKey(dir.read('pub.pem').toString());
    assert.deepEqual(Buffer.from(spki), dir.read('pub.der'));
    assert.equal(publicKeyFingerprint(spki), createHash('sha256').update(dir.read('pub.der')).digest('hex'));
    const dgst = openssl(['dgst', '-sha256', '-r', 'pub.der'], dir.path).stdout.split(' ')[0];
    assert.equal(publicKeyFingerprint(spki), dgst);
    assert.deepEqual(decodePublicKeyPem(dir.read('pub.pem')), spki);
    assert.equal(parsePublicKey(spki).algorithm, 'ec-p256');
    assert.equal(parsePublicKey(spki).subjectPublicKey.length, 65);
  });

  it('refuses keys that are not P-256 with ERR_PKI_UNSUPPORTED_KEY', () => {
    for (const [alg, opt] of [['ED25519', []], ['EC', ['-pkeyopt', 'ec_paramgen_curve:P-384']], ['RSA', ['-pkeyopt', 'rsa_keygen_bits:1024']]] as const) {
      const f = `${alg}-${opt.length}`;
      assert.equal(openssl(['genpkey', '-algorithm', alg, ...opt, '-out', `${f}.key`], dir.path).status, 0);
      assert.equal(openssl(['pkey', '-in', `${f}.key`, '-pubout', '-out', `${f}.pub`], dir.path).status, 0);
      const pem = dir.read(`${f}.pub`).toString();
      assert.throws(() => extractRawPublicKey(pem), code('ERR_PKI_UNSUPPORTED_KEY'), alg);
      assert.ok(publicKeyFingerprint(decodePublicKeyPem(pem)).length === 64);
    }
  });

  it('refuses malformed keys and points off the curve with ERR_PKI_MALFORMED_PUBLIC_KEY', () => {
    const spki = Buffer.from(p256Signer().publicKey);
    const offCurve = Buffer.from(spki);
    offCurve[offCurve.length - 1] ^= 0x01;
    assert.throws(() => assertP256PublicKey(offCurve), code('ERR_PKI_MALFORMED_PUBLIC_KEY'));
    const compressed = Buffer.from(spki);
    compressed[spki.length - 65] = 0x05;
    assert.throws(() => assertP256PublicKey(compressed), code('ERR_PKI_MALFORMED_PUBLIC_KEY'));
    assert.throws(() => extractRawPublicKey(Uint8Array.of(0x30, 0x00)), code('ERR_PKI_MALFORMED_PUBLIC_KEY'));
    assert.throws(() => extractRawPublicKey(encodePem('X509 CRL', Uint8Array.of(1))), code('ERR_PKI_MALFORMED_PUBLIC_KEY'));
    assert.throws(() => publicKeyFingerprint(Uint8Array.of(1, 2, 3)), code('ERR_PKI_MALFORMED_PUBLIC_KEY'));
    assert.throws(() => publicKeyFingerprint('x' as never), code('ERR_INVALID_ARGUMENT'));
  });
});
