/**
 * src/crypto/key-pairs.ts: fresh P-256 key pairs and JWK exports that cannot hit node 20's
 * generate-then-export-JWK deadlock.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import { generateP256KeyPair, jwkOf, p256KeyPairOf } from '../../src/crypto/key-pairs.js';

describe('key pairs (key-pairs.ts)', () => {
  it('makes working P-256 pairs whose numbers are the keys\'', () => {
    for (let i = 0; i < 200; i++) {
      const pair = generateP256KeyPair();
      assert.equal(pair.d.length, 32);
      assert.equal(pair.point.length, 65);
      const jwk = jwkOf(pair.privateKey);
      assert.equal(jwk.crv, 'P-256');
      assert.deepEqual(Buffer.from(jwk.d!, 'base64url'), pair.d);
      assert.deepEqual(Buffer.from(jwk.x!, 'base64url'), pair.point.subarray(1, 33));
      assert.deepEqual(Buffer.from(jwk.y!, 'base64url'), pair.point.subarray(33));
      const signature = sign('sha256', Buffer.from('rootline'), pair.privateKey);
      assert.ok(verify('sha256', Buffer.from('rootline'), pair.publicKey, signature));
      assert.deepEqual(createPublicKey(pair.privateKey).export({ type: 'spki', format: 'der' }), pair.publicKey.export({ type: 'spki', format: 'der' }));
    }
  });

  it('pads a private scalar with leading zero bytes to 32 bytes', () => {
    const d = Buffer.alloc(32, 0x11);
    d[0] = 0;
    d[1] = 0;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    assert.equal(ecdh.getPrivateKey().length, 30);
    const pair = p256KeyPairOf(ecdh);
    assert.deepEqual(pair.d, d);
    assert.deepEqual(Buffer.from(jwkOf(pair.privateKey).d!, 'base64url'), d);
    assert.throws(() => p256KeyPairOf(createECDH('prime256v1')), Error);
  });

  it('jwkOf answers what export({ format: "jwk" }) answers, for private and public keys of several types', () => {
    for (const made of [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ed25519'), generateKeyPairSync('x25519'), generateKeyPairSync('ec', { namedCurve: 'P-384' })]) {
      // The expected JWKs come from keys read back from PEM (not from the generator: see key-pairs.ts).
      const expectedPrivate = createPrivateKey(made.privateKey.export({ type: 'pkcs8', format: 'pem' })).export({ format: 'jwk' });
      const expectedPublic = createPublicKey(made.publicKey.export({ type: 'spki', format: 'pem' })).export({ format: 'jwk' });
      assert.deepEqual(jwkOf(made.privateKey), expectedPrivate);
      assert.deepEqual(jwkOf(made.publicKey), expectedPublic);
    }
    assert.throws(() => jwkOf(undefined as never), InvalidArgumentError);
  });

  it('generates and exports 20,000 keys as JWK under allocation pressure without hanging (node 20 deadlock)', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/key-pairs-stress.ts', import.meta.url)), '20000'], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(child.signal, null, `the loop did not finish (killed by ${child.signal}): the export deadlocked`);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'ok 20000');
  });
});
