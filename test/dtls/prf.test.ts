import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveTrafficKeys, extendedMasterSecret, finishedVerifyData, prf, pskPreMasterSecret } from '../../src/dtls/prf.js';

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
