import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { RootlineError } from '../../src/errors.js';
import { buildName, findAttribute, formatRdns, nameToRdns, parseDistinguishedName } from '../../src/pki/name.js';

const code = (c: string) => (err: unknown) => err instanceof RootlineError && err.code === c;

describe('distinguished names', () => {
  it('parses strings in encoding order, with RFC 4514 escapes and multi-valued RDNs', () => {
    assert.deepEqual(parseDistinguishedName('CN=x, O=Acme\\, Inc.,serialNumber=Z9'), [
      [{ type: 'CN', value: 'x' }],
      [{ type: 'O', value: 'Acme, Inc.' }],
      [{ type: 'serialNumber', value: 'Z9' }],
    ]);
    assert.deepEqual(parseDistinguishedName('CN=a+UID=b'), [[{ type: 'CN', value: 'a' }, { type: 'UID', value: 'b' }]]);
    assert.deepEqual(parseDistinguishedName('CN=caf\\C3\\A9\\ '), [[{ type: 'CN', value: 'café ' }]]);
    assert.deepEqual(parseDistinguishedName(''), []);
  });

  it('encodes attribute types with the string types RFC 5280 asks for', () => {
    const der = Buffer.from(AsnConvert.serialize(buildName('C=DE,serialNumber=AB-1,CN=Zoë,DC=example,emailAddress=a@b.example')));
    // PrintableString (0x13) for C and serialNumber, UTF8String (0x0c) for CN, IA5String (0x16) for DC and email.
    assert.ok(der.includes(Buffer.from([0x13, 2, 0x44, 0x45])));
    assert.ok(der.includes(Buffer.concat([Buffer.from([0x13, 4]), Buffer.from('AB-1')])));
    assert.ok(der.includes(Buffer.concat([Buffer.from([0x0c, 4]), Buffer.from('Zoë')])));
    assert.ok(der.includes(Buffer.concat([Buffer.from([0x16, 7]), Buffer.from('example')])));
    assert.ok(der.includes(Buffer.concat([Buffer.from([0x16, 11]), Buffer.from('a@b.example')])));
  });

  it('accepts the object and RDN-array forms; findAttribute reads them back', () => {
    const fromObject = nameToRdns(buildName({ CN: 'dev', O: 'Acme', serialNumber: '42' }));
    assert.equal(formatRdns(fromObject), 'CN=dev,O=Acme,serialNumber=42');
    assert.equal(findAttribute(fromObject, 'serialNumber'), '42');
    assert.equal(findAttribute(fromObject, '2.5.4.10'), 'Acme');
    assert.equal(findAttribute(fromObject, 'OU'), undefined);
    const fromArray = nameToRdns(buildName([[{ type: '1.3.6.1.4.1.1.1', value: 'custom' }]]));
    assert.equal(fromArray[0]![0]!.oid, '1.3.6.1.4.1.1.1');
  });

  it('sorts multi-valued RDN members by encoding (X.690 §11.6)', () => {
    const a = Buffer.from(AsnConvert.serialize(buildName('CN=z+O=a')));
    const b = Buffer.from(AsnConvert.serialize(buildName('O=a+CN=z')));
    assert.deepEqual(a, b);
  });

  it('property: formatRdns output parses back to the same RDNs', () => {
    const value = fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }).filter((s) => s.length <= 20 && Buffer.from(s, 'utf8').toString('utf8') === s);
    const rdn = fc.array(fc.record({ type: fc.constantFrom('CN', 'O', 'OU', 'L', 'ST', 'title'), value }), { minLength: 1, maxLength: 2 });
    fc.assert(
      fc.property(fc.array(rdn, { minLength: 1, maxLength: 4 }), (rdns) => {
        const parsed = nameToRdns(buildName(rdns));
        const text = formatRdns(parsed);
        assert.deepEqual(nameToRdns(buildName(text)), parsed);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses bad names with ERR_INVALID_ARGUMENT naming the argument', () => {
    const bad = ['CN', '=x', 'XX=1', 'CN=', 'C=DEU', 'C=de', 'serialNumber=ü', 'CN=a\\q', 'CN=#0401', 'DC=é'];
    for (const s of bad) {
      assert.throws(() => buildName(s, 'subject'), (err: unknown) => code('ERR_INVALID_ARGUMENT')(err) && (err as { argument: string }).argument === 'subject', s);
    }
    assert.throws(() => buildName(5 as never), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => buildName([[]]), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => buildName({ CN: 7 } as never), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => buildName(`CN=${'x'.repeat(65)}`), code('ERR_INVALID_ARGUMENT'));
  });
});
