import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { openSoftwareKeyStore } from '../../src/crypto/keystore/index.js';
import { CREDENTIAL_SEAL_LABEL, CredentialSealer } from '../../src/server/credential-seal.js';
import { isRootlineError } from '../../src/errors.js';
import { makeTempDir } from './harness.js';

async function withKeyStore(t: { after(fn: () => unknown): void }) {
  const dir = makeTempDir('rootline-seal-');
  const keystore = await openSoftwareKeyStore({ directory: dir, masterKey: randomBytes(32) });
  t.after(async () => {
    await keystore.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return keystore;
}

test('open creates the AES-256 sealing key once; seal/unseal round-trips', async (t) => {
  const keystore = await withKeyStore(t);
  const first = await CredentialSealer.open(keystore);
  assert.equal(first.created, true);
  assert.equal((await keystore.getKeyInfo(CREDENTIAL_SEAL_LABEL)).type, 'aes-256');
  const second = await CredentialSealer.open(keystore);
  assert.equal(second.created, false);

  const psk = randomBytes(16);
  const sealed = await first.sealer.seal('dev-1', 'id-1', psk);
  assert.equal(sealed[0], 1);
  assert.equal(sealed.length, 1 + 12 + 16 + 16);
  assert.ok(!Buffer.from(sealed).includes(psk));
  // The other instance over the same key store opens it: the key is the store's, not the object's.
  assert.deepEqual(Buffer.from(await second.sealer.unseal('dev-1', 'id-1', sealed)), psk);
  // Fresh nonce every time.
  assert.notDeepEqual(await first.sealer.seal('dev-1', 'id-1', psk), sealed);
});

test('a sealed key moved to another endpoint or identity, or altered, does not open', async (t) => {
  const keystore = await withKeyStore(t);
  const { sealer } = await CredentialSealer.open(keystore);
  const sealed = await sealer.seal('dev-1', 'id-1', randomBytes(32));
  const authFailed = (e: unknown) => isRootlineError(e, 'ERR_AEAD_AUTH_FAILED');
  await assert.rejects(sealer.unseal('dev-2', 'id-1', sealed), authFailed);
  await assert.rejects(sealer.unseal('dev-1', 'id-2', sealed), authFailed);
  const flipped = new Uint8Array(sealed);
  flipped[20]! ^= 1;
  await assert.rejects(sealer.unseal('dev-1', 'id-1', flipped), authFailed);
  await assert.rejects(sealer.unseal('dev-1', 'id-1', sealed.subarray(0, 20)), (e: unknown) => isRootlineError(e, 'ERR_SERVER_SEALED_CREDENTIAL'));
  const v2 = new Uint8Array(sealed);
  v2[0] = 2;
  await assert.rejects(sealer.unseal('dev-1', 'id-1', v2), /unknown format version 2/);
});

test('arguments are checked: PSK 1..64 bytes, names non-empty', async (t) => {
  const keystore = await withKeyStore(t);
  const { sealer } = await CredentialSealer.open(keystore);
  await assert.rejects(sealer.seal('dev', 'id', new Uint8Array(0)), /key: expected 1\.\.64 bytes, got 0/);
  await assert.rejects(sealer.seal('dev', 'id', new Uint8Array(65)), /key: expected 1\.\.64 bytes, got 65/);
  await assert.rejects(sealer.seal('', 'id', new Uint8Array(1)), /endpoint/);
});

test('a sealing label holding a non-AES-256 key is refused', async (t) => {
  const keystore = await withKeyStore(t);
  await keystore.generateKey(CREDENTIAL_SEAL_LABEL, 'hmac-256');
  await assert.rejects(CredentialSealer.open(keystore), /credential sealing key must be aes-256/);
});
