/**
 * certificateFacts reads the subject CN and validity with the strict DER walk where it can, and
 * with X509Certificate otherwise: the walk's answer must be exactly what X509Certificate gives
 * (differential on real certificates, with names and times drawn by fast-check, and on fuzzed
 * ones), and anything it does not answer falls back to the X509Certificate reading.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { certificateFacts, certificateLookup, factsByWalk, factsByX509 } from '../../../src/lwm2m/server/identity.js';
import { CN, makeCertificate, newKey } from '../../crypto/certificate-der-builder.js';

const KEY = newKey('p256');
const x509Facts = (der: Uint8Array) => {
  try {
    return factsByX509(der);
  } catch {
    return undefined;
  }
};

describe('certificateFacts: DER walk against X509Certificate', () => {
  it('same facts for a plain device certificate, through the cache too', () => {
    const { der } = makeCertificate('p256', { subject: [['55040a', 0x13, 'rootline'], [CN, 0x0c, 'urn:dev:ops:1234-x509']] }, KEY);
    const walk = factsByWalk(der);
    assert.ok(walk);
    assert.deepEqual(walk, factsByX509(der));
    assert.deepEqual(certificateFacts(der), walk);
    assert.equal(certificateLookup(der), 'urn:dev:ops:1234-x509');
  });

  it('falls back to X509Certificate for what the walk leaves alone (no CN, multi-valued RDN, escaped characters, other string types)', () => {
    const cases = [
      makeCertificate('p256', { subject: [['55040a', 0x13, 'rootline'], ['55040b', 0x0c, 'devices']] }, KEY).der,
      makeCertificate('p256', { subject: [[CN, 0x0c, 'a'], ['55040a', 0x0c, 'b']], multiValuedSubject: true }, KEY).der,
      makeCertificate('p256', { subject: [[CN, 0x0c, 'a,b+c']] }, KEY).der,
      makeCertificate('p256', { subject: [[CN, 0x0c, ' lead']] }, KEY).der,
      makeCertificate('p256', { subject: [[CN, 0x0c, 'ünï']] }, KEY).der,
      makeCertificate('p256', { subject: [[CN, 0x1e, '\u0000a']] }, KEY).der,
    ];
    for (const der of cases) {
      assert.equal(factsByWalk(der), undefined);
      assert.deepEqual(certificateFacts(der), factsByX509(der));
    }
    assert.equal(certificateLookup(cases[0]!), 'O=rootline, OU=devices');
    assert.equal(certificateFacts(Uint8Array.of(0x30, 0x00)), undefined);
  });

  it('fast-check: names and validity times; the walk, when it answers, says what X509Certificate says', () => {
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    const time = (d: Date, general: boolean): [number, string] => {
      const y = d.getUTCFullYear();
      const body = `${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}Z`;
      return !general && y < 2050 ? [0x17, pad(y % 100, 2) + body] : [0x18, pad(y, 4) + body];
    };
    const date = fc.date({ min: new Date(Date.UTC(1950, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true });
    const value = fc.oneof(fc.string({ minLength: 0, maxLength: 12 }), fc.stringMatching(/^[a-zA-Z0-9:.-]{1,20}$/));
    const attr = fc.tuple(fc.constantFrom(CN, '55040a', '55040b', '550405'), fc.constantFrom(0x0c, 0x13, 0x16), value);
    let answered = 0;
    fc.assert(
      fc.property(fc.array(attr, { minLength: 0, maxLength: 4 }), fc.boolean(), date, date, fc.boolean(), (subject, multi, nb, na, general) => {
        const { der } = makeCertificate('p256', { subject, multiValuedSubject: multi && subject.length > 0, notBefore: time(nb, general), notAfter: time(na, !general) }, KEY);
        const walk = factsByWalk(der);
        if (walk !== undefined) {
          answered++;
          assert.deepEqual(walk, x509Facts(der));
        }
      }),
      { numRuns: 1500 },
    );
    assert.ok(answered > 100, `the walk answered ${answered} times`);
  });

  it('fuzz: edited certificates — the walk answers only with X509Certificate’s facts', () => {
    const { der } = makeCertificate('p256', { subject: [['55040a', 0x13, 'rootline'], [CN, 0x0c, 'urn:dev:1']] }, KEY);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'delete', 'insert'), (pos, byte, op) => {
        const at = pos % der.length;
        const m = Uint8Array.from(der);
        if (op === 'set') m[at] = byte;
        const input = op === 'delete' ? Buffer.concat([m.subarray(0, at), m.subarray(at + 1)]) : op === 'insert' ? Buffer.concat([m.subarray(0, at), Uint8Array.of(byte), m.subarray(at)]) : m;
        const walk = factsByWalk(input);
        if (walk !== undefined) assert.deepEqual(walk, x509Facts(input));
      }),
      { numRuns: 4000 },
    );
  });
});
