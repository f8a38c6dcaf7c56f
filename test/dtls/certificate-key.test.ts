/**
 * publicKeyFromCertificate reads the key with a strict DER walk instead of an X509Certificate:
 * differential against X509Certificate on real certificates of every key type (P-256 and Ed25519
 * accepted with the same key; P-384 and RSA refused by the key type check as before), and fuzzed
 * certificates give ERR_DTLS_BAD_CERTIFICATE or exactly the key X509Certificate finds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { publicKeyFromCertificate } from '../../src/dtls/key-exchange.js';
import { isRootlineError } from '../../src/errors.js';
import { makeCertificate, type KeyKind } from '../crypto/certificate-der-builder.js';
import { selfSigned } from './helpers.js';

const bad = (e: unknown) => isRootlineError(e, 'ERR_DTLS_BAD_CERTIFICATE');

/** What the X509Certificate-based reader did: its key if P-256 or Ed25519, else undefined. */
function oldReader(der: Uint8Array) {
  let key;
  try {
    key = new X509Certificate(Buffer.from(der)).publicKey;
  } catch {
    return undefined;
  }
  const ok = (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') || key.asymmetricKeyType === 'ed25519';
  return ok ? key : undefined;
}

describe('publicKeyFromCertificate (DER walk)', () => {
  for (const kind of ['p256', 'ed25519'] as KeyKind[]) {
    it(`${kind}: the key X509Certificate gives`, () => {
      const { der, publicKey } = makeCertificate(kind);
      const key = publicKeyFromCertificate(der);
      assert.ok(key.equals(new X509Certificate(Buffer.from(der)).publicKey));
      assert.ok(key.equals(publicKey));
    });
  }

  for (const kind of ['p384', 'rsa'] as KeyKind[]) {
    it(`${kind}: refused by the key type check, as before`, () => {
      const { der } = makeCertificate(kind);
      assert.ok(new X509Certificate(Buffer.from(der)).publicKey);
      assert.throws(() => publicKeyFromCertificate(der), (e) => bad(e) && /not P-256 or Ed25519/.test((e as Error).message));
    });
  }

  it('the platform’s own certificates (the DTLS test helper’s)', async () => {
    for (let i = 0; i < 5; i++) {
      const { der, signer } = await selfSigned(`walk-${i}`, i * 7);
      const key = publicKeyFromCertificate(der);
      assert.ok(key.equals(new X509Certificate(Buffer.from(der)).publicKey));
      assert.deepEqual(new Uint8Array(key.export({ type: 'spki', format: 'der' })), new Uint8Array(signer.publicKey));
    }
  });

  it('a point off the curve is a bad certificate, as before', () => {
    const { der, publicKey } = makeCertificate('p256');
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const at = Buffer.from(der).indexOf(spki) + spki.length - 1;
    const m = Uint8Array.from(der);
    m[at]! ^= 1;
    assert.throws(() => new X509Certificate(Buffer.from(m)).publicKey);
    assert.throws(() => publicKeyFromCertificate(m), bad);
  });

  it('fuzz: edited certificates give ERR_DTLS_BAD_CERTIFICATE or the key X509Certificate gives', () => {
    const certs = (['p256', 'ed25519', 'p384', 'rsa'] as KeyKind[]).map((k) => makeCertificate(k).der);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: certs.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'delete', 'insert'), (c, pos, byte, op) => {
        const der = certs[c]!;
        const at = pos % der.length;
        const m = Uint8Array.from(der);
        if (op === 'set') m[at] = byte;
        const input = op === 'delete' ? Buffer.concat([m.subarray(0, at), m.subarray(at + 1)]) : op === 'insert' ? Buffer.concat([m.subarray(0, at), Uint8Array.of(byte), m.subarray(at)]) : m;
        let key;
        try {
          key = publicKeyFromCertificate(input);
        } catch (e) {
          assert.ok(bad(e), String(e));
          return;
        }
        const old = oldReader(input);
        assert.ok(old !== undefined && old.equals(key));
      }),
      { numRuns: 4000 },
    );
  });
});
