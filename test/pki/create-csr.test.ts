/**
 * The hand-written CertificationRequestInfo (src/pki/create-csr.ts `encodeInfo`) against the
 * schema library's encoding it stands in for: byte for byte, for P-256, P-384, Ed25519 and RSA
 * keys, every Name attribute kind buildName makes (UTF8String, PrintableString, IA5String,
 * multi-valued RDNs, long values with multi-byte lengths, the empty Name), the challengePassword
 * and extensionRequest attributes alone and together, and fast-check mixtures of them. The CSRs
 * createCsr makes still parse and verify (proof of possession).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import type { Signer } from '../../src/crypto/keystore/types.js';
import { createCsr, encodeInfo, encodeInfoBySchema, type CsrInfoFields } from '../../src/pki/create-csr.js';
import { extension, encodeKeyUsage, encodeSubjectAltNames } from '../../src/pki/extensions.js';
import { buildName, type DistinguishedNameInput } from '../../src/pki/name.js';
import { OID } from '../../src/pki/oids.js';
import { parseCsr, verifyCsr } from '../../src/pki/parse-csr.js';

const signers: Array<[string, Signer]> = [
  ['P-256', keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)],
  ['Ed25519', keyObjectSigner(generateKeyPairSync('ed25519').privateKey)],
];
/** Public keys only (the Signer type signs with ES256/EdDSA; the info encoding takes any SPKI). */
const otherKeys: Array<[string, Uint8Array]> = [
  ['P-384', new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'der', type: 'spki' }))],
  ['RSA', new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }))],
];

function agree(fields: CsrInfoFields): void {
  assert.deepEqual(Buffer.from(encodeInfo(fields)).toString('hex'), Buffer.from(encodeInfoBySchema(fields)).toString('hex'));
}

const subjects: DistinguishedNameInput[] = [
  [[{ type: 'serialNumber', value: 'SN-0001' }]],
  'CN=device 1,O=Example Ünïcode,C=DE',
  'CN=a+serialNumber=B2,DC=example,DC=com,emailAddress=a@example.com',
  [[{ type: 'CN', value: '日本語 ☃ 😀' }], [{ type: 'surname', value: 'x'.repeat(300) }]],
  [[{ type: '1.3.6.1.4.1.55555.1', value: 'private attribute' }]],
  [],
];

describe('createCsr: the hand-written CertificationRequestInfo', () => {
  const exts = [
    extension(OID.keyUsage, true, encodeKeyUsage(['digitalSignature'], 'ku')),
    extension(OID.subjectAltName, false, encodeSubjectAltNames({ dns: ['a.example', 'b.example'], ip: ['127.0.0.1'] }, 'san')!),
  ];
  const keys: Array<[string, Uint8Array]> = [...signers.map(([n, s]): [string, Uint8Array] => [n, s.publicKey]), ...otherKeys];
  for (const [keyName, publicKey] of keys) {
    it(`is the schema library's encoding (${keyName})`, () => {
      for (const subject of subjects) {
        const name = buildName(subject);
        agree({ subject: name, publicKey, extensions: [] });
        agree({ subject: name, publicKey, extensions: [], challengePassword: 'pässwörd 123' });
        agree({ subject: name, publicKey, extensions: exts });
        agree({ subject: name, publicKey, extensions: exts.slice(0, 1), challengePassword: 'x'.repeat(255) });
      }
    });
  }

  it('falls back to the schema library for Name values buildName does not make', () => {
    // A BMPString value, as a parsed certificate's Name may carry.
    const other = new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ bmpString: 'bmp' }) })])]);
    agree({ subject: other, publicKey: signers[0]![1].publicKey, extensions: [] });
    assert.equal(Buffer.from(encodeInfo({ subject: other, publicKey: signers[0]![1].publicKey, extensions: [] })).includes(Buffer.from([0x1e, 0x06, 0, 0x62, 0, 0x6d, 0, 0x70])), true);
  });

  it('agrees on fast-check mixtures of names, passwords and extensions', () => {
    const atv = fc.oneof(
      fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }).map((value) => ({ type: 'CN', value })),
      fc.stringMatching(/^[A-Za-z0-9 '()+,./:=?-]{1,64}$/).map((value) => ({ type: 'serialNumber', value })),
      fc.stringMatching(/^[a-z0-9-]{1,63}$/).map((value) => ({ type: 'DC', value })),
      fc.string({ minLength: 1, maxLength: 200, unit: 'binary' }).map((value) => ({ type: 'OU', value: value.slice(0, 64) })),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(atv, { minLength: 1, maxLength: 3 }), { maxLength: 5 }),
        fc.option(fc.string({ maxLength: 255, unit: 'grapheme' }), { nil: undefined }),
        fc.subarray(exts),
        fc.constantFrom(...keys.map(([, k]) => k)),
        (rdns, password, extensions, publicKey) => {
          let subject;
          try {
            subject = buildName(rdns);
          } catch {
            return; // values buildName refuses (e.g. lone surrogates) never reach the encoder
          }
          agree({ subject, publicKey, extensions, ...(password !== undefined ? { challengePassword: password } : {}) });
        },
      ),
      { numRuns: 300 },
    );
  });

  for (const [keyName, signer] of signers) {
    it(`makes a CSR that parses and verifies (${keyName})`, async () => {
      const csr = await createCsr({ signer, subject: 'CN=dev,serialNumber=X1', subjectAltNames: { dns: ['dev.example'] }, keyUsage: ['digitalSignature'], challengePassword: 'pw' });
      const parsed = parseCsr(csr);
      assert.deepEqual(Buffer.from(parsed.publicKey), Buffer.from(signer.publicKey));
      assert.equal(parsed.challengePassword, 'pw');
      assert.deepEqual(parsed.subjectAltNames?.dns, ['dev.example']);
      verifyCsr(parsed);
      const plain = parseCsr(await createCsr({ signer, subject: [[{ type: 'serialNumber', value: 'SN-9' }]] }));
      verifyCsr(plain);
      assert.equal(plain.challengePassword, undefined);
    });
  }
});
