import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSoftwareKeyStore } from '../../src/crypto/keystore/software.js';
import type { KeyStore } from '../../src/crypto/keystore/types.js';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { keyStoreMacKey, rawMacKey, type MacKey } from '../../src/cose/mac-key.js';
import { mac0, verifyMac0 } from '../../src/cose/mac0.js';
import { rejectsWithCode, throwsWithCode, utf8 } from './helpers.js';

const secret = new Uint8Array(randomBytes(32));
const payload = utf8('{"reading": 21.5}');

function fields(bytes: Uint8Array): unknown[] {
  const v = decodeCbor(bytes);
  return (v instanceof CborTag ? v.contents : v) as unknown[];
}

describe('mac0 / verifyMac0', () => {
  for (const [alg, tagLength] of [[4, 8], [5, 32]] as const) {
    it(`HMAC alg ${alg}: ${tagLength}-byte tag, tag 17, alg protected, verifies with raw key or MacKey`, async () => {
      const msg = await mac0({ payload, key: rawMacKey(secret, alg) });
      const decoded = decodeCbor(msg);
      assert.ok(decoded instanceof CborTag && decoded.tag === 17);
      const [prot, , , tag] = fields(msg) as [Uint8Array, unknown, unknown, Uint8Array];
      assert.deepEqual(decodeCbor(prot), new Map([[1, alg]]));
      assert.equal(tag.length, tagLength);
      assert.deepEqual((await verifyMac0(msg, { key: secret })).payload, payload);
      assert.deepEqual((await verifyMac0(msg, { key: rawMacKey(secret, alg) })).payload, payload);
    });
  }

  it('HMAC 256/64 is the leftmost 8 bytes of HMAC 256/256 over the same structure', async () => {
    // Same protected bucket for both (alg carried unprotected), so only the truncation differs.
    const m4 = await mac0({ payload, key: rawMacKey(secret, 4), unprotectedHeader: { alg: 4 } });
    const m5 = await mac0({ payload, key: rawMacKey(secret, 5), unprotectedHeader: { alg: 5 } });
    assert.deepEqual((fields(m4)[3] as Uint8Array), (fields(m5)[3] as Uint8Array).subarray(0, 8));
  });

  it('rejects a wrong key, a wrong external AAD, and a key bound to another algorithm', async () => {
    const msg = await mac0({ payload, key: rawMacKey(secret, 5), externalAad: utf8('ctx') });
    await verifyMac0(msg, { key: secret, externalAad: utf8('ctx') });
    await rejectsWithCode(verifyMac0(msg, { key: new Uint8Array(randomBytes(32)), externalAad: utf8('ctx') }), 'ERR_COSE_MAC_INVALID');
    await rejectsWithCode(verifyMac0(msg, { key: secret }), 'ERR_COSE_MAC_INVALID');
    await rejectsWithCode(verifyMac0(msg, { key: rawMacKey(secret, 4), externalAad: utf8('ctx') }), 'ERR_COSE_KEY_MISMATCH');
    await rejectsWithCode(verifyMac0(msg, { key: secret, externalAad: utf8('ctx'), algorithms: [4] }), 'ERR_COSE_ALGORITHM_NOT_ALLOWED');
  });

  it('rejects a truncated or extended tag', async () => {
    const msg = await mac0({ payload, key: rawMacKey(secret, 5), tagged: false });
    const [p, u, pl, tag] = fields(msg) as [Uint8Array, unknown, Uint8Array, Uint8Array];
    await rejectsWithCode(verifyMac0(encodeCbor([p, u, pl, tag.subarray(0, 8)]), { key: secret }), 'ERR_COSE_MAC_INVALID');
    await rejectsWithCode(verifyMac0(encodeCbor([p, u, pl, new Uint8Array([...tag, 0])]), { key: secret }), 'ERR_COSE_MAC_INVALID');
  });

  it('supports detached payloads and kid-based key resolution', async () => {
    const msg = await mac0({ payload, key: rawMacKey(secret), unprotectedHeader: { kid: utf8('sensor-7') }, detachPayload: true });
    assert.equal(fields(msg)[2], null);
    const resolveKey = ({ kid }: { kid: Uint8Array | undefined }) => (kid !== undefined && Buffer.from(kid).toString() === 'sensor-7' ? secret : undefined);
    await rejectsWithCode(verifyMac0(msg, { resolveKey }), 'ERR_COSE_DETACHED_CONTENT');
    assert.deepEqual((await verifyMac0(msg, { resolveKey, detachedPayload: payload })).kid, utf8('sensor-7'));
    const other = await mac0({ payload, key: rawMacKey(secret), unprotectedHeader: { kid: utf8('sensor-8') } });
    await rejectsWithCode(verifyMac0(other, { resolveKey }), 'ERR_COSE_KEY_NOT_FOUND');
  });

  it('checks its arguments', async () => {
    throwsWithCode(() => rawMacKey(new Uint8Array(16)), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => rawMacKey(new Uint8Array(32), 6), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => rawMacKey(secret, 99), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(mac0({ payload, key: {} as MacKey }), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(mac0({ payload, key: rawMacKey(secret, 5), protectedHeader: { alg: 4 } }), 'ERR_INVALID_ARGUMENT');
    const liar: MacKey = { alg: 5, mac: async () => new Uint8Array(8) };
    await rejectsWithCode(mac0({ payload, key: liar }), 'ERR_INVALID_ARGUMENT');
    const msg = await mac0({ payload, key: rawMacKey(secret) });
    await rejectsWithCode(verifyMac0(msg, {}), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(verifyMac0(msg, { key: 'secret' as unknown as Uint8Array }), 'ERR_INVALID_ARGUMENT');
  });
});

describe('mac0 with a KeyStore hmac-256 key', () => {
  let dir: string;
  let store: KeyStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rootline-cose-mac-'));
    store = await openSoftwareKeyStore({ directory: dir, masterKey: new Uint8Array(randomBytes(32)) });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('MACs inside the store; the same secret imported raw verifies it, for 256/64 and 256/256', async () => {
    await store.importKey('mac', 'hmac-256', secret);
    for (const alg of [4, 5]) {
      const msg = await mac0({ payload, key: await keyStoreMacKey(store, 'mac', alg) });
      assert.deepEqual((await verifyMac0(msg, { key: secret })).payload, payload);
      assert.deepEqual((await verifyMac0(msg, { key: await keyStoreMacKey(store, 'mac', alg) })).payload, payload);
    }
  });

  it('refuses non-HMAC keys and algorithms the store cannot compute', async () => {
    await store.generateKey('sig', 'ed25519');
    await rejectsWithCode(keyStoreMacKey(store, 'sig'), 'ERR_INVALID_ARGUMENT');
    await rejectsWithCode(keyStoreMacKey(store, 'mac', 7), 'ERR_INVALID_ARGUMENT');
  });
});
