import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RootlineError } from '../../src/errors.js';
import { decodePem, decodePemChain, encodePem, encodePemChain, parsePem } from '../../src/pki/pem.js';

const code = (c: string) => (err: unknown) => err instanceof RootlineError && err.code === c;

describe('PEM', () => {
  it('round-trips DER through encodePem/decodePem with 64-character lines', () => {
    const der = new Uint8Array(200).map((_, i) => (i * 7) & 0xff);
    const pem = encodePem('CERTIFICATE', der);
    const lines = pem.trimEnd().split('\n');
    assert.equal(lines[0], '-----BEGIN CERTIFICATE-----');
    assert.equal(lines.at(-1), '-----END CERTIFICATE-----');
    assert.ok(lines.slice(1, -1).every((l) => l.length <= 64));
    assert.equal(lines[1]!.length, 64);
    assert.deepEqual(decodePem(pem, 'CERTIFICATE'), der);
    assert.deepEqual(decodePem(Buffer.from(pem), 'CERTIFICATE'), der);
  });

  it('reads chains, skipping explanatory text between blocks, and CRLF line ends', () => {
    const a = Uint8Array.from([1, 2, 3]);
    const b = Uint8Array.from([4, 5, 6, 7]);
    const text = `subject=CN=leaf\r\n${encodePem('CERTIFICATE', a).replace(/\n/g, '\r\n')}issuer text\n${encodePem('CERTIFICATE', b)}trailer`;
    const blocks = parsePem(text);
    assert.deepEqual(blocks.map((x) => x.label), ['CERTIFICATE', 'CERTIFICATE']);
    assert.deepEqual(blocks[0]!.der, a);
    assert.deepEqual(blocks[1]!.der, b);
    assert.deepEqual(decodePemChain(encodePemChain('CERTIFICATE', [a, b]), 'CERTIFICATE'), [a, b]);
  });

  it('refuses malformed text with ERR_PKI_MALFORMED_PEM', () => {
    const good = encodePem('CERTIFICATE', Uint8Array.from([1, 2, 3, 4]));
    const cases: Array<[string, string]> = [
      ['no block', 'hello'],
      ['no END', good.replace(/-----END.*\n/, '')],
      ['END without BEGIN', '-----END CERTIFICATE-----\n'],
      ['label mismatch', good.replace('END CERTIFICATE', 'END X509 CRL')],
      ['bad base64 char', good.replace('AQID', 'AQ*D')],
      ['bad padding', good.replace('AQIDBA==', 'AQIDBA=')],
      ['non-canonical pad bits', good.replace('AQIDBA==', 'AQIDBB==')],
      ['empty body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'],
      ['encapsulated header', good.replace('AQIDBA==', 'Proc-Type: 4,ENCRYPTED\nAQIDBA==')],
      ['nested BEGIN', good.replace('AQIDBA==', '-----BEGIN CERTIFICATE-----')],
      ['wrong label', encodePem('X509 CRL', Uint8Array.from([1]))],
      ['two blocks where one is expected', good + good],
    ];
    for (const [why, text] of cases) {
      assert.throws(() => decodePem(text, 'CERTIFICATE'), code('ERR_PKI_MALFORMED_PEM'), why);
    }
    assert.throws(() => parsePem(good + good + good, { maxBlocks: 2 }), code('ERR_PKI_MALFORMED_PEM'));
  });

  it('validates its arguments', () => {
    assert.throws(() => encodePem('CERT\nIFICATE', Uint8Array.of(1)), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => encodePem('CERTIFICATE', new Uint8Array(0)), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => parsePem(42 as never), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => encodePemChain('CERTIFICATE', []), code('ERR_INVALID_ARGUMENT'));
  });

  it('fuzz: random and mutated text only ever yields typed errors', () => {
    const good = encodePem('CERTIFICATE', new Uint8Array(90).fill(0x5a)) + encodePem('X509 CRL', Uint8Array.of(9, 9));
    const check = (text: string | Uint8Array) => {
      try {
        const blocks = parsePem(text);
        assert.ok(blocks.length > 0);
        for (const b of blocks) assert.ok(b.der.length > 0);
      } catch (err) {
        assert.ok(err instanceof RootlineError, `untyped error ${String(err)}`);
      }
    };
    fc.assert(fc.property(fc.string({ maxLength: 400 }), check), { numRuns: 300 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 300 });
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.string({ minLength: 0, maxLength: 3 }), (pos, ins) => check(good.slice(0, pos) + ins + good.slice(pos + 1))),
      { numRuns: 400 },
    );
  });
});
