import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { HmacSha256Key, Sha256, sha256Js } from '../../src/dtls/hmac-sha256.js';
import { deriveTrafficKeys, extendedMasterSecret, finishedVerifyData, prf, pSha256, pskPreMasterSecret } from '../../src/dtls/prf.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('TLS 1.2 PRF', () => {
  it('matches the published P_SHA256 test vector', () => {
    // The widely used TLS 1.2 PRF (SHA-256) vector (IETF TLS list, "test label").
    const out = prf(hex('9bbe436ba940f017b17652849a71db35'), 'test label', hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
    assert.equal(
      Buffer.from(out).toString('hex'),
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  it('builds the RFC 4279 PSK premaster secret', () => {
    assert.equal(Buffer.from(pskPreMasterSecret(hex('aabbcc'))).toString('hex'), '0003000000' + '0003aabbcc');
  });

  it('derives 48-byte extended master secrets that depend on the session hash', () => {
    const pms = pskPreMasterSecret(hex('00112233'));
    const a = extendedMasterSecret(pms, new Uint8Array(32));
    const b = extendedMasterSecret(pms, new Uint8Array(32).fill(1));
    assert.equal(a.length, 48);
    assert.notDeepEqual(a, b);
    assert.deepEqual(a, prf(pms, 'extended master secret', new Uint8Array(32), 48));
  });

  it('splits the key block into keys then IVs, client first', () => {
    const ms = new Uint8Array(48).fill(7);
    const cr = new Uint8Array(32).fill(1);
    const sr = new Uint8Array(32).fill(2);
    const block = prf(ms, 'key expansion', Buffer.concat([sr, cr]), 40);
    const k = deriveTrafficKeys(ms, cr, sr);
    assert.deepEqual(Buffer.concat([k.clientWriteKey, k.serverWriteKey, k.clientWriteIv, k.serverWriteIv]), Buffer.from(block));
    assert.equal(finishedVerifyData(ms, 'client', new Uint8Array(32)).length, 12);
    assert.notDeepEqual(finishedVerifyData(ms, 'client', new Uint8Array(32)), finishedVerifyData(ms, 'server', new Uint8Array(32)));
  });
});

describe('HMAC-SHA-256 in JavaScript (the PRF\'s HMACs)', () => {
  const nodePSha256 = (secret: Uint8Array, seed: Uint8Array, length: number): Buffer => {
    const out: Buffer[] = [];
    let a: Buffer = Buffer.from(seed);
    let n = 0;
    while (n < length) {
      a = createHmac('sha256', secret).update(a).digest();
      const b = createHmac('sha256', secret).update(a).update(seed).digest();
      out.push(b);
      n += b.length;
    }
    return Buffer.concat(out).subarray(0, length);
  };

  it('matches RFC 4231 test cases 1, 2 and 6 (key longer than the block)', () => {
    const mac = (key: Uint8Array, data: Uint8Array): string => {
      const out = new Uint8Array(32);
      new HmacSha256Key(key).macInto(data, undefined, out, 0);
      return Buffer.from(out).toString('hex');
    };
    assert.equal(mac(Buffer.alloc(20, 0x0b), Buffer.from('Hi There')), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    assert.equal(mac(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    assert.equal(mac(Buffer.alloc(131, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First')), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
    assert.equal(Buffer.from(sha256Js(Buffer.from('abc'))).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('gives node:crypto\'s P_SHA256 for random secrets, seeds and lengths across block boundaries', () => {
    for (let i = 0; i < 400; i++) {
      const secret = randomBytes(1 + ((i * 37) % 150));
      const seed = randomBytes((i * 53) % 220);
      const length = 1 + ((i * 29) % 130);
      assert.deepEqual(Buffer.from(pSha256(secret, seed, length)), nodePSha256(secret, seed, length), `secret ${secret.length} B, seed ${seed.length} B, length ${length}`);
    }
    // Every message length around the 55/56/64-byte padding edges, two parts.
    for (let n = 0; n < 140; n++) {
      const key = randomBytes(32);
      const a = randomBytes(n >> 1);
      const b = randomBytes(n - (n >> 1));
      const out = new Uint8Array(32);
      new HmacSha256Key(key).macInto(a, b, out, 0);
      assert.deepEqual(Buffer.from(out), createHmac('sha256', key).update(a).update(b).digest(), `message ${n} B`);
    }
  });

  it('writes its output over its own input (A(i) = HMAC(A(i-1)))', () => {
    const key = randomBytes(48);
    const a = randomBytes(32);
    const expected = createHmac('sha256', key).update(a).digest();
    new HmacSha256Key(key).macInto(a, undefined, a, 0);
    assert.deepEqual(Buffer.from(a), expected);
  });
});

describe('running SHA-256 (the handshake transcript)', () => {
  it('gives node:crypto\'s digest after every update, for messages of every size around the block', () => {
    for (let round = 0; round < 60; round++) {
      const h = new Sha256();
      const ref: Buffer[] = [];
      for (let m = 0; m < 8; m++) {
        const msg = randomBytes((round * 7 + m * 31) % 200);
        h.update(msg);
        ref.push(msg);
        // digest() does not end the hash: the transcript keeps growing after each Finished.
        assert.deepEqual(Buffer.from(h.digest()), createHash('sha256').update(Buffer.concat(ref)).digest(), `round ${round}, message ${m}`);
      }
    }
    assert.equal(Buffer.from(new Sha256().digest()).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
