import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { RecordProtection } from '../../src/dtls/record-protection.js';
import { createAead } from '../../src/crypto/aead.js';
import { isRootlineError } from '../../src/errors.js';
import type { BulkCipher } from '../../src/dtls/constants.js';

const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const salt = Buffer.from('a0a1a2a3', 'hex');
const ciphers: BulkCipher[] = ['aes-128-ccm8', 'aes-128-gcm', 'aria-128-gcm', 'lea-128-ccm8', 'lea-128-gcm'];

describe('AEAD record protection', () => {
  for (const cipher of ciphers) {
    it(`${cipher}: seals as nonce_explicit || ciphertext || tag and opens again`, () => {
      const p = new RecordProtection(cipher, key, salt);
      const pt = Buffer.from('hello, constrained world');
      const frag = p.seal(23, 0xfefd, 1, 42, pt);
      assert.equal(frag.length, pt.length + p.expansion);
      assert.deepEqual([...frag.subarray(0, 8)], [0, 1, 0, 0, 0, 0, 0, 42], 'explicit nonce is epoch||seq');
      assert.deepEqual(Buffer.from(p.open(23, 0xfefd, 1, 42, frag)), pt);
    });

    it(`${cipher}: any change to header fields or bytes fails with ERR_DTLS_BAD_RECORD_MAC`, () => {
      const p = new RecordProtection(cipher, key, salt);
      const frag = p.seal(23, 0xfefd, 1, 42, Buffer.from('payload'));
      const mac = (e: unknown) => isRootlineError(e, 'ERR_DTLS_BAD_RECORD_MAC');
      assert.throws(() => p.open(22, 0xfefd, 1, 42, frag), mac);
      assert.throws(() => p.open(23, 0xfefd, 2, 42, frag), mac);
      assert.throws(() => p.open(23, 0xfefd, 1, 43, frag), mac);
      for (let i = 0; i < frag.length; i++) {
        const bad = Uint8Array.from(frag);
        bad[i]! ^= 1;
        assert.throws(() => p.open(23, 0xfefd, 1, 42, bad), mac, `flip at ${i}`);
      }
      assert.throws(() => p.open(23, 0xfefd, 1, 42, frag.subarray(0, 5)), mac);
    });
  }

  it('LEA-CCM_8 records match src/crypto LEA-128-CCM-8 over the same nonce and AAD', () => {
    const p = new RecordProtection('lea-128-ccm8', key, salt);
    const pt = Buffer.from('lea payload');
    const frag = p.seal(23, 0xfefd, 2, 7, pt);
    const nonce = Buffer.concat([salt, Buffer.from('0002000000000007', 'hex')]);
    const aad = Buffer.from('0002000000000007' + '17' + 'fefd' + pt.length.toString(16).padStart(4, '0'), 'hex');
    assert.deepEqual(Buffer.from(frag.subarray(8)), Buffer.from(createAead('LEA-128-CCM-8', key).seal(nonce, pt, aad)));
  });

  it('seals empty plaintexts (empty application data records)', () => {
    for (const cipher of ciphers) {
      const p = new RecordProtection(cipher, key, salt);
      assert.equal(p.open(23, 0xfefd, 1, 1, p.seal(23, 0xfefd, 1, 1, new Uint8Array(0))).length, 0);
    }
  });

  it('matches an independent construction of the RFC 6655 nonce and AAD (CCM_8)', () => {
    const p = new RecordProtection('aes-128-ccm8', key, salt);
    const pt = Buffer.from('0102030405', 'hex');
    const frag = p.seal(23, 0xfefd, 3, 0x010203, pt);
    const nonce = Buffer.concat([salt, Buffer.from('0003000000010203', 'hex')]);
    const aad = Buffer.from('0003000000010203' + '17' + 'fefd' + '0005', 'hex');
    const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
    c.setAAD(aad, { plaintextLength: 5 });
    const ct = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
    assert.deepEqual(Buffer.from(frag.subarray(8)), ct);
  });
});
