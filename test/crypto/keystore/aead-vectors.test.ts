/**
 * Published AEAD vectors through the KeyStore: RFC 3610 packet vectors (CCM, M = 8) and the GCM
 * specification's 96-bit-IV test cases, via importKey + seal/open on both backends; and every
 * RFC 3610 and SP 800-38C vector (all tag lengths) through ccm-blocks.ts, the CCM construction
 * the PKCS#11 backend runs on the token's AES-ECB/CBC. Vector data: test/vectors/{rfc3610,
 * nist-sp800-38c,nist-gcm}/ (shared with the crypto room's tests).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ccmOpen, ccmSeal, type AesBlockOps } from '../../../src/crypto/keystore/ccm-blocks.js';
import { openSoftwareKeyStore, type KeyStore, type KeyStoreAeadAlgorithm } from '../../../src/crypto/keystore/index.js';
import { rejectsWith } from './contract.js';
import { createSoftHsmToken, openTokenKeyStore, softHsmSkip, type TestToken } from './softhsm.js';

const vectorsDir = join(import.meta.dirname, '..', '..', 'vectors');
const load = <T>(path: string): T => JSON.parse(readFileSync(join(vectorsDir, path), 'utf8')) as T;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

interface Rfc3610Vector { n: number; key: string; nonce: string; M: number; aad: string; plaintext: string; sealed: string }
interface Sp80038cVector { example: number; key: string; nonce: string; aad?: string; aadPattern?: string; aadRepeat?: number; plaintext: string; tagLength: number; sealed: string }
interface GcmVector { name: string; key: string; iv: string; plaintext: string; aad: string; ciphertext: string; tag: string }

const rfc3610 = load<{ vectors: Rfc3610Vector[] }>('rfc3610/packet-vectors.json').vectors;
const sp80038c = load<{ vectors: Sp80038cVector[] }>('nist-sp800-38c/examples.json').vectors;
const gcm = load<{ vectors: GcmVector[] }>('nist-gcm/gcm-spec-aes.json').vectors;

function sp80038cAad(v: Sp80038cVector): Buffer {
  if (v.aad !== undefined) return hex(v.aad);
  return Buffer.concat(Array.from({ length: v.aadRepeat! }, () => hex(v.aadPattern!)));
}

/** AES block operations from node:crypto: the same interface the token provides. */
function nodeBlockOps(key: Buffer): AesBlockOps {
  const bits = key.length * 8;
  return {
    ecb: (blocks) => {
      const c = createCipheriv(`aes-${bits}-ecb`, key, null).setAutoPadding(false);
      return Buffer.concat([c.update(blocks), c.final()]);
    },
    cbcMac: (blocks) => {
      const c = createCipheriv(`aes-${bits}-cbc`, key, Buffer.alloc(16)).setAutoPadding(false);
      const out = Buffer.concat([c.update(blocks), c.final()]);
      return out.subarray(out.length - 16);
    },
  };
}

describe('ccm-blocks.ts against RFC 3610 and SP 800-38C', () => {
  it('RFC 3610 packet vectors #1-#24 (M = 8 and 10)', () => {
    assert.equal(rfc3610.length, 24);
    for (const v of rfc3610) {
      const ops = nodeBlockOps(hex(v.key));
      const sealed = ccmSeal(ops, hex(v.nonce), hex(v.plaintext), hex(v.aad), v.M);
      assert.equal(Buffer.from(sealed).toString('hex'), v.sealed.toLowerCase(), `vector #${v.n}`);
      assert.deepEqual(Buffer.from(ccmOpen(ops, hex(v.nonce), sealed, hex(v.aad), v.M)!), hex(v.plaintext));
      const bad = Buffer.from(sealed);
      bad[bad.length - 1]! ^= 0x01;
      assert.equal(ccmOpen(ops, hex(v.nonce), bad, hex(v.aad), v.M), undefined);
    }
  });

  it('SP 800-38C examples C.1-C.4 (tags of 4, 6, 8, 14 bytes; 64 KiB of AAD in C.4)', () => {
    assert.equal(sp80038c.length, 4);
    for (const v of sp80038c) {
      const ops = nodeBlockOps(hex(v.key));
      const aad = sp80038cAad(v);
      const sealed = ccmSeal(ops, hex(v.nonce), hex(v.plaintext), aad, v.tagLength);
      assert.equal(Buffer.from(sealed).toString('hex'), v.sealed.toLowerCase(), `example ${v.example}`);
      assert.deepEqual(Buffer.from(ccmOpen(ops, hex(v.nonce), sealed, aad, v.tagLength)!), hex(v.plaintext));
    }
  });
});

function storeVectorSuite(open: () => Promise<KeyStore>): void {
  let ks: KeyStore;
  const prefix = `v${randomBytes(3).toString('hex')}-`;

  it('RFC 3610 packet vectors with M = 8 as AES-128-CCM-8', async () => {
    ks = await open();
    const m8 = rfc3610.filter((v) => v.M === 8);
    assert.equal(m8.length, 12);
    for (const v of m8) {
      const label = `${prefix}rfc3610-${v.n}`;
      await ks.importKey(label, 'aes-128', hex(v.key));
      const sealed = await ks.seal(label, 'AES-128-CCM-8', hex(v.nonce), hex(v.plaintext), hex(v.aad));
      assert.equal(Buffer.from(sealed).toString('hex'), v.sealed.toLowerCase(), `vector #${v.n}`);
      assert.deepEqual(Buffer.from(await ks.open(label, 'AES-128-CCM-8', hex(v.nonce), hex(v.sealed), hex(v.aad))), hex(v.plaintext));
      const bad = hex(v.sealed);
      bad[0]! ^= 0x80;
      await rejectsWith(ks.open(label, 'AES-128-CCM-8', hex(v.nonce), bad, hex(v.aad)), 'ERR_AEAD_AUTH_FAILED');
    }
  });

  it('GCM specification test cases with 96-bit IVs (1-4, 13-16)', async () => {
    const iv96 = gcm.filter((v) => v.iv.length === 24);
    assert.equal(iv96.length, 8);
    for (const v of iv96) {
      const key = hex(v.key);
      const type = key.length === 16 ? 'aes-128' : 'aes-256';
      const alg: KeyStoreAeadAlgorithm = key.length === 16 ? 'AES-128-GCM' : 'AES-256-GCM';
      const label = `${prefix}gcm-${v.name.replace(/\W+/g, '-')}`;
      await ks.importKey(label, type, key);
      const sealed = await ks.seal(label, alg, hex(v.iv), hex(v.plaintext), hex(v.aad));
      assert.equal(Buffer.from(sealed).toString('hex'), (v.ciphertext + v.tag).toLowerCase(), v.name);
      assert.deepEqual(Buffer.from(await ks.open(label, alg, hex(v.iv), sealed, hex(v.aad))), hex(v.plaintext));
    }
    await ks.close();
  });
}

const root = mkdtempSync(join(tmpdir(), 'rootline-ks-vec-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('published vectors through the software backend', () => {
  storeVectorSuite(() => openSoftwareKeyStore({ directory: root, masterKey: randomBytes(32) }));
});

const skip = softHsmSkip();
let token: TestToken | undefined;
if (skip === false) token = createSoftHsmToken();
after(() => token?.cleanup());

describe('published vectors through the PKCS#11 backend (SoftHSM2)', { skip }, () => {
  storeVectorSuite(() => openTokenKeyStore(token!));
});
