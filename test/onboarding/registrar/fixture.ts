/**
 * A whole BRSKI world on loopback: a factory (manufacturer CA, MASA keys, minted pledges), the
 * MASA behind its own HTTPS listener, and one or more domains, each a domain CA with a registrar
 * on its own HTTPS listener and its own registry. Every piece is real (TLS, CMS, SQLite); tests
 * close what they build.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Signer } from '../../../src/crypto/keystore/types.js';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { masaRoutes } from '../../../src/onboarding/http/masa-routes.js';
import { createMasa, type Masa } from '../../../src/onboarding/masa.js';
import { createRegistrar, type Registrar, type RegistrarOptions } from '../../../src/onboarding/registrar/registrar.js';
import { registrarRoutes } from '../../../src/onboarding/registrar/routes.js';
import { httpsMasaClient, inProcessMasaClient, type MasaClient } from '../../../src/onboarding/registrar/masa-client.js';
import { createRootCa, domainCaPolicy, type CertificateAuthority, type IssuedCertificate } from '../../../src/pki/index.js';
import { openSqliteStore } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/types.js';
import { createTestFactory, type TestFactory } from '../helpers.js';

export interface KeyPair {
  signer: Signer;
  keyPem: string;
}

export function p256(): KeyPair {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { signer: keyObjectSigner(privateKey), keyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })) };
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `https://127.0.0.1:${address.port}`;
}

export interface MasaServer {
  masa: Masa;
  url: string;
  /** The CA of the MASA's TLS certificate (what a registrar trusts for the HTTPS transport). */
  tlsCa: CertificateAuthority;
  close(): Promise<void>;
}

export async function startMasa(t: TestFactory): Promise<MasaServer> {
  const masa = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] });
  const tlsCa = await createRootCa({ signer: p256().signer, subject: 'CN=Web PKI Test Root', validityDays: 30 });
  const key = p256();
  const cert = await domainCaPolicy.issueServerCertificate(tlsCa, { publicKey: key.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 20 });
  const app = Fastify({ logger: false, https: { key: key.keyPem, cert: cert.pem } });
  await app.register(masaRoutes, { masa });
  const url = await listen(app);
  return { masa, url, tlsCa, close: () => app.close() };
}

export interface Domain {
  name: string;
  store: Store;
  ca: CertificateAuthority;
  registrarKey: KeyPair;
  registrarCert: IssuedCertificate;
  lwm2mServerCert: IssuedCertificate;
  registrar: Registrar;
  url: string;
  close(): Promise<void>;
}

export interface DomainOptions {
  masaClient: MasaClient;
  /** Where the registrar sends voucher requests (the factory's IDevIDs name masa.example.com). */
  masaUrl: string;
  /** Use this store instead of a fresh in-memory one. */
  store?: Store;
  overrides?: Partial<RegistrarOptions>;
}

export async function startDomain(t: TestFactory, name: string, options: DomainOptions): Promise<Domain> {
  const store = options.store ?? (await openSqliteStore({ file: ':memory:' }));
  const ca = await createRootCa({ signer: p256().signer, subject: `CN=${name} Domain CA,O=${name}`, validityDays: 3650 });
  const registrarKey = p256();
  // RFC 8995 §2.5.3: the registrar certificate carries id-kp-cmcRA; serverAuth for the pledge's
  // TLS, clientAuth towards the MASA; an IP SAN because the pledges reach it on 127.0.0.1.
  const registrarCert = await domainCaPolicy.issueServerCertificate(ca, { publicKey: registrarKey.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, clientAuth: true, extraExtKeyUsage: ['cmcRA'], validityDays: 90 });
  const lwm2mServerCert = await domainCaPolicy.issueServerCertificate(ca, { publicKey: p256().signer.publicKey, subjectAltNames: { dns: ['lwm2m.example'] }, validityDays: 90 });
  const registrar = createRegistrar({
    store,
    audit: store.audit,
    domainCa: { ca },
    registrar: { signer: registrarKey.signer, certificate: registrarCert.der, chain: [ca.certificate] },
    manufacturers: [{ ca: t.factory.manufacturerCaCertificate, masaTrustAnchors: [t.factory.masaCaCertificate], masaUrl: options.masaUrl }],
    masaClient: options.masaClient,
    lwm2m: { uri: 'coaps://lwm2m.example:5684', serverCertificate: lwm2mServerCert.der },
    ...options.overrides,
  });
  const app = Fastify({
    logger: false,
    // RFC 8995 §5.1 provisional TLS: any client certificate; the registrar decides and audits.
    https: { key: registrarKey.keyPem, cert: registrarCert.pem + ca.chainPem, requestCert: true, rejectUnauthorized: false },
  });
  await app.register(registrarRoutes(registrar));
  const url = await listen(app);
  return {
    name,
    store,
    ca,
    registrarKey,
    registrarCert,
    lwm2mServerCert,
    registrar,
    url,
    async close() {
      await app.close();
      if (options.store === undefined) await store.close();
    },
  };
}

export interface World {
  t: TestFactory;
  masa: MasaServer;
  /** The MASA over real HTTPS. */
  httpsMasa: MasaClient;
  inProcessMasa: MasaClient;
  mint(serial: string, model?: string): Promise<string>;
  close(): Promise<void>;
}

export async function createWorld(): Promise<World> {
  const t = await createTestFactory();
  const masa = await startMasa(t);
  return {
    t,
    masa,
    httpsMasa: httpsMasaClient({ trustAnchors: [masa.tlsCa.certificate.der] }),
    inProcessMasa: inProcessMasaClient(masa.masa),
    async mint(serial, model = 'Sensor') {
      const dir = join(t.dir, `device-${serial}`);
      await t.factory.mintDevice({ serial, model, outDir: dir });
      return dir;
    },
    async close() {
      await masa.close();
      await t.close();
    },
  };
}
