/**
 * device-key.ts against node:crypto, differentially: the fast P-256 paths must give the key,
 * public key bytes, PEM and errors node:crypto gives for the same input — for fresh keys, for the
 * SEC1 layout, for other key types, and for mutated and truncated key files (where the answer
 * must be node's: the same key, or a throw where node throws).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { deviceSigner, generateDeviceKey, importDeviceKey, p256KeyNumbers, p256Spki, pkcs8Der, pkcs8Pem } from '../../../src/onboarding/pledge/device-key.js';
import { jwkOf } from '../../../src/crypto/key-pairs.js';

const P256_N = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');

function p256(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

function pem(label: string, der: Buffer): string {
  return `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

/** node:crypto's answer: the key's JWK, or the error's message. */
function nodeReading(input: string): { jwk: unknown } | { error: string } {
  try {
    return { jwk: createPrivateKey(input).export({ format: 'jwk' }) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function ourReading(input: string): { jwk: unknown } | { error: string } {
  try {
    return { jwk: importDeviceKey(input).export({ format: 'jwk' }) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('device keys (device-key.ts) against node:crypto', () => {
  it('reads PKCS#8 and SEC1 P-256 key files as createPrivateKey does, through the fast path', () => {
    for (let i = 0; i < 50; i++) {
      const key = p256();
      const pkcs8 = String(key.export({ type: 'pkcs8', format: 'pem' }));
      const sec1 = String(key.export({ type: 'sec1', format: 'pem' }));
      // The fast path is taken (not only the fallback): the layout is recognised.
      assert.ok(p256KeyNumbers(key.export({ type: 'pkcs8', format: 'der' }), 'pkcs8'));
      assert.ok(p256KeyNumbers(key.export({ type: 'sec1', format: 'der' }), 'sec1'));
      // Each layout only under its own label.
      assert.equal(p256KeyNumbers(key.export({ type: 'sec1', format: 'der' }), 'pkcs8'), undefined);
      assert.equal(p256KeyNumbers(key.export({ type: 'pkcs8', format: 'der' }), 'sec1'), undefined);
      // Not key.export({ format: 'jwk' }): a generated key's JWK export can deadlock node 20 (src/crypto/key-pairs.ts).
      const expected = jwkOf(key);
      for (const text of [pkcs8, sec1, pkcs8.replace(/\n/g, '\r\n'), pkcs8.trimEnd()]) {
        const ours = importDeviceKey(text);
        assert.equal(ours.type, 'private');
        assert.deepEqual(ours.export({ format: 'jwk' }), expected);
        assert.deepEqual(ours.export({ type: 'pkcs8', format: 'der' }), key.export({ type: 'pkcs8', format: 'der' }));
      }
    }
  });

  it('generateDeviceKey makes P-256 keys whose kept numbers give the exports node:crypto gives', () => {
    for (let i = 0; i < 50; i++) {
      const key = generateDeviceKey();
      assert.equal(key.asymmetricKeyType, 'ec');
      assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.deepEqual(pkcs8Der(key), key.export({ type: 'pkcs8', format: 'der' }));
      assert.equal(pkcs8Pem(key), key.export({ type: 'pkcs8', format: 'pem' }));
      assert.deepEqual(p256Spki(key), new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })));
      // The kept numbers are handed out as copies: zeroing one (as pkcs8Der does) changes nothing.
      assert.deepEqual(pkcs8Der(key), key.export({ type: 'pkcs8', format: 'der' }));
    }
  });

  it('builds the PKCS#8 PEM and the SPKI node:crypto exports, and signs verifiably', async () => {
    for (let i = 0; i < 50; i++) {
      const key = p256();
      assert.equal(pkcs8Pem(key), key.export({ type: 'pkcs8', format: 'pem' }));
      assert.deepEqual(pkcs8Der(key), key.export({ type: 'pkcs8', format: 'der' }));
      const spki = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
      assert.deepEqual(p256Spki(key), spki);
      assert.deepEqual(p256Spki(createPublicKey(key)), spki);
      const signer = deviceSigner(key);
      assert.equal(deviceSigner(key), signer, 'one Signer per key');
      const reference = keyObjectSigner(key);
      assert.equal(signer.algorithm, reference.algorithm);
      assert.deepEqual(signer.publicKey, reference.publicKey);
      const data = new Uint8Array(Buffer.from(`to be signed ${i}`));
      const sig = await signer.sign(data);
      assert.equal(sig.length, 64);
      assert.ok(verify('sha256', data, { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' }, sig));
    }
  });

  it('leaves other keys to node:crypto (Ed25519, P-384, RSA, encrypted)', () => {
    const ed = generateKeyPairSync('ed25519').privateKey;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    // Curves JWK has a name for (secp256k1) and one it has none for (the export throws): not P-256.
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    const brainpool = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey;
    for (const key of [ed, p384, rsa, k1, brainpool]) {
      const text = String(key.export({ type: 'pkcs8', format: 'pem' }));
      assert.deepEqual(ourReading(text), nodeReading(text));
      assert.equal(pkcs8Pem(key), text);
      assert.deepEqual(pkcs8Der(key), key.export({ type: 'pkcs8', format: 'der' }));
      assert.equal(p256Spki(key), undefined);
      assert.equal(p256Spki(createPublicKey(key)), undefined);
    }
    const signer = deviceSigner(ed);
    assert.equal(signer.algorithm, 'EdDSA');
    assert.deepEqual(signer.publicKey, keyObjectSigner(ed).publicKey);
    assert.throws(() => deviceSigner(p384), /P-256 or Ed25519/);
    const encrypted = String(p256().export({ type: 'pkcs8', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'x' }));
    assert.throws(() => importDeviceKey(encrypted));
    assert.deepEqual(ourReading(encrypted), nodeReading(encrypted));
  });

  it('answers as node:crypto for out-of-range private scalars and points off the curve', () => {
    const der = p256().export({ type: 'pkcs8', format: 'der' });
    const dAt = 36;
    const zero = Buffer.from(der);
    zero.fill(0, dAt, dAt + 32);
    const n = Buffer.from(der);
    P256_N.copy(n, dAt);
    const offCurve = Buffer.from(der);
    offCurve[der.length - 1]! ^= 1;
    for (const bad of [zero, n, offCurve]) {
      const text = pem('PRIVATE KEY', bad);
      assert.deepEqual(ourReading(text), nodeReading(text));
    }
    assert.equal(p256KeyNumbers(zero, 'pkcs8'), undefined);
    assert.equal(p256KeyNumbers(n, 'pkcs8'), undefined);
  });

  it('answers as node:crypto for mutated, truncated and extended key files (fast-check)', () => {
    const keys = Array.from({ length: 4 }, () => p256());
    const ders = keys.flatMap((k) => [
      { label: 'PRIVATE KEY', der: k.export({ type: 'pkcs8', format: 'der' }) },
      { label: 'EC PRIVATE KEY', der: k.export({ type: 'sec1', format: 'der' }) },
    ]);
    fc.assert(
      fc.property(
        fc.nat(ders.length - 1),
        fc.array(fc.record({ at: fc.nat(200), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
        fc.oneof(fc.constant(0), fc.integer({ min: -20, max: 20 })),
        fc.boolean(),
        (which, edits, resize, swapLabel) => {
          const { label, der } = ders[which]!;
          let bytes = Buffer.from(der);
          for (const e of edits) if (e.at < bytes.length) bytes[e.at] = e.value;
          if (resize < 0) bytes = bytes.subarray(0, Math.max(1, bytes.length + resize));
          else if (resize > 0) bytes = Buffer.concat([bytes, Buffer.alloc(resize, 0x41)]);
          const text = pem(swapLabel ? (label === 'PRIVATE KEY' ? 'EC PRIVATE KEY' : 'PRIVATE KEY') : label, bytes);
          assert.deepEqual(ourReading(text), nodeReading(text));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('answers as node:crypto for PEM text that is not exactly one key block', () => {
    const text = String(p256().export({ type: 'pkcs8', format: 'pem' }));
    const body = text.split('\n').slice(1, -2).join('\n');
    for (const variant of [
      `junk before\n${text}`,
      `${text}${text}`,
      text.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n'),
      text.replace(body, body.replace(/A/g, '*')),
      `-----BEGIN PRIVATE KEY-----\n${body}\n-----END EC PRIVATE KEY-----\n`,
      '',
    ]) {
      assert.deepEqual(ourReading(variant), nodeReading(variant));
    }
  });
});
