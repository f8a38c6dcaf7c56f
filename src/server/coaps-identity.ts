/**
 * The CoAPs server's own identity for ECDHE_ECDSA handshakes: an EC P-256 key `coaps-server` in
 * the KeyStore (created on first start; with PKCS#11 it never leaves the token), offered as a raw
 * public key (RFC 7250) to clients that pin keys, and as an X.509 chain to clients that verify
 * certificates.
 *
 * Why a local CA and not a self-signed leaf: a self-signed certificate that TLS stacks accept as
 * both anchor and leaf must be a CA certificate, and GnuTLS/OpenSSL then refuse it as a server
 * certificate for lacking digitalSignature/serverAuth. So a small local CA (key `coaps-ca`, state
 * in `<data>/coaps-ca.json`, certificate in `<data>/coaps-ca.pem` for operators to hand to
 * clients as their trust anchor) issues the server certificate (`<data>/coaps-server.pem`),
 * through the PKI room's domain-CA policy. When the onboarding room brings the operator's
 * domain CA, server.ts passes that CA here instead and the local one is no longer created.
 *
 * The certificate is reissued when it is missing, certifies another key, was issued by another
 * CA, or expires within RENEW_BEFORE_DAYS; the key itself is kept, so RPK pins stay valid.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { keyStoreSigner } from '../crypto/signer.js';
import type { KeyStore, Signer } from '../crypto/keystore/types.js';
import { CertificateAuthority, createRootCa, decodePem, domainCaPolicy, parseCertificate, publicKeyFingerprint, type CaState } from '../pki/index.js';
import type { AuditEntry } from '../store/types.js';

export const COAPS_SERVER_KEY_LABEL = 'coaps-server';
export const COAPS_CA_KEY_LABEL = 'coaps-ca';
export const COAPS_CA_STATE_FILE = 'coaps-ca.json';
export const COAPS_CA_CERT_FILE = 'coaps-ca.pem';
export const COAPS_SERVER_CERT_FILE = 'coaps-server.pem';
const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;

export interface CoapsIdentity {
  signer: Signer;
  /** DER certificates, leaf first, then the issuing CA. */
  chain: Uint8Array[];
  /** SHA-256 of the server's SubjectPublicKeyInfo, hex: what RPK clients pin. */
  publicKeyFingerprint: string;
  /** Where the issuing CA's certificate is, for clients that verify certificates. */
  caCertificateFile: string;
}

export interface CoapsIdentityOptions {
  keystore: KeyStore;
  dataDir: string;
  /** Records key generation and certificate issuance. */
  audit: (entry: AuditEntry) => Promise<unknown>;
  /** Extra names for the certificate's subjectAltName (default: localhost, 127.0.0.1, ::1, the host name). */
  dnsNames?: string[];
  ipAddresses?: string[];
}

async function ensureKey(o: CoapsIdentityOptions, label: string): Promise<Signer> {
  if (!(await o.keystore.hasKey(label))) {
    await o.keystore.generateKey(label, 'ec-p256');
    await o.audit({ actor: 'system', action: 'keystore.key.generate', subject: label, outcome: 'success', details: { type: 'ec-p256' } });
  }
  return keyStoreSigner(o.keystore, label);
}

/** Writes through a temporary file so a crash never leaves half a PEM behind. */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

async function openLocalCa(o: CoapsIdentityOptions): Promise<{ ca: CertificateAuthority; created: boolean }> {
  const signer = await ensureKey(o, COAPS_CA_KEY_LABEL);
  const stateFile = join(o.dataDir, COAPS_CA_STATE_FILE);
  if (existsSync(stateFile)) {
    try {
      const ca = CertificateAuthority.open(signer, JSON.parse(readFileSync(stateFile, 'utf8')) as CaState);
      if (ca.certificate.notAfter.getTime() - Date.now() > RENEW_BEFORE_DAYS * DAY_MS) return { ca, created: false };
    } catch {
      // A state file for another key (key store replaced) or a damaged one: start a new CA.
      // Clients that trusted the old CA will have to be given the new coaps-ca.pem.
    }
  }
  const ca = await createRootCa({ signer, subject: 'CN=rootline local CoAPs CA', validityDays: 3650, pathLen: 0 });
  writeAtomically(stateFile, `${JSON.stringify(ca.state, null, 2)}\n`);
  writeAtomically(join(o.dataDir, COAPS_CA_CERT_FILE), ca.chainPem);
  await o.audit({ actor: 'system', action: 'pki.ca.create', subject: COAPS_CA_KEY_LABEL, outcome: 'success', details: { serialNumber: ca.certificate.serialNumber } });
  return { ca, created: true };
}

function currentLeaf(file: string, signer: Signer, ca: CertificateAuthority): Uint8Array | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const der = decodePem(readFileSync(file, 'utf8'), 'CERTIFICATE');
    const cert = parseCertificate(der);
    const fresh = cert.notAfter.getTime() - Date.now() > RENEW_BEFORE_DAYS * DAY_MS;
    const sameKey = Buffer.from(cert.publicKey).equals(Buffer.from(signer.publicKey));
    return fresh && sameKey && cert.issuer === ca.certificate.subject ? der : undefined;
  } catch {
    return undefined;
  }
}

/** Loads or creates the server key, the local CA and the server certificate. */
export async function ensureCoapsIdentity(o: CoapsIdentityOptions): Promise<CoapsIdentity> {
  const signer = await ensureKey(o, COAPS_SERVER_KEY_LABEL);
  const { ca } = await openLocalCa(o);
  const leafFile = join(o.dataDir, COAPS_SERVER_CERT_FILE);
  let leaf = currentLeaf(leafFile, signer, ca);
  if (leaf === undefined) {
    const dns = [...new Set(['localhost', hostname(), ...(o.dnsNames ?? [])].filter((n) => /^[A-Za-z0-9.-]{1,253}$/.test(n)))];
    const ip = [...new Set(['127.0.0.1', '::1', ...(o.ipAddresses ?? [])])];
    const issued = await domainCaPolicy.issueServerCertificate(ca, { publicKey: signer.publicKey, subject: 'CN=rootline coaps', subjectAltNames: { dns, ip } });
    writeAtomically(leafFile, issued.pem);
    // The CA state records every serial it issued; persist it with the new one.
    writeAtomically(join(o.dataDir, COAPS_CA_STATE_FILE), `${JSON.stringify(ca.state, null, 2)}\n`);
    await o.audit({ actor: 'system', action: 'pki.certificate.issue', subject: COAPS_SERVER_KEY_LABEL, outcome: 'success', details: { serialNumber: issued.serialNumber, notAfter: issued.certificate.notAfter.toISOString() } });
    leaf = issued.der;
  }
  return {
    signer,
    chain: [leaf, ca.certificate.der],
    publicKeyFingerprint: publicKeyFingerprint(signer.publicKey),
    caCertificateFile: join(o.dataDir, COAPS_CA_CERT_FILE),
  };
}
