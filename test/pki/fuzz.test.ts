/**
 * Property tests for every PKI parser: random bytes and mutations of real encodings only ever
 * produce a parsed view or a RootlineError, never a crash or a plain TypeError.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RootlineError } from '../../src/errors.js';
import { createRootCa } from '../../src/pki/certificate-authority.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { createCsr } from '../../src/pki/create-csr.js';
import { parseCsr, verifyCsr } from '../../src/pki/parse-csr.js';
import { parseCrl } from '../../src/pki/parse-crl.js';
import { encodePem, parsePem } from '../../src/pki/pem.js';
import { extractRawPublicKey, parsePublicKey } from '../../src/pki/public-key.js';
import { parseDistinguishedName } from '../../src/pki/name.js';
import { verifyChain } from '../../src/pki/verify-chain.js';
import { p256Signer } from './forge.js';

type Parser = (b: Uint8Array) => unknown;

function onlyTyped(parse: Parser, input: Uint8Array): void {
  try {
    parse(input);
  } catch (err) {
    assert.ok(err instanceof RootlineError, `untyped ${(err as Error)?.constructor?.name}: ${String(err)}`);
  }
}

/** Mutations of a valid encoding: byte flips, truncation, insertion, deletion, length-byte edits. */
const mutation = (der: Uint8Array) =>
  fc.oneof(
    fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const m = der.slice();
      m[i] ^= x;
      return m;
    }),
    fc.nat(der.length - 1).map((n) => der.slice(0, n)),
    fc.tuple(fc.nat(der.length), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, ins]) => Uint8Array.from([...der.subarray(0, i), ...ins, ...der.subarray(i)])),
    fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 1, max: 16 })).map(([i, n]) => Uint8Array.from([...der.subarray(0, i), ...der.subarray(i + n)])),
    fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 2, maxLength: 6 }).map((edits) => {
      const m = der.slice();
      for (const [i, v] of edits) m[i] = v;
      return m;
    }),
  );

describe('PKI parser fuzzing', () => {
  const samples: Record<string, Uint8Array> = {};
  before(async () => {
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=Fuzz Root,O=Rootline', validityDays: 5 });
    const leaf = await ca.issueCertificate({
      subject: 'CN=fuzz,serialNumber=1',
      publicKey: p256Signer().publicKey,
      extKeyUsage: ['clientAuth'],
      subjectAltNames: { dns: ['f.example'], ip: ['10.1.2.3', '::1'], uri: ['coap://f'], email: ['a@b.c'] },
    });
    ca.revoke(leaf.serialNumber, 'superseded');
    samples.cert = leaf.der;
    samples.caCert = ca.certificate.der;
    samples.csr = await createCsr({ signer: p256Signer(), subject: 'CN=fuzz csr', subjectAltNames: { dns: ['c.example'] }, keyUsage: ['digitalSignature'], challengePassword: 'pw' });
    samples.crl = await ca.createCrl();
    samples.spki = p256Signer().publicKey;
  });

  const parsers: Array<[string, string, Parser]> = [
    ['parseCertificate', 'cert', parseCertificate],
    ['parseCsr', 'csr', parseCsr],
    ['verifyCsr', 'csr', verifyCsr],
    ['parseCrl', 'crl', parseCrl],
    ['parsePublicKey', 'spki', parsePublicKey],
    ['extractRawPublicKey', 'cert', extractRawPublicKey],
  ];

  for (const [name, sample, parse] of parsers) {
    it(`${name}: random bytes → only typed errors`, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyTyped(parse, b)), { numRuns: 300 });
      // Random bytes behind a plausible SEQUENCE header get further into the parser.
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 120 }), (b) => onlyTyped(parse, Uint8Array.from([0x30, b.length, ...b]))),
        { numRuns: 300 },
      );
    });

    it(`${name}: mutated valid input → a view or a typed error`, () => {
      const der = samples[sample]!;
      onlyTyped(parse, der);
      fc.assert(fc.property(mutation(der), (m) => onlyTyped(parse, m)), { numRuns: 700 });
    });
  }

  it('parsers given PEM text with mutated base64 → only typed errors', () => {
    const pem = encodePem('CERTIFICATE', samples.cert!);
    fc.assert(
      fc.property(fc.nat(pem.length - 1), fc.constantFrom('A', '/', '=', '-', ' ', '\n', '*'), (i, ch) => {
        const text = pem.slice(0, i) + ch + pem.slice(i + 1);
        onlyTyped(() => parseCertificate(text), new Uint8Array());
        onlyTyped(() => parsePem(text), new Uint8Array());
      }),
      { numRuns: 400 },
    );
  });

  it('verifyChain with a mutated CRL (requireCrl) → only typed errors; the revoked leaf never passes', () => {
    const crl = samples.crl!;
    assert.throws(() => verifyChain(samples.cert!, [], [samples.caCert!], { crls: [crl], requireCrl: true }), (e: unknown) => (e as RootlineError).code === 'ERR_PKI_REVOKED');
    fc.assert(
      fc.property(mutation(crl), (m) => {
        let passed = false;
        try {
          verifyChain(samples.cert!, [], [samples.caCert!], { crls: [m], requireCrl: true });
          passed = true;
        } catch (err) {
          assert.ok(err instanceof RootlineError, String(err));
        }
        assert.equal(passed, false, 'the leaf is revoked: a mutated CRL must not make it pass');
      }),
      { numRuns: 300 },
    );
  });

  it('parseDistinguishedName: random strings → RDNs or typed errors', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          const rdns = parseDistinguishedName(s);
          assert.ok(Array.isArray(rdns));
        } catch (err) {
          assert.ok(err instanceof RootlineError, String(err));
        }
      }),
      { numRuns: 500 },
    );
  });
});
