/**
 * A domain (CA + registrar certificate) and pledges minted by a test factory, producing the
 * requests a real registrar and pledge send (RFC 8995 §5.2, §5.5).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Signer } from '../../src/crypto/keystore/types.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { signVoucherRequest } from '../../src/onboarding/signed-voucher.js';
import type { VoucherRequest } from '../../src/onboarding/voucher.js';
import { createRootCa, type CertificateAuthority, type IssuedCertificate } from '../../src/pki/index.js';
import type { TestFactory } from './helpers.js';

export interface TestDomain {
  ca: CertificateAuthority;
  registrarSigner: Signer;
  registrarCert: IssuedCertificate;
  /** Signs a registrar voucher request carrying `prior` (RFC 8995 §5.5). */
  registrarRequest(prior: Uint8Array, fields: Partial<VoucherRequest> & { serialNumber: string }): Promise<Uint8Array>;
}

function p256(): Signer {
  return keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
}

export async function createTestDomain(name: string): Promise<TestDomain> {
  const ca = await createRootCa({ signer: p256(), subject: `CN=${name} Domain CA,O=${name}`, validityDays: 365 });
  const registrarSigner = p256();
  const registrarCert = await ca.issueCertificate({ subject: `CN=registrar.${name}.example`, publicKey: registrarSigner.publicKey, extKeyUsage: ['serverAuth', 'clientAuth'], validity: { days: 90 } });
  return {
    ca,
    registrarSigner,
    registrarCert,
    registrarRequest: (prior, fields) =>
      signVoucherRequest({ createdOn: new Date(), priorSignedVoucherRequest: prior, ...fields }, { signer: registrarSigner, certificates: [registrarCert.der, ca.certificate.der] }),
  };
}

export interface TestPledge {
  serial: string;
  signer: Signer;
  idevidPem: string;
  /** The pledge's own request (RFC 8995 §5.2), naming the registrar it saw. */
  request(seen: TestDomain, fields?: Partial<VoucherRequest>): Promise<{ der: Uint8Array; nonce: Uint8Array }>;
}

export async function mintTestPledge(t: TestFactory, serial: string): Promise<TestPledge> {
  const minted = await t.factory.mintDevice({ serial, model: 'M', outDir: join(t.dir, `pledge-${serial}`) });
  const signer = keyObjectSigner(createPrivateKey(readFileSync(minted.files.key, 'utf8')));
  const idevidPem = readFileSync(minted.files.certificate, 'utf8');
  return {
    serial,
    signer,
    idevidPem,
    async request(seen, fields = {}) {
      const nonce = new Uint8Array(randomBytes(16));
      const der = await signVoucherRequest(
        { createdOn: new Date(), assertion: 'proximity', serialNumber: serial, nonce, proximityRegistrarCert: seen.registrarCert.der, ...fields },
        { signer, certificates: [idevidPem] },
      );
      return { der, nonce: fields.nonce ?? nonce };
    },
  };
}
