/**
 * EST test fixtures: a manufacturer CA that mints IDevIDs, a domain CA behind the registrar, a
 * real HTTPS fastify server on 127.0.0.1 with the EST routes, an in-memory audit sink, and a
 * temp dir for the openssl/curl peers. Each test builds what it needs and closes it.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Signer } from '../../../src/crypto/keystore/types.js';
import { ecdsaRawToDer } from '../../../src/crypto/ecdsa-signature.js';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { createCsr } from '../../../src/pki/create-csr.js';
import { derBitString, derSequence, readOuterSequence, type Tlv } from '../../../src/pki/der.js';
import { createRootCa, type CertificateAuthority, type IssuedCertificate } from '../../../src/pki/certificate-authority.js';
import { domainCaPolicy } from '../../../src/pki/domain-policy.js';
import { manufacturerCaPolicy } from '../../../src/pki/manufacturer-policy.js';
import { createEstService, type EstAuditEntry, type EstServiceOptions, type EstService } from '../../../src/onboarding/est/service.js';
import { estRoutes } from '../../../src/onboarding/est/routes.js';
import { requirePeer } from '../../helpers/peers.js';

export const opensslSkip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');
export const curlSkip = requirePeer('curl', ['curl'], 'apt-get install curl');

export interface KeyPair {
  privateKey: KeyObject;
  signer: Signer;
  keyPem: string;
}

export function p256(): KeyPair {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, signer: keyObjectSigner(privateKey), keyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })) };
}

export interface Pki {
  manufacturer: CertificateAuthority;
  domain: CertificateAuthority;
  /** A manufacturer nobody trusts. */
  rogue: CertificateAuthority;
  server: { key: KeyPair; cert: IssuedCertificate };
}

export async function createPki(): Promise<Pki> {
  const manufacturer = await createRootCa({ signer: p256().signer, subject: 'CN=Acme Manufacturer CA,O=Acme', validityDays: 3650 });
  const domain = await createRootCa({ signer: p256().signer, subject: 'CN=Example Domain CA,O=Example Operator', validityDays: 3650 });
  const rogue = await createRootCa({ signer: p256().signer, subject: 'CN=Rogue Manufacturer CA,O=Rogue', validityDays: 3650 });
  const key = p256();
  const cert = await domainCaPolicy.issueServerCertificate(domain, { publicKey: key.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'], dns: ['localhost'] } });
  return { manufacturer, domain, rogue, server: { key, cert } };
}

export interface Device {
  serial: string;
  key: KeyPair;
  cert: IssuedCertificate;
}

/** A pledge with an IDevID from `ca` (the manufacturer, or the rogue one). */
export async function mintDevice(ca: CertificateAuthority, serial: string): Promise<Device> {
  const key = p256();
  const cert = await manufacturerCaPolicy.issueIdevid(ca, { serialNumber: serial, subject: 'CN=Acme Sensor,O=Acme', publicKey: key.signer.publicKey, masaUrl: 'https://masa.acme.example' });
  return { serial, key, cert };
}

export class MemoryAudit {
  readonly entries: EstAuditEntry[] = [];
  append(entry: EstAuditEntry): void {
    this.entries.push(structuredClone(entry));
  }
  last(): EstAuditEntry {
    const e = this.entries.at(-1);
    if (e === undefined) throw new Error('no audit entries');
    return e;
  }
}

export interface EstServer {
  url: string;
  port: number;
  app: FastifyInstance;
  service: EstService;
  close(): Promise<void>;
}

/** A real HTTPS server on 127.0.0.1 (port 0) with provisional TLS client authentication. */
export async function startEstServer(pki: Pki, options: Omit<EstServiceOptions, 'ca'>, tls: { maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<EstServer> {
  const service = createEstService({ ca: pki.domain, ...options });
  const app = Fastify({
    logger: false,
    https: {
      key: pki.server.key.keyPem,
      cert: pki.server.cert.pem,
      // RFC 8995 §5.1 provisional trust: take any client certificate, let authorize decide.
      requestCert: true,
      rejectUnauthorized: false,
      ...(tls.maxVersion !== undefined ? { maxVersion: tls.maxVersion } : {}),
    },
  });
  await app.register(estRoutes(service));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { url: `https://127.0.0.1:${address.port}`, port: address.port, app, service, close: () => app.close() };
}

export interface TempDir {
  path: string;
  write(name: string, data: string | Uint8Array): string;
  cleanup(): void;
}

export function tempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'rootline-est-'));
  return {
    path,
    write(name, data) {
      const p = join(path, name);
      writeFileSync(p, data);
      return p;
    },
    cleanup: () => rmSync(path, { recursive: true, force: true }),
  };
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a peer binary (openssl, curl) to completion, never through a shell. Asynchronous: curl
 * talks to a server in this very process, so the event loop must keep running meanwhile.
 */
export function run(cmd: string, args: string[], cwd: string, input?: string | Uint8Array): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

/**
 * A CSR for `key` whose signature was made with `other`: well formed, but without proof of
 * possession (createCsr refuses to produce one, so it is assembled here).
 */
export async function forgeCsr(key: KeyPair, other: KeyPair, subject: string): Promise<Uint8Array> {
  const good = await createCsr({ signer: key.signer, subject });
  const parts = readOuterSequence(good);
  if (typeof parts === 'string') throw new Error(parts);
  const [info, alg] = parts as [Tlv, Tlv];
  const infoDer = good.slice(info.offset, info.end);
  const sig = ecdsaRawToDer(await other.signer.sign(infoDer));
  return derSequence(infoDer, good.slice(alg.offset, alg.end), derBitString(sig));
}
