/**
 * The pledge (RFC 8995 §5, device side): from a factory identity (IDevID) and a registrar URL to
 * an operational certificate (LDevID) of the domain that claimed the device, with zero touch.
 *
 *   1. TLS to the registrar with the IDevID; the registrar's certificate is taken provisionally
 *      (§5.1) and named in the voucher request (§5.2, proximity, fresh nonce).
 *   2. The voucher is checked (§5.6.1): signed by this device's MASA (masa-ca.pem from the
 *      factory), naming its serial, answering its nonce. Its pinned-domain-cert becomes the only
 *      trust anchor for the registrar, whose provisional certificate must now chain to it (§5.6.2).
 *   3. voucher_status (§5.7), EST enrollment with a fresh key (§5.9, RFC 7030), enrollstatus
 *      (§5.9.4) over a connection authenticated with the new LDevID.
 *
 * LwM2M bootstrap and registration with the result are the LwM2M room's; `runPledge` returns
 * what they need. A refused voucher or enrollment is reported to the registrar (status false)
 * before the typed error is thrown.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Signer } from '../../crypto/keystore/types.js';
import { InvalidArgumentError, RootlineError } from '../../errors.js';
import { encodePem, findAttribute, parseCertificate, parsePem, verifyChain, type ParsedCertificate } from '../../pki/index.js';
import { estClient } from '../est/client.js';
import { encodeStatusTelemetry } from '../registrar/status-telemetry.js';
import { PledgePendingError, PledgeProtocolError, RegistrarNotPinnedError } from '../registrar/errors.js';
import { verifyVoucher, type VerifiedVoucher } from '../signed-voucher.js';
import { createPledgeVoucherRequest } from '../voucher-requests.js';
import { deviceSigner, generateDeviceKey, importDeviceKey, pkcs8Pem } from './device-key.js';
import { httpSession, type HttpSession } from './http-session.js';
import { runCoapsPledge } from './coaps-transport.js';
import { exchange, openTls, protocolError, serverCertificateOf, tlsClientChain, type TlsTarget } from './transport.js';

const VOUCHER_CMS = 'application/voucher-cms+json';
const OUT_FILES = ['ldevid.pem', 'ldevid-chain.pem', 'ldevid.key', 'domain-ca.pem', 'voucher.cms'];

export interface RunPledgeOptions {
  /** Directory with idevid.pem, idevid.key, idevid-chain.pem and masa-ca.pem (as `rootline factory mint` writes). */
  idevidDir: string;
  /** https://host:port of the registrar. */
  registrarUrl: string;
  /** MASA trust anchors, PEM (default: <idevidDir>/masa-ca.pem). */
  masaTrustAnchors?: string;
  /** Time for the voucher and certificate checks; `null` for a pledge without a clock (RFC 8366 §5.3). */
  now?: Date | null;
  /** Per-exchange timeout (default 30 s). */
  timeoutMs?: number;
  /** How many 202 answers (operator approval pending) are waited out (default 10). */
  maxPendingAttempts?: number;
  /** Longest Retry-After waited for (default 3600 s); longer ends with ERR_PLEDGE_PENDING. */
  maxRetryAfterSeconds?: number;
  /** How to wait for Retry-After (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** The LDevID key (default: a fresh P-256 key made here). */
  ldevidKey?: KeyObject;
  /** Write ldevid.pem, ldevid-chain.pem, ldevid.key (0600), domain-ca.pem, voucher.cms here; existing files are not overwritten. */
  outDir?: string;
  /** Progress callback (CLI output); never given key material. */
  onStep?: (step: 'voucher-request' | 'pending' | 'voucher' | 'voucher-status' | 'enroll' | 'enroll-status', detail: Record<string, unknown>) => void;
  /**
   * More requests on the LDevID connection after enrollstatus (it trusts only the pinned domain
   * certificate), before it is closed; `onboardDevice` asks for the bootstrap server here.
   */
  afterEnrollment?: (request: HttpSession['request']) => Promise<void>;
}

export interface PledgeResult {
  serialNumber: string;
  /** The LDevID, DER and PEM, and its chain (leaf first, DER). */
  ldevid: { der: Uint8Array; pem: string; chain: Uint8Array[]; certificate: ParsedCertificate };
  /** The LDevID private key (stays on the device). */
  key: KeyObject;
  /** The pinned domain certificate: the device's trust anchor for its owner from now on. */
  domainCa: { der: Uint8Array; pem: string };
  voucher: { der: Uint8Array; verified: VerifiedVoucher };
  /** The LDevID's CN: the endpoint name the registrar gave this device. */
  endpoint: string | undefined;
  /** Files written when `outDir` was given. */
  files?: { ldevid: string; chain: string; key: string; domainCa: string; voucher: string };
}

/**
 * The Signer over `key`, made once per key (the CSR, the voucher request and the DTLS client ask
 * for it); device-key.ts reads a P-256 key's public key without an SPKI export.
 */
export function signerFor(key: KeyObject): Signer {
  return deviceSigner(key);
}

function read(dir: string, name: string): string {
  const p = join(dir, name);
  if (!existsSync(p)) throw new InvalidArgumentError('idevidDir', `${p} is missing`);
  return readFileSync(p, 'utf8');
}

function retryAfter(header: unknown): number | undefined {
  if (typeof header !== 'string') return undefined;
  const h = header.trim();
  if (/^[0-9]{1,9}$/.test(h)) return Number(h);
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Runs the whole pledge side once; see the file header. */
export async function runPledge(options: RunPledgeOptions): Promise<PledgeResult> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (typeof options.idevidDir !== 'string' || options.idevidDir.length === 0) throw new InvalidArgumentError('idevidDir', 'expected a directory');
  let url: URL;
  try {
    url = new URL(options.registrarUrl);
  } catch (err) {
    throw new InvalidArgumentError('registrarUrl', 'expected an https:// URL', { cause: err });
  }
  // Constrained BRSKI + EST-coaps (RFC 9148) for coaps:// registrars: coaps-transport.ts.
  if (url.protocol === 'coaps:') return runCoapsPledge(options);
  if (url.protocol !== 'https:') throw new InvalidArgumentError('registrarUrl', 'BRSKI runs over HTTPS (RFC 8995 §5.1)');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? 443 : Number(url.port);
  const servername = /^[0-9.]+$|:/.test(host) ? undefined : host;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxPending = options.maxPendingAttempts ?? 10;
  const maxRetryAfter = options.maxRetryAfterSeconds ?? 3600;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now === undefined ? new Date() : options.now;
  const step = options.onStep ?? (() => undefined);

  if (options.outDir !== undefined) {
    // Checked before anything is asked of the registrar: a failed write after enrollment would
    // leave an issued LDevID whose key is lost.
    const taken = OUT_FILES.map((f) => join(options.outDir!, f)).find((f) => existsSync(f));
    if (taken !== undefined) throw new InvalidArgumentError('outDir', `${taken} exists already`);
  }
  const idevidPem = read(options.idevidDir, 'idevid.pem');
  // What TLS presents: the chain file without its root (transport.ts tlsClientChain).
  const chainPem = tlsClientChain(read(options.idevidDir, 'idevid-chain.pem'));
  // node:tls takes the file's PEM as it is, once a private key was read from it (device-key.ts:
  // what createPrivateKey reads, without OpenSSL's decoder set-up); no PKCS#8 re-export per device.
  const keyPem = read(options.idevidDir, 'idevid.key');
  const idevidKey = importDeviceKey(keyPem);
  const masaPem = options.masaTrustAnchors ?? read(options.idevidDir, 'masa-ca.pem');
  const masaAnchors = parsePem(masaPem, {}).map((b) => b.der);
  const idevid = parseCertificate(idevidPem);
  const serial = findAttribute(idevid.subjectRdns, 'serialNumber');
  if (serial === undefined) throw new InvalidArgumentError('idevidDir', 'idevid.pem has no subject serialNumber');
  const tls = (clientCert: string, clientKey: string, ca?: string[]): TlsTarget => ({ host, port, timeoutMs, cert: clientCert, key: clientKey, ...(servername !== undefined ? { servername } : {}), ...(ca !== undefined ? { ca } : {}) });
  const maxBytes = 1024 * 1024;

  // 1. Voucher request over provisional TLS. The connection is kept (RFC 8995 §5.1) for the
  // voucher status once the voucher made it trusted.
  let registrarCert: Uint8Array | undefined;
  let signed: { der: Uint8Array; nonce: Uint8Array } | undefined;
  let voucherDer: Uint8Array | undefined;
  let session: HttpSession | undefined;
  for (let attempt = 1; voucherDer === undefined; attempt++) {
    const socket = await openTls(tls(chainPem, keyPem));
    const seen = serverCertificateOf(socket);
    // Never reopened provisionally: another connection may meet another certificate than the one the request names.
    session = httpSession(socket, url.host, () => Promise.reject(new PledgeProtocolError('the registrar closed the provisional connection')));
    // The same registrar certificate keeps the same request (a retry after 202); another one
    // gets a request naming it, with a fresh nonce.
    if (signed === undefined || registrarCert === undefined || Buffer.compare(Buffer.from(seen), Buffer.from(registrarCert)) !== 0) {
      registrarCert = seen;
      const nonce = new Uint8Array(randomBytes(16));
      const req = await createPledgeVoucherRequest({ signer: deviceSigner(idevidKey), idevid: [idevid], registrarCertificate: seen, nonce, ...(now !== null ? { now } : {}) });
      signed = { der: req.der, nonce };
    }
    step('voucher-request', { serialNumber: serial, attempt });
    let ex;
    try {
      ex = await session.request('POST', '/.well-known/brski/requestvoucher', signed.der, { 'content-type': VOUCHER_CMS, accept: VOUCHER_CMS }, maxBytes);
    } catch (err) {
      session.close();
      throw err;
    }
    if (ex.status === 200) {
      voucherDer = new Uint8Array(ex.body);
      break;
    }
    session.close();
    if (ex.status !== 202) throw protocolError(ex, 'requestvoucher');
    const wait = retryAfter(ex.headers['retry-after']);
    if (wait === undefined) throw new PledgeProtocolError('requestvoucher: 202 without a usable Retry-After', { status: 202 });
    step('pending', { retryAfterSeconds: wait, attempt });
    if (wait > maxRetryAfter || attempt >= maxPending) throw new PledgePendingError(`the registrar still holds the request for approval after ${attempt} attempt(s)`, wait);
    await sleep(wait * 1000);
  }

  // 2. The voucher, then the registrar against the pinned domain.
  const statusOverProvisional = async (ok: boolean, reason?: string): Promise<void> => {
    try {
      await session!.request('POST', '/.well-known/brski/voucher_status', encodeStatusTelemetry(ok, reason), { 'content-type': 'application/json' }, maxBytes);
    } finally {
      session!.close();
    }
  };
  let verified: VerifiedVoucher;
  try {
    verified = verifyVoucher(voucherDer, { masaTrustAnchors: masaAnchors, serialNumber: serial, nonce: signed!.nonce, now });
    const pinned = parseCertificate(verified.pinnedDomainCertificate);
    // RFC 8995 §5.6.2: the pledge "MUST ... verify the provisional TLS server certificate" chains
    // to the pinned-domain-cert; until now it was trusted for nothing.
    if (Buffer.compare(Buffer.from(pinned.der), Buffer.from(registrarCert!)) !== 0) {
      try {
        verifyChain(registrarCert!, [], [pinned], now !== null ? { at: now } : {});
      } catch (err) {
        throw new RegistrarNotPinnedError(`the registrar's certificate does not chain to the domain the voucher pins: ${(err as Error).message}`, { cause: err });
      }
    }
  } catch (err) {
    if (err instanceof RootlineError) {
      // §5.7: the pledge reports a refused voucher too ("status": false), best effort.
      await statusOverProvisional(false, `${err.code}: ${err.message}`.slice(0, 512)).catch(() => undefined);
    }
    throw err;
  }
  step('voucher', { serialNumber: serial, assertion: verified.voucher.assertion });
  const domainCaPem = encodePem('CERTIFICATE', verified.pinnedDomainCertificate);
  const pinnedCa = [domainCaPem];

  // 3. From here the registrar is authenticated by the pinned domain certificate: the kept
  // connection (its certificate was just checked) or, if the registrar closed it, a new one
  // trusting only the pinned certificate. The same connection then carries the EST enrollment
  // (RFC 8995 §5.1: the pledge keeps its connection once the voucher made it trusted; the EST
  // client checks its certificate against the pinned domain CA again before using it).
  let kept: TLSSocket | undefined;
  {
    session!.setReopen(() => openTls(tls(chainPem, keyPem, pinnedCa)));
    let ex;
    try {
      ex = await session!.request('POST', '/.well-known/brski/voucher_status', encodeStatusTelemetry(true), { 'content-type': 'application/json' }, maxBytes);
    } catch (err) {
      session!.close();
      throw err;
    }
    if (ex.status !== 200) {
      session!.close();
      throw protocolError(ex, 'voucher_status');
    }
    kept = session!.detach();
    step('voucher-status', { status: true });
  }
  const key = options.ldevidKey ?? generateDeviceKey();
  if (kept !== undefined) kept.setTimeout(timeoutMs);
  let enrolled;
  try {
    const est = estClient({ baseUrl: `${url.origin}/.well-known/est`, ca: pinnedCa, clientCert: chainPem, clientKey: keyPem, timeoutMs, ...(servername !== undefined ? { servername } : {}), ...(kept !== undefined ? { connection: kept } : {}) });
    // The registrar names the subject (CN = endpoint); the CSR's carries the serial for humans.
    enrolled = await est.simpleEnroll({ signer: signerFor(key), subject: [[{ type: 'serialNumber', value: serial }]] });
  } catch (err) {
    const code = err instanceof RootlineError ? err.code : 'ERR_INTERNAL';
    const sock = await openTls(tls(chainPem, keyPem, pinnedCa)).catch(() => undefined);
    if (sock !== undefined) await exchange(sock, url.host, '/.well-known/brski/enrollstatus', encodeStatusTelemetry(false, `${code}: ${(err as Error).message}`.slice(0, 512)), { 'content-type': 'application/json' }, maxBytes).catch(() => undefined);
    throw err;
  }
  step('enroll', { subject: enrolled.parsed.subject, serialNumber: enrolled.parsed.serialNumber });
  // §5.9.4 over a connection authenticated with the new LDevID: proves it works end to end.
  const ldevidChainPem = enrolled.chain.map((c) => encodePem('CERTIFICATE', c)).join('');
  const keyOut = pkcs8Pem(key);
  {
    const ldevidTlsChain = tlsClientChain(ldevidChainPem);
    const reopen = (): Promise<TLSSocket> => openTls(tls(ldevidTlsChain, keyOut, pinnedCa));
    const ldevidSession = httpSession(await reopen(), url.host, reopen);
    try {
      const ex = await ldevidSession.request('POST', '/.well-known/brski/enrollstatus', encodeStatusTelemetry(true), { 'content-type': 'application/json' }, maxBytes);
      if (ex.status !== 200) throw protocolError(ex, 'enrollstatus');
      step('enroll-status', { status: true });
      if (options.afterEnrollment !== undefined) await options.afterEnrollment((...args) => ldevidSession.request(...args));
    } finally {
      ldevidSession.close();
    }
  }
  const result: PledgeResult = {
    serialNumber: serial,
    ldevid: { der: enrolled.certificate, pem: enrolled.pem, chain: enrolled.chain, certificate: enrolled.parsed },
    key,
    domainCa: { der: verified.pinnedDomainCertificate, pem: domainCaPem },
    voucher: { der: voucherDer, verified },
    endpoint: findAttribute(enrolled.parsed.subjectRdns, 'CN'),
  };
  if (options.outDir !== undefined) result.files = writeResult(options.outDir, result, ldevidChainPem, keyOut);
  return result;
}

function writeResult(dir: string, r: PledgeResult, chainPem: string, keyPem: string): NonNullable<PledgeResult['files']> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { ldevid: join(dir, 'ldevid.pem'), chain: join(dir, 'ldevid-chain.pem'), key: join(dir, 'ldevid.key'), domainCa: join(dir, 'domain-ca.pem'), voucher: join(dir, 'voucher.cms') };
  // 'wx': a second run never overwrites the key of the first.
  writeFileSync(files.key, keyPem, { mode: 0o600, flag: 'wx' });
  writeFileSync(files.ldevid, r.ldevid.pem, { flag: 'wx' });
  writeFileSync(files.chain, chainPem, { flag: 'wx' });
  writeFileSync(files.domainCa, r.domainCa.pem, { flag: 'wx' });
  writeFileSync(files.voucher, r.voucher.der, { flag: 'wx' });
  return files;
}

/** The result as JSON for `rootline pledge --json` (no key material). */
export function pledgeResultJson(r: PledgeResult): Record<string, unknown> {
  return {
    serialNumber: r.serialNumber,
    endpoint: r.endpoint ?? null,
    ldevid: { subject: r.ldevid.certificate.subject, serialNumber: r.ldevid.certificate.serialNumber, notAfter: r.ldevid.certificate.notAfter.toISOString(), fingerprint256: r.ldevid.certificate.fingerprint256 },
    domainCa: parseCertificate(r.domainCa.der).subject,
    voucher: { assertion: r.voucher.verified.voucher.assertion, createdOn: r.voucher.verified.voucher.createdOn.toISOString(), masa: r.voucher.verified.masaCertificate.subject },
    ...(r.files !== undefined ? { files: r.files } : {}),
  };
}
