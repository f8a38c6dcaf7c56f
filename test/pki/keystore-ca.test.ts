/**
 * The point of signing through a Signer: a CA whose key lives in a KeyStore (software, or a
 * PKCS#11 token via SoftHSM2) issues certificates and CRLs openssl accepts, and a device key in
 * a store signs its own CSR, without private key material ever leaving the store.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSoftwareKeyStore, type KeyStore } from '../../src/crypto/keystore/index.js';
import { keyStoreSigner } from '../../src/crypto/signer.js';
import { CertificateAuthority, createRootCa } from '../../src/pki/certificate-authority.js';
import { createCsr } from '../../src/pki/create-csr.js';
import { encodePem } from '../../src/pki/pem.js';
import { verifyChain } from '../../src/pki/verify-chain.js';
import { createSoftHsmToken, openTokenKeyStore, softHsmSkip, type TestToken } from '../crypto/keystore/softhsm.js';
import { openssl, opensslSkip, tempDir } from './openssl.js';

async function exerciseStore(store: KeyStore, label: string): Promise<void> {
  const dir = tempDir();
  try {
    await store.generateKey(`${label}-root`, 'ec-p256');
    await store.generateKey(`${label}-int`, 'ed25519');
    await store.generateKey(`${label}-device`, 'ec-p256');
    const rootSigner = await keyStoreSigner(store, `${label}-root`);
    const root = await createRootCa({ signer: rootSigner, subject: `CN=${label} Root`, validityDays: 365, pathLen: 1 });
    const int = await root.createIntermediateCa({ signer: await keyStoreSigner(store, `${label}-int`), subject: `CN=${label} Issuing`, validityDays: 100 });
    const csr = await createCsr({ signer: await keyStoreSigner(store, `${label}-device`), subject: `CN=${label} device` });
    const leaf = await int.issueCertificate({ csr, extKeyUsage: ['clientAuth'] });
    assert.deepEqual(leaf.certificate.publicKey, await store.getPublicKey(`${label}-device`));

    dir.write('ca.pem', root.state.certificate);
    dir.write('int.pem', int.state.certificate);
    dir.write('leaf.pem', leaf.pem);
    dir.write('csr.pem', encodePem('CERTIFICATE REQUEST', csr));
    const v = openssl(['verify', '-CAfile', 'ca.pem', '-untrusted', 'int.pem', 'leaf.pem'], dir.path);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(openssl(['req', '-in', 'csr.pem', '-verify', '-noout'], dir.path).stderr, /verify OK/);

    int.revoke(leaf.serialNumber, 'superseded');
    dir.write('crl.pem', encodePem('X509 CRL', await int.createCrl()));
    const crlCheck = openssl(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'ca.pem', '-untrusted', 'int.pem', 'leaf.pem'], dir.path);
    assert.match(crlCheck.stdout + crlCheck.stderr, /certificate revoked/);

    // The CA reopens from persisted state with the store's signer: the state holds no key.
    const saved = JSON.stringify(root.state);
    assert.ok(!saved.includes('PRIVATE'));
    const reopened = CertificateAuthority.open(await keyStoreSigner(store, `${label}-root`), JSON.parse(saved));
    const again = await reopened.issueCertificate({ subject: 'CN=after reopen', publicKey: await store.getPublicKey(`${label}-device`) });
    assert.equal(verifyChain(again.der, [], [root.certificate]).chain.length, 2);
  } finally {
    dir.cleanup();
  }
}

describe('CA keys in a KeyStore', { skip: opensslSkip }, () => {
  it('software KeyStore', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'rootline-pki-ks-'));
    const store = await openSoftwareKeyStore({ directory, masterKey: randomBytes(32) });
    try {
      await exerciseStore(store, 'sw');
    } finally {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  const hsmSkip = softHsmSkip();
  let token: TestToken | undefined;
  after(() => token?.cleanup());
  it('PKCS#11 token (SoftHSM2)', { skip: hsmSkip }, async () => {
    token = createSoftHsmToken();
    const store = await openTokenKeyStore(token);
    try {
      await exerciseStore(store, 'hsm');
    } finally {
      await store.close();
    }
  });
});
