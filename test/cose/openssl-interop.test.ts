/**
 * A real peer checks our bytes: the OpenSSL command line verifies COSE_Sign1 signatures (ES256
 * and Ed25519) and recomputes COSE_Mac0 tags (HMAC-SHA-256) over a Sig_structure / MAC_structure
 * assembled here by hand from the RFC 9052 CDDL, not by the code under test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ecdsaRawToDer } from '../../src/crypto/ecdsa-signature.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { CborTag, decodeCbor } from '../../src/cose/cbor.js';
import { rawMacKey } from '../../src/cose/mac-key.js';
import { mac0 } from '../../src/cose/mac0.js';
import { sign1 } from '../../src/cose/sign1.js';
import { requirePeer } from '../helpers/peers.js';
import { utf8 } from './helpers.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');
const dir = mkdtempSync(join(tmpdir(), 'rootline-cose-openssl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A CBOR byte-string head for length n (RFC 8949 §3.1), written out by hand. */
function bstrHead(n: number): number[] {
  if (n < 24) return [0x40 + n];
  if (n < 256) return [0x58, n];
  return [0x59, n >> 8, n & 0xff];
}

/** ["Signature1" / "MAC0", protected, external_aad, payload] (RFC 9052 §4.4, §6.3). */
function structure(context: 'Signature1' | 'MAC0', protectedBytes: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  const ctx = utf8(context);
  return new Uint8Array([
    0x84,
    0x60 + ctx.length,
    ...ctx,
    ...bstrHead(protectedBytes.length),
    ...protectedBytes,
    ...bstrHead(externalAad.length),
    ...externalAad,
    ...bstrHead(payload.length),
    ...payload,
  ]);
}

function parts(msg: Uint8Array): [Uint8Array, Map<number, unknown>, Uint8Array, Uint8Array] {
  const v = decodeCbor(msg);
  return (v instanceof CborTag ? v.contents : v) as [Uint8Array, Map<number, unknown>, Uint8Array, Uint8Array];
}

describe('COSE against the OpenSSL command line', { skip }, () => {
  const payload = utf8('firmware image digest 7f3a...');
  const externalAad = utf8('model S42');

  it('ES256: openssl dgst -verify accepts our signature over the Sig_structure, and rejects a changed one', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const [prot, , , sig] = parts(await sign1({ payload, signer: keyObjectSigner(privateKey), externalAad }));
    const pub = join(dir, 'p256.pem');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'es256.der'), ecdsaRawToDer(sig));
    writeFileSync(join(dir, 'tbs'), structure('Signature1', prot, externalAad, payload));
    const ok = openssl(['dgst', '-sha256', '-verify', pub, '-signature', join(dir, 'es256.der'), join(dir, 'tbs')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /Verified OK/);
    writeFileSync(join(dir, 'tbs'), structure('Signature1', prot, new Uint8Array(0), payload));
    assert.notEqual(openssl(['dgst', '-sha256', '-verify', pub, '-signature', join(dir, 'es256.der'), join(dir, 'tbs')]).status, 0);
  });

  it('EdDSA: openssl pkeyutl -verify accepts our Ed25519 signature over the Sig_structure', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const [prot, , , sig] = parts(await sign1({ payload, signer: keyObjectSigner(privateKey), externalAad }));
    const pub = join(dir, 'ed.pem');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'ed.sig'), sig);
    writeFileSync(join(dir, 'tbs-ed'), structure('Signature1', prot, externalAad, payload));
    const ok = openssl(['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', join(dir, 'tbs-ed'), '-sigfile', join(dir, 'ed.sig')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /Signature Verified Successfully/);
  });

  it('HMAC 256/64 and 256/256: openssl dgst -mac HMAC computes the same tags over the MAC_structure', async () => {
    const secret = new Uint8Array(randomBytes(32));
    for (const [alg, length] of [[4, 8], [5, 32]] as const) {
      const [prot, , , tag] = parts(await mac0({ payload, key: rawMacKey(secret, alg), externalAad }));
      writeFileSync(join(dir, 'tomac'), structure('MAC0', prot, externalAad, payload));
      const r = openssl(['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${Buffer.from(secret).toString('hex')}`, join(dir, 'tomac')]);
      assert.equal(r.status, 0, r.stderr);
      const full = r.stdout.trim().split(/\s+/).pop()!;
      assert.equal(Buffer.from(tag).toString('hex'), full.slice(0, 2 * length));
    }
  });
});
