/**
 * The hand-written TBSCertificate encoder gives the bytes the schema library gives for the same
 * fields: names, times around the UTCTime/GeneralizedTime boundaries, serials, key types and
 * extensions (fast-check over all of them).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Name } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { positiveIntegerContent, toArrayBuffer } from '../../src/pki/der.js';
import { encodeAuthorityKeyIdentifier, encodeBasicConstraints, encodeKeyUsage, encodeSubjectAltNames, extension, masaUrlExtension } from '../../src/pki/extensions.js';
import { buildName } from '../../src/pki/name.js';
import { OID } from '../../src/pki/oids.js';
import { encodeTbs, encodeTbsBySchema, type TbsCertificateFields } from '../../src/pki/sign-certificate.js';
import { randomSerial } from '../../src/pki/serial.js';

const spki = (type: 'ec' | 'ed25519' | 'rsa'): Uint8Array => {
  const pair = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 1024 });
  return new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' }));
};
const ES256 = new AlgorithmIdentifier({ algorithm: OID.ecdsaWithSha256 });
const ED25519 = new AlgorithmIdentifier({ algorithm: OID.ed25519 });

function both(fields: TbsCertificateFields, algorithm = ES256): void {
  assert.deepStrictEqual(Buffer.from(encodeTbs(fields, algorithm)).toString('hex'), Buffer.from(encodeTbsBySchema(fields, algorithm)).toString('hex'));
}

const keys = { ec: spki('ec'), ed25519: spki('ed25519'), rsa: spki('rsa') };
const issuer = buildName('CN=Issuer CA,O=Rootline,C=DE');

function base(): TbsCertificateFields {
  return {
    serialContent: randomSerial(),
    issuer,
    subject: buildName('CN=device-1,serialNumber=SN 1'),
    notBefore: new Date(Date.UTC(2026, 10, 22, 10, 0, 0, 123)),
    notAfter: new Date(Date.UTC(2027, 10, 22, 10, 0, 0)),
    publicKey: keys.ec,
    extensions: [
      extension(OID.basicConstraints, true, encodeBasicConstraints(false, undefined)),
      extension(OID.keyUsage, true, encodeKeyUsage(['digitalSignature'], 'ku')),
      extension(OID.authorityKeyIdentifier, false, encodeAuthorityKeyIdentifier(new Uint8Array(20).fill(7))),
    ],
  };
}

describe('hand-written TBSCertificate encoder', () => {
  it('matches the schema library for the certificates the CA writes', () => {
    both(base());
    both(base(), ED25519);
    both({ ...base(), publicKey: keys.ed25519 });
    both({ ...base(), publicKey: keys.rsa });
    both({ ...base(), extensions: [] });
    both({ ...base(), subject: new Name(), extensions: [extension(OID.subjectAltName, true, encodeSubjectAltNames({ dns: ['a.example'], ip: ['::1'] }, 'san')!)] });
    both({ ...base(), extensions: [...base().extensions, extension(OID.basicConstraints, true, encodeBasicConstraints(true, 3)), extension(masaUrlExtension('https://m.example/').oid, false, masaUrlExtension('https://m.example/').value), extension('1.2.3.4.5.6.7.8.9.4294967296.18446744073709551616', true, Uint8Array.from([5, 0]))] });
    // A subject copied from a CSR, as the CA does (parsed from its DER).
    const csrSubject = AsnConvert.parse(toArrayBuffer(new Uint8Array(AsnConvert.serialize(buildName({ CN: 'Ünïcødé', O: 'x' })))), Name);
    both({ ...base(), subject: csrSubject });
    both({ ...base(), serialContent: Uint8Array.from([0]) });
    both({ ...base(), serialContent: Uint8Array.from([0, 0x80, 1]) });
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050 (and before 1950) as the schema library does', () => {
    for (const t of [
      Date.UTC(1949, 11, 31, 23, 59, 59, 999),
      Date.UTC(1950, 0, 1),
      Date.UTC(1999, 11, 31, 23, 59, 59),
      Date.UTC(2000, 0, 1),
      Date.UTC(2049, 11, 31, 23, 59, 59, 999),
      Date.UTC(2050, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59),
      Date.UTC(1000, 0, 1),
      Date.UTC(999, 5, 6, 7, 8, 9),
    ]) {
      both({ ...base(), notBefore: new Date(t), notAfter: new Date(t + 1500) });
    }
  });

  it('fast-check: random fields encode alike', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 20 }),
        fc.integer({ min: Date.UTC(0, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }),
        fc.integer({ min: Date.UTC(0, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }),
        fc.array(fc.tuple(fc.array(fc.nat({ max: 100000 }), { minLength: 1, maxLength: 6 }), fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 300 })), { maxLength: 6 }),
        fc.constantFrom<'ec' | 'ed25519' | 'rsa'>('ec', 'ed25519', 'rsa'),
        (serial, a, b, exts, key) => {
          const seen = new Set<string>();
          const extensions = exts
            .map(([arcs, critical, value]) => ({ oid: `1.3.${arcs.join('.')}`, critical, value }))
            .filter((e) => (seen.has(e.oid) ? false : (seen.add(e.oid), true)))
            .map((e) => extension(e.oid, e.critical, e.value));
          both({ ...base(), serialContent: positiveIntegerContent(serial), notBefore: new Date(a), notAfter: new Date(b), extensions, publicKey: keys[key] });
        },
      ),
      { numRuns: 400 },
    );
  });
});
