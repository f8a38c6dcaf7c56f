import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openPkcs11KeyStore } from '../../src/crypto/keystore/index.js';
import { initFactory, openFactory } from '../../src/onboarding/factory.js';
import { settingsMasaRegistry } from '../../src/onboarding/masa-registry.js';
import { signVoucher } from '../../src/onboarding/signed-voucher.js';
import { findAttribute, parseCertificate, verifyChain } from '../../src/pki/index.js';
import { openSqliteStore } from '../../src/store/index.js';
import { createSoftHsmToken, softHsmSkip, type TestToken } from '../crypto/keystore/softhsm.js';
import { createTestFactory, opensslSkip } from './helpers.js';

describe('factory', () => {
  it('mints an IDevID that openssl verifies against manufacturer-ca.pem, with serial and MASA URL', { skip: opensslSkip }, async () => {
    const t = await createTestFactory('https://masa.acme.example:9443/');
    try {
      const out = join(t.dir, 'dev1');
      const minted = await t.factory.mintDevice({ serial: 'SN-0001', model: 'Sensor X', outDir: out });
      const r = spawnSync('openssl', ['verify', '-CAfile', t.factory.files.manufacturerCa, join(out, 'idevid.pem')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /idevid\.pem: OK/);
      const cert = parseCertificate(readFileSync(minted.files.certificate, 'utf8'));
      assert.equal(findAttribute(cert.subjectRdns, 'serialNumber'), 'SN-0001');
      assert.equal(cert.masaUrl, 'https://masa.acme.example:9443/');
      assert.deepEqual(cert.extKeyUsage, ['clientAuth']);
      // The key file is the device's private key for exactly this certificate, readable by the owner only.
      const key = createPrivateKey(readFileSync(minted.files.key, 'utf8'));
      assert.deepEqual(new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })), cert.publicKey);
      assert.equal(statSync(minted.files.key).mode & 0o077, 0);
      // The chain file verifies on its own (leaf + manufacturer CA).
      const chain = spawnSync('openssl', ['verify', '-CAfile', t.factory.files.manufacturerCa, '-untrusted', minted.files.chain, minted.files.certificate], { encoding: 'utf8' });
      assert.equal(chain.status, 0, chain.stderr);
      // The MASA certificate chains to masa-ca.pem, not to the manufacturer CA.
      assert.equal(verifyChain(t.factory.masaCertificate, [], [readFileSync(t.factory.files.masaCa, 'utf8')]).chain.length, 2);
      assert.throws(() => verifyChain(t.factory.masaCertificate, [], [readFileSync(t.factory.files.manufacturerCa, 'utf8')]), { code: 'ERR_PKI_UNTRUSTED' });
      const record = await t.registry.getDevice('SN-0001');
      assert.equal(record?.idevidFingerprint, cert.fingerprint256);
      assert.equal(record?.model, 'Sensor X');
      assert.equal(record?.owner, undefined);
      const audit = await t.store.audit.list({ action: 'factory.mint' });
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.subject, 'SN-0001');
    } finally {
      await t.close();
    }
  });

  it('refuses a second init, a duplicate serial, a reused out dir and bad serials', async () => {
    const t = await createTestFactory();
    try {
      await assert.rejects(initFactory({ keyStore: t.keyStore, directory: join(t.dir, 'factory'), registry: t.registry, masaUrl: 'https://m.example' }), { code: 'ERR_ONBOARDING_FACTORY_EXISTS' });
      await assert.rejects(initFactory({ keyStore: t.keyStore, directory: join(t.dir, 'other'), registry: t.registry, masaUrl: 'https://m.example' }), { code: 'ERR_ONBOARDING_FACTORY_EXISTS' });
      await t.factory.mintDevice({ serial: 'A1', model: 'M', outDir: join(t.dir, 'a1') });
      await assert.rejects(t.factory.mintDevice({ serial: 'A1', model: 'M', outDir: join(t.dir, 'a1b') }), { code: 'ERR_ONBOARDING_DEVICE_EXISTS' });
      assert.equal(existsSync(join(t.dir, 'a1b')), false);
      await assert.rejects(t.factory.mintDevice({ serial: 'A2', model: 'M', outDir: join(t.dir, 'a1') }), { code: 'ERR_INVALID_ARGUMENT' });
      assert.equal(await t.registry.getDevice('A2'), undefined, 'nothing half-created');
      for (const serial of ['', 'has space', 'under_score', 'x'.repeat(65), '-lead']) {
        await assert.rejects(t.factory.mintDevice({ serial, model: 'M', outDir: join(t.dir, 'bad') }), { code: 'ERR_INVALID_ARGUMENT' }, serial);
      }
      await assert.rejects(initFactory({ keyStore: t.keyStore, directory: join(t.dir, 'x'), registry: t.registry, masaUrl: 'http://plain.example' }), { code: 'ERR_INVALID_ARGUMENT' });
      // A registry that refuses at the last step (a concurrent mint of the same serial on
      // another line) leaves no device files behind.
      const racing = { ...t.registry, getDevice: async () => undefined };
      const line2 = await openFactory({ keyStore: t.keyStore, directory: join(t.dir, 'factory'), registry: racing });
      await assert.rejects(line2.mintDevice({ serial: 'A1', model: 'M', outDir: join(t.dir, 'race') }), { code: 'ERR_ONBOARDING_DEVICE_EXISTS' });
      assert.deepEqual(readdirSync(join(t.dir, 'race')), []);
    } finally {
      await t.close();
    }
  });

  it('reopens from its directory and keeps minting under the same CA', async () => {
    const t = await createTestFactory();
    try {
      const again = await openFactory({ keyStore: t.keyStore, directory: join(t.dir, 'factory'), registry: t.registry });
      const minted = await again.mintDevice({ serial: 'R1', model: 'M', outDir: join(t.dir, 'r1') });
      verifyChain(readFileSync(minted.files.certificate, 'utf8'), [], [t.factory.manufacturerCaCertificate], { purpose: 'clientAuth' });
      await assert.rejects(openFactory({ keyStore: t.keyStore, directory: join(t.dir, 'nothing'), registry: t.registry }), { code: 'ERR_ONBOARDING_FACTORY_STATE' });
    } finally {
      await t.close();
    }
  });

  const hsmSkip = softHsmSkip();
  let token: TestToken | undefined;
  after(() => token?.cleanup());
  it('keeps the CA and MASA keys in a PKCS#11 token (SoftHSM2), and signs vouchers there', { skip: hsmSkip || opensslSkip }, async () => {
    token = createSoftHsmToken();
    const keyStore = await openPkcs11KeyStore({ module: token.module, tokenLabel: token.tokenLabel, pin: token.pin });
    const store = await openSqliteStore({ file: ':memory:' });
    const dir = mkdtempSync(join(tmpdir(), 'rootline-factory-hsm-'));
    try {
      const factory = await initFactory({ keyStore, directory: join(dir, 'f'), registry: settingsMasaRegistry(store.settings), masaUrl: 'https://masa.example' });
      assert.equal((await keyStore.getKeyInfo('factory.manufacturer-ca')).backend, 'pkcs11');
      const minted = await factory.mintDevice({ serial: 'HSM1', model: 'M', outDir: join(dir, 'd') });
      const r = spawnSync('openssl', ['verify', '-CAfile', factory.files.manufacturerCa, minted.files.certificate], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      // A voucher signed inside the token verifies with the real openssl against masa-ca.pem.
      const voucher = await signVoucher(
        { createdOn: new Date(), assertion: 'logged', serialNumber: 'HSM1', pinnedDomainCert: factory.manufacturerCaCertificate.der, nonce: new Uint8Array(16).fill(5) },
        { signer: factory.masaSigner, certificates: [factory.masaCertificate] },
      );
      writeFileSync(join(dir, 'v.der'), voucher);
      const v = spawnSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', join(dir, 'v.der'), '-CAfile', factory.files.masaCa, '-out', join(dir, 'v.json')], { encoding: 'utf8' });
      assert.equal(v.status, 0, v.stderr);
      assert.match(readFileSync(join(dir, 'v.json'), 'utf8'), /"serial-number":"HSM1"/);
    } finally {
      await keyStore.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
