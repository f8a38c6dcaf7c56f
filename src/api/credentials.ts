/**
 * Turns a validated credential from a request body into the DeviceCredential the store keeps,
 * and a stored credential into what the API shows. The schema has already checked shapes and
 * lengths; this checks meaning (is it really a P-256 key, a parsable certificate?) and seals PSK
 * keys, so the store never sees a cleartext secret.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { DeviceCredential } from '../store/types.js';
import { ApiError } from './errors.js';

/** Seals a PSK before storage; implemented in server/ over a KeyStore AES key. */
export interface PskSealer {
  seal(endpoint: string, identity: string, key: Uint8Array): Promise<Uint8Array>;
}

export type CredentialInput =
  | { psk: { identity: string; key: string } }
  | { rpk: { publicKey: string } }
  | { x509: { certificate: string } | { subject: string } };

export interface CredentialView {
  kind: DeviceCredential['kind'];
  lookup: string;
  createdAt: string;
}

export type NewCredential = Omit<DeviceCredential, 'createdAt'>;

function bad(message: string, cause?: unknown): never {
  throw new ApiError('ERR_API_BAD_CREDENTIAL', message, cause === undefined ? undefined : { cause });
}

function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      if (!/^-----BEGIN PUBLIC KEY-----/.test(trimmed)) bad('credentials.rpk.publicKey: expected a PEM "PUBLIC KEY" block');
      return createPublicKey({ key: trimmed, format: 'pem' });
    }
    if (!/^([0-9a-fA-F]{2})+$/.test(trimmed)) bad('credentials.rpk.publicKey: expected a PEM "PUBLIC KEY" block or hex SubjectPublicKeyInfo DER');
    return createPublicKey({ key: Buffer.from(trimmed, 'hex'), format: 'der', type: 'spki' });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    return bad('credentials.rpk.publicKey: not a parsable SubjectPublicKeyInfo', err);
  }
}

// DTLS raw-public-key suites (RFC 7250 with ECDSA) and the PKI room use P-256 and Ed25519;
// accepting another curve here would only fail later, in a handshake, with no one watching.
function assertSupportedKey(key: KeyObject, what: string): void {
  const ok = (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') || key.asymmetricKeyType === 'ed25519';
  if (!ok) bad(`${what}: unsupported key type ${key.asymmetricKeyType ?? 'unknown'}; expected EC P-256 or Ed25519`);
}

/** The subject common name of a certificate; the full subject DN when it has no CN. */
function subjectName(cert: X509Certificate): string {
  const cn = cert.subject.split('\n').find((line) => line.startsWith('CN='));
  return cn !== undefined ? cn.slice(3) : cert.subject.replace(/\n/g, ', ');
}

export async function toNewCredential(endpoint: string, input: CredentialInput, sealer: PskSealer): Promise<NewCredential> {
  if ('psk' in input) {
    const key = Buffer.from(input.psk.key, 'hex');
    try {
      const material = await sealer.seal(endpoint, input.psk.identity, key);
      return { endpoint, kind: 'psk', lookup: input.psk.identity, material };
    } finally {
      key.fill(0);
    }
  }
  if ('rpk' in input) {
    const key = parsePublicKey(input.rpk.publicKey);
    assertSupportedKey(key, 'credentials.rpk.publicKey');
    const spki = new Uint8Array(key.export({ format: 'der', type: 'spki' }));
    return { endpoint, kind: 'rpk', lookup: createHash('sha256').update(spki).digest('hex'), material: spki };
  }
  if ('certificate' in input.x509) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(input.x509.certificate);
    } catch (err) {
      return bad('credentials.x509.certificate: not a parsable PEM certificate', err);
    }
    assertSupportedKey(cert.publicKey, 'credentials.x509.certificate public key');
    const lookup = subjectName(cert);
    if (lookup.length === 0) bad('credentials.x509.certificate: the certificate has an empty subject');
    return { endpoint, kind: 'x509', lookup, material: new Uint8Array(cert.raw) };
  }
  return { endpoint, kind: 'x509', lookup: input.x509.subject, material: new Uint8Array(0) };
}

/** What the API shows of a credential: never `material` (a sealed secret or key bytes). */
export function credentialView(c: DeviceCredential): CredentialView {
  return { kind: c.kind, lookup: c.lookup, createdAt: c.createdAt };
}
