/**
 * The strict certificate walk (src/crypto/certificate-fields.ts) against node's X509Certificate:
 * on real certificates of every key type node makes it finds the same key, subject and validity;
 * on fuzzed ones (random bytes, and byte edits, deletions, insertions and truncations of real
 * certificates) it never throws, and whatever it accepts X509Certificate accepts too, with the
 * same key — the walk may refuse more than OpenSSL (it is DER-only), never less.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { importP256Spki, P256_KEY_CACHE_ENTRIES, p256KeyCacheSize, readCertificateFields, validityTime } from '../../src/crypto/certificate-fields.js';
import { CN, makeCertificate, type KeyKind } from './certificate-der-builder.js';

const KINDS: KeyKind[] = ['p256', 'p384', 'ed25519', 'rsa'];
const CERTS = KINDS.map((k) => ({ kind: k, ...makeCertificate(k) }));

function keyOfFields(der: Uint8Array): KeyObject | undefined {
  const f = readCertificateFields(der);
  if (f === undefined) return undefined;
  try {
    return importP256Spki(f.spki) ?? createPublicKey({ key: Buffer.from(f.spki), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

function nodeKey(der: Uint8Array): KeyObject | undefined {
  try {
    return new X509Certificate(Buffer.from(der)).publicKey;
  } catch {
    return undefined;
  }
}

describe('readCertificateFields', () => {
  for (const { kind, der, publicKey } of CERTS) {
    it(`reads a real ${kind} certificate as X509Certificate does`, () => {
      const f = readCertificateFields(der);
      assert.ok(f);
      const x = new X509Certificate(Buffer.from(der));
      assert.ok(x.publicKey.equals(publicKey));
      assert.ok(keyOfFields(der)!.equals(x.publicKey));
      assert.deepEqual(Buffer.from(f.spki), publicKey.export({ type: 'spki', format: 'der' }));
      assert.equal(validityTime(f.notBefore.tag, f.notBefore.content), Date.parse(x.validFrom));
      assert.equal(validityTime(f.notAfter.tag, f.notAfter.content), Date.parse(x.validTo));
      assert.ok(Buffer.from(der).includes(Buffer.from(f.subject)));
    });
  }

  it('reads certificates node made (a copy at an offset too)', () => {
    const { der } = makeCertificate('p256', { extensions: false });
    const padded = new Uint8Array(der.length + 5);
    padded.set(der, 5);
    assert.ok(keyOfFields(padded.subarray(5))!.equals(new X509Certificate(Buffer.from(der)).publicKey));
  });

  it('refuses what is not DER or not a certificate: trailing bytes, truncation, BER lengths, wrong shapes', () => {
    const { der } = makeCertificate('p256');
    assert.equal(readCertificateFields(Buffer.concat([der, Uint8Array.of(0)])), undefined);
    assert.equal(readCertificateFields(der.subarray(0, der.length - 1)), undefined);
    assert.equal(readCertificateFields(new Uint8Array(0)), undefined);
    assert.equal(readCertificateFields(Uint8Array.of(0x30, 0x80, 0, 0)), undefined);
    assert.equal(readCertificateFields(Uint8Array.of(0x30, 0x81, 0x01, 0x05)), undefined); // non-minimal length
    assert.equal(readCertificateFields(Uint8Array.of(0x30, 0x00)), undefined);
    // A time outside its month, and a Name value of a type outside the profile.
    assert.equal(readCertificateFields(makeCertificate('p256', { notBefore: [0x17, '260230000000Z'] }).der), undefined);
    assert.equal(readCertificateFields(makeCertificate('p256', { subject: [[CN, 0x1e, 'ab']] }).der), undefined);
    assert.equal(readCertificateFields(makeCertificate('p256', { subject: [[CN, 0x13, 'a*b']] }).der), undefined);
  });

  it('fuzz: random bytes never throw, and anything accepted has the key X509Certificate finds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const ours = keyOfFields(bytes);
        if (ours !== undefined) assert.ok(nodeKey(bytes)?.equals(ours));
      }),
      { numRuns: 2000 },
    );
  });

  it('fuzz: edits of real certificates give undefined or the same key as X509Certificate', () => {
    const edit = fc.record({
      cert: fc.integer({ min: 0, max: CERTS.length - 1 }),
      at: fc.nat(),
      op: fc.constantFrom('set', 'flip', 'delete', 'insert', 'truncate'),
      byte: fc.integer({ min: 0, max: 255 }),
      count: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        let der: Uint8Array = CERTS[edits[0]!.cert]!.der;
        for (const e of edits) {
          const at = e.at % der.length;
          const m = Uint8Array.from(der);
          if (e.op === 'set') m[at] = e.byte;
          else if (e.op === 'flip') m[at]! ^= 1 << (e.byte & 7);
          der = e.op === 'delete' ? Buffer.concat([m.subarray(0, at), m.subarray(at + e.count)]) : e.op === 'insert' ? Buffer.concat([m.subarray(0, at), new Uint8Array(e.count).fill(e.byte), m.subarray(at)]) : e.op === 'truncate' ? m.subarray(0, at) : m;
        }
        const ours = keyOfFields(der);
        if (ours !== undefined) {
          const theirs = nodeKey(der);
          assert.ok(theirs !== undefined, 'the walk accepted a certificate X509Certificate refuses');
          assert.ok(theirs.equals(ours));
        }
      }),
      { numRuns: 6000 },
    );
  });
});

describe('validityTime', () => {
  it('is the time X509Certificate reports, for UTCTime and GeneralizedTime in range', () => {
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    fc.assert(
      fc.property(fc.date({ min: new Date(Date.UTC(1950, 0, 1)), max: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)), noInvalidDate: true }), fc.boolean(), (d, general) => {
        const y = d.getUTCFullYear();
        const useUtc = !general && y < 2050;
        const body = `${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}Z`;
        const t: [number, string] = useUtc ? [0x17, pad(y % 100, 2) + body] : [0x18, pad(y, 4) + body];
        const { der } = makeCertificate('ed25519', { notBefore: t });
        const f = readCertificateFields(der)!;
        assert.equal(validityTime(f.notBefore.tag, f.notBefore.content), Date.parse(new X509Certificate(Buffer.from(der)).validFrom));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses fractions, offsets, missing Z and out-of-range fields', () => {
    const b = (s: string) => Buffer.from(s, 'latin1');
    for (const [tag, s] of [
      [0x17, '2601010000Z'],
      [0x17, '260101000000+0100'],
      [0x18, '20260101000000.5Z'],
      [0x18, '20260229000000Z'],
      [0x17, '261301000000Z'],
      [0x17, '260101240000Z'],
      [0x18, '00500101000000Z'],
      [0x17, '26010100000aZ'],
    ] as Array<[number, string]>) {
      assert.equal(validityTime(tag, b(s)), undefined, s);
    }
    assert.equal(validityTime(0x18, b('20240229000000Z')), Date.UTC(2024, 1, 29));
    assert.equal(validityTime(0x17, b('491231235959Z')), Date.UTC(2049, 11, 31, 23, 59, 59));
    assert.equal(validityTime(0x17, b('500101000000Z')), Date.UTC(1950, 0, 1));
  });
});

describe('importP256Spki', () => {
  it('is the key the SPKI decoder gives; anything else is undefined', () => {
    const { publicKey } = makeCertificate('p256');
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    assert.ok(importP256Spki(spki)!.equals(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })));
    const offCurve = Uint8Array.from(spki);
    offCurve[spki.length - 1]! ^= 1;
    assert.equal(importP256Spki(offCurve), undefined);
    assert.equal(importP256Spki(new Uint8Array(makeCertificate('p384').publicKey.export({ type: 'spki', format: 'der' }))), undefined);
    assert.equal(importP256Spki(spki.subarray(1)), undefined);
  });
});

describe('importP256Spki key cache', () => {
  it('gives the same KeyObject for the same bytes (any buffer), never keeps a refusal, stays bounded', () => {
    const spki = new Uint8Array(makeCertificate('p256').publicKey.export({ type: 'spki', format: 'der' }));
    const a = importP256Spki(spki)!;
    const copy = new Uint8Array(spki.length + 2);
    copy.set(spki, 2);
    assert.equal(importP256Spki(copy.subarray(2)), a);
    const offCurve = Uint8Array.from(spki);
    offCurve[spki.length - 1]! ^= 1;
    for (let i = 0; i < 3; i++) assert.equal(importP256Spki(offCurve), undefined);
    for (let i = 0; i < P256_KEY_CACHE_ENTRIES + 10; i++) {
      const k = new Uint8Array(makeCertificate('p256', { extensions: false }).publicKey.export({ type: 'spki', format: 'der' }));
      assert.ok(importP256Spki(k)!.equals(createPublicKey({ key: Buffer.from(k), format: 'der', type: 'spki' })));
    }
    assert.equal(p256KeyCacheSize(), P256_KEY_CACHE_ENTRIES);
  });
});
