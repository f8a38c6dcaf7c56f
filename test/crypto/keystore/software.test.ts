/**
 * The software backend: the shared contract, plus what is specific to keeping keys in a file
 * under a master key (reopen, wrong/missing master key, nothing secret on disk, tampering).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { isRootlineError } from '../../../src/errors.js';
import { KEYSTORE_FILE_NAME, openSoftwareKeyStore, type KeyStore } from '../../../src/crypto/keystore/index.js';
import { keyStoreContract, rejectsWith, spkiKey } from './contract.js';
import { jwkOf } from '../../../src/crypto/key-pairs.js';

const root = mkdtempSync(join(tmpdir(), 'rootline-ks-sw-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `s${n++}`);

const contractDir = freshDir();
const contractKey = randomBytes(32);
keyStoreContract({ backend: 'software', open: () => openSoftwareKeyStore({ directory: contractDir, masterKey: contractKey }), propertyRuns: 400 });

/** A store with one key of each kind, closed again; returns what a test needs to check. */
async function populated(): Promise<{ dir: string; masterKey: Buffer; aes: Buffer; hmac: Buffer; ecPkcs8: Buffer; ecD: Buffer; sealed: Uint8Array; nonce: Buffer; signPub: Uint8Array }> {
  const dir = freshDir();
  const masterKey = randomBytes(32);
  const ks = await openSoftwareKeyStore({ directory: dir, masterKey });
  const aes = randomBytes(32);
  const hmac = randomBytes(48);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecPkcs8 = ec.privateKey.export({ type: 'pkcs8', format: 'der' });
  const ecD = Buffer.from(jwkOf(ec.privateKey).d!, 'base64url');
  await ks.importKey('aes', 'aes-256', aes);
  await ks.importKey('hmac', 'hmac-256', hmac);
  await ks.importKey('ec', 'ec-p256', ecPkcs8);
  await ks.generateKey('ed', 'ed25519');
  const nonce = randomBytes(12);
  const sealed = await ks.seal('aes', 'AES-256-GCM', nonce, Buffer.from('kept across restarts'));
  const signPub = await ks.getPublicKey('ed');
  await ks.close();
  return { dir, masterKey, aes, hmac, ecPkcs8, ecD, sealed, nonce, signPub };
}

function fileOf(dir: string): string {
  return join(dir, KEYSTORE_FILE_NAME);
}

function editFile(dir: string, edit: (doc: { keys: Record<string, string>[]; check: Record<string, string> }) => void): void {
  const doc = JSON.parse(readFileSync(fileOf(dir), 'utf8'));
  edit(doc);
  writeFileSync(fileOf(dir), JSON.stringify(doc));
}

function flipB64(value: string, index = 0): string {
  const b = Buffer.from(value, 'base64');
  b[index]! ^= 0x01;
  return b.toString('base64');
}

describe('software key store on disk', () => {
  it('reopens with the right master key: keys usable, old ciphertexts open', async () => {
    const p = await populated();
    const ks = await openSoftwareKeyStore({ directory: p.dir, masterKey: p.masterKey });
    assert.deepEqual((await ks.listKeys()).map((k) => k.label), ['aes', 'hmac', 'ec', 'ed']);
    assert.deepEqual(Buffer.from(await ks.open('aes', 'AES-256-GCM', p.nonce, p.sealed)), Buffer.from('kept across restarts'));
    assert.deepEqual(await ks.getPublicKey('ed'), p.signPub);
    assert.ok(verify(null, Buffer.from('m'), spkiKey(p.signPub), await ks.sign('ed', Buffer.from('m'))));
    await ks.close();
  });

  it('a wrong master key is ERR_KEYSTORE_MASTER_KEY_WRONG', async () => {
    const p = await populated();
    await rejectsWith(openSoftwareKeyStore({ directory: p.dir, masterKey: randomBytes(32) }), 'ERR_KEYSTORE_MASTER_KEY_WRONG');
    // Even for an empty store: the file is bound to the key it was created with.
    const empty = freshDir();
    await (await openSoftwareKeyStore({ directory: empty, masterKey: randomBytes(32) })).close();
    await rejectsWith(openSoftwareKeyStore({ directory: empty, masterKey: randomBytes(32) }), 'ERR_KEYSTORE_MASTER_KEY_WRONG');
  });

  it('keys but no master key is ERR_KEYSTORE_MASTER_KEY_MISSING; an empty store opens but cannot create keys', async () => {
    const p = await populated();
    await rejectsWith(openSoftwareKeyStore({ directory: p.dir }), 'ERR_KEYSTORE_MASTER_KEY_MISSING');
    const ks = await openSoftwareKeyStore({ directory: freshDir() });
    assert.deepEqual(await ks.listKeys(), []);
    await rejectsWith(ks.generateKey('k', 'aes-128'), 'ERR_KEYSTORE_MASTER_KEY_MISSING');
    await rejectsWith(ks.importKey('k', 'aes-128', randomBytes(16)), 'ERR_KEYSTORE_MASTER_KEY_MISSING');
    await ks.close();
  });

  it('the file on disk holds no secret bytes (raw, hex or base64)', async () => {
    const p = await populated();
    const raw = readFileSync(fileOf(p.dir));
    const text = raw.toString('latin1');
    for (const secret of [p.aes, p.hmac, p.ecD, p.ecPkcs8, p.masterKey]) {
      assert.equal(raw.indexOf(secret), -1);
      assert.ok(!text.includes(secret.toString('hex')));
      assert.ok(!text.includes(secret.toString('base64')));
      assert.ok(!text.includes(secret.toString('base64').slice(4, 24)), 'no base64 fragment of a secret');
    }
  });

  it('writes the file 0600 in a 0700 directory, atomically (no temporary files left)', async () => {
    const p = await populated();
    assert.equal(statSync(fileOf(p.dir)).mode & 0o777, 0o600);
    assert.equal(statSync(p.dir).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(p.dir), [KEYSTORE_FILE_NAME]);
  });

  it('a tampered file is ERR_KEYSTORE_CORRUPT', async () => {
    const edits: [string, (doc: { keys: Record<string, string>[]; check: Record<string, string> }) => void][] = [
      ['sealed key bytes', (d) => (d.keys[0]!.sealed = flipB64(d.keys[0]!.sealed!, 3))],
      ['tag', (d) => (d.keys[1]!.sealed = flipB64(d.keys[1]!.sealed!, Buffer.from(d.keys[1]!.sealed!, 'base64').length - 1))],
      ['nonce', (d) => (d.keys[0]!.nonce = flipB64(d.keys[0]!.nonce!))],
      ['label (secret moved to another label)', (d) => (d.keys[0]!.label = 'stolen')],
      ['type', (d) => (d.keys[0]!.type = 'aes-128')],
      ['public key swapped', (d) => (d.keys[3]!.publicKey = d.keys[2]!.publicKey!)],
      ['creation time', (d) => (d.keys[0]!.createdAt = '2000-01-01T00:00:00.000Z')],
      ['records swapped between labels', (d) => ([d.keys[0]!.sealed, d.keys[1]!.sealed] = [d.keys[1]!.sealed!, d.keys[0]!.sealed!])],
      ['duplicate label', (d) => (d.keys[1]!.label = d.keys[0]!.label!)],
      ['unknown type', (d) => (d.keys[0]!.type = 'rsa-2048')],
    ];
    for (const [what, edit] of edits) {
      const p = await populated();
      editFile(p.dir, edit);
      await rejectsWith(openSoftwareKeyStore({ directory: p.dir, masterKey: p.masterKey }), 'ERR_KEYSTORE_CORRUPT').catch((e) => {
        throw new Error(`${what}: ${(e as Error).message}`);
      });
    }
    const p = await populated();
    writeFileSync(fileOf(p.dir), readFileSync(fileOf(p.dir), 'utf8').slice(0, 100));
    await rejectsWith(openSoftwareKeyStore({ directory: p.dir, masterKey: p.masterKey }), 'ERR_KEYSTORE_CORRUPT');
  });

  it('a damaged check value reads as a wrong master key (the two cannot be told apart)', async () => {
    const p = await populated();
    editFile(p.dir, (d) => (d.check.sealed = flipB64(d.check.sealed!)));
    await rejectsWith(openSoftwareKeyStore({ directory: p.dir, masterKey: p.masterKey }), 'ERR_KEYSTORE_MASTER_KEY_WRONG');
  });

  it('concurrent changes are serialised: none is lost', async () => {
    const dir = freshDir();
    const masterKey = randomBytes(32);
    const ks = await openSoftwareKeyStore({ directory: dir, masterKey });
    await Promise.all(Array.from({ length: 20 }, (_, i) => ks.generateKey(`k${i}`, i % 2 ? 'aes-128' : 'ec-p256')));
    const dup = await Promise.allSettled([ks.generateKey('same', 'aes-128'), ks.generateKey('same', 'aes-256')]);
    assert.deepEqual(dup.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    await ks.close();
    const again = await openSoftwareKeyStore({ directory: dir, masterKey });
    assert.equal((await again.listKeys()).length, 21);
    await again.close();
  });

  it('fuzz: a mutated or random store file only ever gives typed errors', async () => {
    const p = await populated();
    const original = readFileSync(fileOf(p.dir), 'utf8');
    const mutation = fc.oneof(
      fc.tuple(fc.nat(original.length - 1), fc.string({ minLength: 1, maxLength: 3 })).map(([at, s]) => original.slice(0, at) + s + original.slice(at + s.length)),
      fc.nat(original.length).map((at) => original.slice(0, at)),
      fc.string({ maxLength: 200 }),
      fc.json(),
    );
    await fc.assert(
      fc.asyncProperty(mutation, async (text) => {
        writeFileSync(fileOf(p.dir), text);
        let ks: KeyStore | undefined;
        try {
          ks = await openSoftwareKeyStore({ directory: p.dir, masterKey: p.masterKey });
        } catch (e) {
          assert.ok(
            isRootlineError(e, 'ERR_KEYSTORE_CORRUPT') || isRootlineError(e, 'ERR_KEYSTORE_MASTER_KEY_WRONG'),
            `${String(e)} for ${JSON.stringify(text).slice(0, 200)}`,
          );
          return;
        }
        // A mutation that survives (whitespace, key order...) must leave a usable store.
        for (const k of await ks.listKeys()) assert.equal((await ks.getKeyInfo(k.label)).type, k.type);
        await ks.close();
      }),
      { numRuns: 300 },
    );
  });

  it('validates its options with typed errors', async () => {
    await rejectsWith(openSoftwareKeyStore({ directory: freshDir(), masterKey: randomBytes(16) }), 'ERR_INVALID_ARGUMENT');
    await rejectsWith(openSoftwareKeyStore({ directory: '' }), 'ERR_INVALID_ARGUMENT');
    await rejectsWith(openSoftwareKeyStore(null as never), 'ERR_INVALID_ARGUMENT');
  });
});
