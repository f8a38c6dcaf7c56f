/**
 * Property tests for every EST parser: random input and mutations of real encodings only ever
 * produce a value or an ERR_EST_* error, never a crash or a plain TypeError; encoders round-trip.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EstError } from '../../../src/onboarding/est/errors.js';
import { decodeBase64Body, encodeBase64Body } from '../../../src/onboarding/est/base64-body.js';
import { decodeCertsOnly, encodeCertsOnly } from '../../../src/onboarding/est/certs-only.js';
import { decodeCsrAttrs, encodeCsrAttrs, type CsrAttr } from '../../../src/onboarding/est/csr-attrs.js';
import { decodePkcs10Body } from '../../../src/onboarding/est/pkcs10-body.js';
import { createEstService, type EstService } from '../../../src/onboarding/est/service.js';
import { authorizeByManufacturer } from '../../../src/onboarding/est/authorize-manufacturer.js';
import { createCsr } from '../../../src/pki/create-csr.js';
import { createPki, MemoryAudit, mintDevice, p256, type Device, type Pki } from './helpers.js';

function onlyEst(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    assert.ok(err instanceof EstError && err.code.startsWith('ERR_EST_'), `untyped ${(err as Error)?.constructor?.name}: ${String(err)}`);
  }
}

const mutation = (der: Uint8Array) =>
  fc.oneof(
    fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const m = der.slice();
      m[i]! ^= x;
      return m;
    }),
    fc.nat(der.length - 1).map((n) => der.slice(0, n)),
    fc.tuple(fc.nat(der.length), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, ins]) => Uint8Array.from([...der.subarray(0, i), ...ins, ...der.subarray(i)])),
    fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 1, max: 16 })).map(([i, n]) => Uint8Array.from([...der.subarray(0, i), ...der.subarray(i + n)])),
  );

const oidArb = fc
  .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.bigInt({ min: 0n, max: 2n ** 70n }), { maxLength: 6 }))
  .map(([a, b, rest]) => [a, b, ...rest].join('.'));

describe('EST parsers under fuzzing', () => {
  let pki: Pki;
  let certsOnly: Uint8Array;
  let csrDer: Uint8Array;
  let attrsDer: Uint8Array;
  let device: Device;
  let service: EstService;
  let audit: MemoryAudit;
  before(async () => {
    pki = await createPki();
    device = await mintDevice(pki.manufacturer, 'SN-FUZZ');
    certsOnly = encodeCertsOnly([pki.domain.certificate.der, device.cert.der]);
    csrDer = await createCsr({ signer: p256().signer, subject: 'CN=fuzz', subjectAltNames: { dns: ['fuzz.example'] }, challengePassword: 'abc' });
    attrsDer = encodeCsrAttrs([{ oid: '1.2.840.113549.1.9.7' }, { type: '1.2.840.10045.2.1', values: [Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07)] }]);
    audit = new MemoryAudit();
    service = createEstService({ ca: pki.domain, audit, authorize: authorizeByManufacturer({ manufacturerCas: [pki.manufacturer.certificate.der] }) });
  });

  it('decodeBase64Body: random text and bytes', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => onlyEst(() => decodeBase64Body(s))), { numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyEst(() => decodeBase64Body(b))), { numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (b) => assert.deepEqual(decodeBase64Body(encodeBase64Body(b).replace(/\r\n/g, '\n')), b)), { numRuns: 300 });
  });

  it('decodeCertsOnly: mutations and random bytes', () => {
    fc.assert(fc.property(mutation(certsOnly), (m) => onlyEst(() => decodeCertsOnly(m))), { numRuns: 1500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyEst(() => decodeCertsOnly(b))), { numRuns: 1500 });
  });

  it('decodeCsrAttrs: mutations, random bytes, and round trips of random attributes', () => {
    fc.assert(fc.property(mutation(attrsDer), (m) => onlyEst(() => decodeCsrAttrs(m))), { numRuns: 2000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyEst(() => decodeCsrAttrs(b))), { numRuns: 2000 });
    const attr: fc.Arbitrary<CsrAttr> = fc.oneof(
      oidArb.map((oid) => ({ oid })),
      fc.tuple(oidArb, fc.array(fc.uint8Array({ maxLength: 20 }), { minLength: 1, maxLength: 3 })).map(([type, vs]) => ({
        type,
        values: vs.map((v) => Uint8Array.from([0x04, v.length, ...v])).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
      })),
    );
    fc.assert(fc.property(fc.array(attr, { maxLength: 6 }), (attrs) => assert.deepEqual(decodeCsrAttrs(encodeCsrAttrs(attrs)), attrs)), { numRuns: 500 });
  });

  it('decodePkcs10Body: mutated CSRs (base64 and raw) and mutated base64 text', () => {
    fc.assert(fc.property(mutation(csrDer), (m) => onlyEst(() => decodePkcs10Body(encodeBase64Body(m)))), { numRuns: 1000 });
    const text = new TextEncoder().encode(encodeBase64Body(csrDer));
    fc.assert(fc.property(mutation(text), (m) => onlyEst(() => decodePkcs10Body(m))), { numRuns: 1000 });
  });

  it('the service refuses any mutated request with a typed error and an audit record', async () => {
    await fc.assert(
      fc.asyncProperty(mutation(csrDer), async (m) => {
        const before = audit.entries.length;
        try {
          const out = await service.simpleEnroll({ clientCertificates: [device.cert.der] }, encodeBase64Body(m));
          assert.equal(out.status, 'issued');
        } catch (err) {
          assert.ok(err instanceof EstError, String(err));
        }
        assert.equal(audit.entries.length, before + 1);
      }),
      { numRuns: 150 },
    );
  });
});
