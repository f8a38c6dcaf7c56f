/**
 * An account's Secret Key written by addBootstrapAccount/addServerAccount is the PKCS#8 export of
 * the KeyObject given; the connection remembers that key for the value, so holdPrivateKey takes a
 * signer for it without exporting again, and only for that very key object — any other key still
 * goes through the export-and-compare check.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { addBootstrapAccount, addServerAccount } from '../../src/client/accounts.js';
import { holdPrivateKey, keyHeldFor } from '../../src/client/connection.js';
import { ObjectTree } from '../../src/client/object-tree.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import type { Lwm2mValue } from '../../src/lwm2m/model/node.js';
import { ObjectRegistry } from '../../src/lwm2m/model/registry.js';

function newTree(): ObjectTree {
  const tree = new ObjectTree(new ObjectRegistry());
  tree.defineObject(0);
  tree.defineObject(1);
  return tree;
}

function secretOf(tree: ObjectTree, instance: number): Uint8Array {
  const v = tree.get(0, instance, 5) as Lwm2mValue | undefined;
  assert.equal(v?.type, 'opaque');
  return (v as { value: Uint8Array }).value;
}

test('the written Secret Key is the key’s PKCS#8 and is noted as exported from it; holdPrivateKey takes it for that key only', () => {
  const tree = newTree();
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const cert = new Uint8Array([0x30, 0x00]);
  addBootstrapAccount(tree, { uri: 'coaps://127.0.0.1:5684', security: { mode: 'x509', privateKey: key, certificate: cert, serverCertificate: cert } });
  const secret = secretOf(tree, 0);
  assert.deepEqual(Buffer.from(secret), key.export({ type: 'pkcs8', format: 'der' }));
  assert.equal(keyHeldFor(secret).exportedFrom, key);
  assert.equal(keyHeldFor(secret).signer, undefined);
  // Another key: refused (the export-and-compare path), nothing held.
  holdPrivateKey(secret, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
  assert.equal(keyHeldFor(secret).signer, undefined);
  const signer = keyObjectSigner(key);
  holdPrivateKey(secret, key, signer);
  assert.equal(keyHeldFor(secret).signer, signer);

  // The same key material in another KeyObject is still checked by export and taken.
  const tree2 = newTree();
  addServerAccount(tree2, { uri: 'coaps://127.0.0.1:5684', security: { mode: 'x509', privateKey: key, certificate: cert, serverCertificate: cert } });
  const secret2 = secretOf(tree2, 1);
  const twin = createPrivateKey(key.export({ type: 'pkcs8', format: 'pem' }));
  const s2 = keyObjectSigner(twin);
  holdPrivateKey(secret2, twin, s2);
  assert.equal(keyHeldFor(secret2).signer, s2);
  // A value nobody exported (bytes of the same key, another buffer) is not noted.
  assert.equal(keyHeldFor(Uint8Array.from(secret)).exportedFrom, undefined);
});
