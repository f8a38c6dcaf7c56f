/**
 * The pledge over CoAPs (constrained BRSKI + EST-coaps, RFC 9148): the same three steps as the
 * HTTPS pledge (pledge.ts), with DTLS 1.2 for TLS, COSE_Sign1 for CMS and DER for base64.
 *
 *   1. DTLS to the registrar with the IDevID as client certificate; the registrar's certificate
 *      is taken provisionally (RFC 8995 §5.1) and named in a COSE-signed voucher request
 *      (proximity, 128-bit nonce) POSTed to /.well-known/brski/rv (Content-Format 836). 5.03 with
 *      Max-Age (operator approval pending) is waited out like HTTP 202 + Retry-After.
 *   2. The COSE voucher is verified (MASA anchor, serial, nonce, expiry); the provisional registrar
 *      certificate must chain to its pinned-domain-cert (§5.6.2), and from then on the session is
 *      authenticated: voucher status (CBOR, /vs) and EST simpleenroll (/est/sen, DER CSR 286 →
 *      certs-only 281) run on it.
 *   3. enrollstatus (/es) over a new DTLS session authenticated with the new LDevID, the server
 *      checked against the pinned domain CA only.
 *
 * `runCoapsPledge` returns the same `PledgeResult` as `runPledge`; `voucher.der` holds the
 * COSE_Sign1 (written as voucher.cose). `openCoapsRegistrar` is the connection underneath, for
 * callers that want EST-coaps alone (e.g. re-enrollment with the LDevID).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoapEndpoint, getUintOption, OptionNumber, type CoapResponse } from '../../coap/index.js';
import type { Signer } from '../../crypto/keystore/types.js';
import { encodeCbor } from '../../cose/cbor.js';
import { connectDtls, dtlsClientTransport, type PeerIdentity } from '../../dtls/index.js';
import { InvalidArgumentError, RootlineError } from '../../errors.js';
import { createCsr, encodePem, findAttribute, parseCertificate, parsePem, verifyChain, type ParsedCertificate } from '../../pki/index.js';
import { bytesEqual } from '../../pki/der.js';
import { parseCsr } from '../../pki/parse-csr.js';
import { createConstrainedPledgeVoucherRequest, verifyConstrainedVoucher } from '../constrained-voucher.js';
import { decodeCertsOnly } from '../est/certs-only.js';
import { BrskiCoapsFormat, EstCoapsFormat } from '../coaps/content-formats.js';
import { PledgePendingError, PledgeProtocolError, RegistrarNotPinnedError } from '../registrar/errors.js';
import type { VerifiedVoucher } from '../signed-voucher.js';
import type { PledgeResult, RunPledgeOptions } from './pledge.js';
import { deviceSigner, generateDeviceKey, importDeviceKey, pkcs8Pem } from './device-key.js';

const OUT_FILES = ['ldevid.pem', 'ldevid-chain.pem', 'ldevid.key', 'domain-ca.pem', 'voucher.cose'];
const MAX_RESPONSE_BYTES = 256 * 1024;

export interface CoapsRegistrarTarget {
  host: string;
  port: number;
  /** Handshake and per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Our DTLS client credential: the key and its certificate chain (leaf first, DER). */
  certificate: { signer: Signer; chain: Uint8Array[] };
  /**
   * Trust anchors for the registrar's certificate (DER). Absent: provisional — any certificate
   * chain is taken and must be checked by the caller (`serverChain`) before trusting answers.
   */
  trustAnchors?: Uint8Array[];
  /** Time for the server certificate check (`null`: none, a clock-less device). Default now. */
  now?: Date | null;
}

export interface CoapsExchange {
  /** CoAP response code as class*100+detail (205 for 2.05), comparable with HTTP-style checks. */
  status: number;
  contentFormat: number | undefined;
  maxAge: number | undefined;
  payload: Uint8Array;
}

export interface CoapsRegistrarConnection {
  /** The registrar's certificate chain as presented in the handshake, leaf first, DER. */
  readonly serverChain: Uint8Array[];
  request(method: 'GET' | 'POST', path: string, body?: { payload: Uint8Array; contentFormat: number }, accept?: number): Promise<CoapsExchange>;
  close(): Promise<void>;
}

function statusOf(res: CoapResponse): number {
  return (res.code >> 5) * 100 + (res.code & 0x1f);
}

/** Opens a DTLS session (X.509 client certificate) and a CoAP endpoint on it. */
export async function openCoapsRegistrar(target: CoapsRegistrarTarget): Promise<CoapsRegistrarConnection> {
  if (target === null || typeof target !== 'object') throw new InvalidArgumentError('target', 'expected an object');
  if (typeof target.host !== 'string' || target.host.length === 0) throw new InvalidArgumentError('target.host', 'expected a host');
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new InvalidArgumentError('target.port', 'expected 1..65535');
  if (!Array.isArray(target.certificate?.chain) || target.certificate.chain.length === 0) throw new InvalidArgumentError('target.certificate.chain', 'expected the client certificate first');
  const timeoutMs = target.timeoutMs ?? 30_000;
  const now = target.now === undefined ? new Date() : target.now;
  const anchors = target.trustAnchors?.map((c) => parseCertificate(c));
  let serverChain: Uint8Array[] = [];
  const verifyServer = (id: PeerIdentity): boolean => {
    if (id.type !== 'x509' || id.chain.length === 0) return false;
    serverChain = id.chain.map((c) => new Uint8Array(c));
    if (anchors === undefined) return true; // provisional: the caller checks serverChain later
    try {
      const leaf = parseCertificate(id.chain[0]!);
      if (anchors.some((a) => bytesEqual(a.der, leaf.der))) return true;
      verifyChain(leaf, id.chain.slice(1).map((c) => parseCertificate(c)), anchors, now !== null ? { at: now } : {});
      return true;
    } catch {
      return false;
    }
  };
  let session;
  try {
    session = await connectDtls({
      host: target.host,
      port: target.port,
      certificate: { signer: target.certificate.signer, chain: target.certificate.chain },
      clientCertificateTypes: ['x509'],
      serverCertificateTypes: ['x509'],
      verifyServer,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new PledgeProtocolError(`DTLS to the registrar at ${target.host}:${target.port} failed: ${(err as Error).message}`, {}, { cause: err });
  }
  const coap = new CoapEndpoint(dtlsClientTransport(session), { maxResponseBodySize: MAX_RESPONSE_BYTES });
  const peer = session.peerKey;
  return {
    get serverChain() {
      return serverChain.map((c) => c.slice());
    },
    async request(method, path, body, accept) {
      let res: CoapResponse;
      try {
        res = await coap.request(peer, {
          method,
          path,
          ...(body !== undefined ? { payload: body.payload, contentFormat: body.contentFormat } : {}),
          ...(accept !== undefined ? { accept } : {}),
          responseTimeoutMs: timeoutMs,
        });
      } catch (err) {
        throw new PledgeProtocolError(`${path}: ${(err as Error).message}`, {}, { cause: err });
      }
      return { status: statusOf(res), contentFormat: res.contentFormat, maxAge: getUintOption(res.options, OptionNumber.MaxAge), payload: res.payload };
    },
    close: () => coap.close(),
  };
}

/** The registrar's error answer as a typed error: CoAP code and the ERR_ code its diagnostic payload leads with. */
export function coapsProtocolError(ex: CoapsExchange, what: string): PledgeProtocolError {
  const text = Buffer.from(ex.payload.subarray(0, 300)).toString('utf8');
  const m = /^(ERR_[A-Z0-9_]{1,80}):\s?(.*)$/s.exec(text);
  const code = m?.[1];
  // Control characters (the registrar's text reaches a terminal) become spaces.
  const message = Array.from(m?.[2] ?? text, (ch) => (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f ? ' ' : ch)).join('').slice(0, 300);
  const coapCode = `${Math.floor(ex.status / 100)}.${String(ex.status % 100).padStart(2, '0')}`;
  return new PledgeProtocolError(`${what}: CoAP ${coapCode}${code !== undefined ? ` ${code}` : ''}${message ? `: ${message}` : ''}`, { status: ex.status, ...(code !== undefined ? { serverCode: code } : {}) });
}

function read(dir: string, name: string): string {
  const p = join(dir, name);
  try {
    return readFileSync(p, 'utf8');
  } catch (err) {
    // Asked only on failure (one stat per file fewer on the way that works): the same answers.
    if (!existsSync(p)) throw new InvalidArgumentError('idevidDir', `${p} is missing`);
    throw err;
  }
}

function statusBody(status: boolean, reason?: string): { payload: Uint8Array; contentFormat: number } {
  // RFC 8995 §5.7 fields, as the CBOR map constrained pledges send (Content-Format 60).
  const m = new Map<string, unknown>([['version', 1], ['status', status]]);
  if (reason !== undefined) m.set('reason', reason.slice(0, 512));
  return { payload: encodeCbor(m), contentFormat: BrskiCoapsFormat.Cbor };
}

/** Parses coaps://host:port (no path, query or fragment). */
export function parseCoapsRegistrarUrl(raw: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (err) {
    throw new InvalidArgumentError('registrarUrl', 'expected a coaps:// URL', { cause: err });
  }
  if (url.protocol !== 'coaps:') throw new InvalidArgumentError('registrarUrl', 'expected a coaps:// URL');
  if (url.search !== '' || url.hash !== '' || (url.pathname !== '' && url.pathname !== '/')) throw new InvalidArgumentError('registrarUrl', 'expected coaps://host:port with no path, query or fragment');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // RFC 7252 §6.2: the default coaps port is 5684.
  const port = url.port === '' ? 5684 : Number(url.port);
  return { host, port };
}

export interface RunCoapsPledgeOptions extends RunPledgeOptions {
  /**
   * More requests on the enrollstatus session (DTLS with the new LDevID, the server checked
   * against the pinned domain CA only), after /es was answered 2.04 and before the session closes:
   * the CoAPs form of the HTTPS pledge's `afterEnrollment` (`onboardDevice` asks for the LwM2M
   * bootstrap server here, one DTLS handshake fewer per device). Its error fails the pledge.
   */
  afterCoapsEnrollment?: (conn: CoapsRegistrarConnection) => Promise<void>;
}

/** Runs the whole pledge over CoAPs; see the file header. Options as `runPledge`, registrarUrl coaps://. */
export async function runCoapsPledge(options: RunCoapsPledgeOptions): Promise<PledgeResult> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (typeof options.idevidDir !== 'string' || options.idevidDir.length === 0) throw new InvalidArgumentError('idevidDir', 'expected a directory');
  const { host, port } = parseCoapsRegistrarUrl(options.registrarUrl);
  // The HTTPS pledge's hook for more requests on its LDevID connection has no CoAPs form yet.
  if ((options as { afterEnrollment?: unknown }).afterEnrollment !== undefined) throw new InvalidArgumentError('afterEnrollment', 'not available over CoAPs; ask the registrar over HTTPS or pass the bootstrap server explicitly');
  if (options.afterCoapsEnrollment !== undefined && typeof options.afterCoapsEnrollment !== 'function') throw new InvalidArgumentError('afterCoapsEnrollment', 'expected a function');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxPending = options.maxPendingAttempts ?? 10;
  const maxRetryAfter = options.maxRetryAfterSeconds ?? 3600;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // Read at each check, not once: a certificate issued during the run is valid from its own second.
  const clock = (): Date | null => (options.now === undefined ? new Date() : options.now);
  const step = options.onStep ?? (() => undefined);
  if (options.outDir !== undefined) {
    // Before any traffic: a failed write after enrollment would lose the key of an issued LDevID.
    const taken = OUT_FILES.map((f) => join(options.outDir!, f)).find((f) => existsSync(f));
    if (taken !== undefined) throw new InvalidArgumentError('outDir', `${taken} exists already`);
  }
  const idevid = parseCertificate(read(options.idevidDir, 'idevid.pem'));
  const idevidChain = parsePem(read(options.idevidDir, 'idevid-chain.pem'), {}).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
  if (idevidChain.length === 0 || !bytesEqual(idevidChain[0]!, idevid.der)) idevidChain.unshift(idevid.der);
  const idevidSigner = deviceSigner(importDeviceKey(read(options.idevidDir, 'idevid.key')));
  const masaAnchors = parsePem(options.masaTrustAnchors ?? read(options.idevidDir, 'masa-ca.pem'), {}).map((b) => b.der);
  const serial = findAttribute(idevid.subjectRdns, 'serialNumber');
  if (serial === undefined) throw new InvalidArgumentError('idevidDir', 'idevid.pem has no subject serialNumber');
  const target = { host, port, timeoutMs, ...(options.now !== undefined ? { now: options.now } : {}) };

  // 1. Voucher request over a provisional DTLS session.
  let conn: CoapsRegistrarConnection | undefined;
  let registrarChain: Uint8Array[] = [];
  let signed: { bytes: Uint8Array; nonce: Uint8Array } | undefined;
  let voucher: Uint8Array | undefined;
  try {
    for (let attempt = 1; voucher === undefined; attempt++) {
      conn = await openCoapsRegistrar({ ...target, certificate: { signer: idevidSigner, chain: idevidChain } });
      const seen = conn.serverChain;
      // The same registrar certificate keeps the same request across a wait; another gets a fresh one.
      if (signed === undefined || registrarChain[0] === undefined || !bytesEqual(seen[0]!, registrarChain[0])) {
        registrarChain = seen;
        const nonce = new Uint8Array(randomBytes(16));
        const pvr = await createConstrainedPledgeVoucherRequest({ signer: idevidSigner, idevid: [idevid], registrarCertificate: seen[0]!, nonce, now: clock() });
        signed = { bytes: pvr.bytes, nonce };
      }
      step('voucher-request', { serialNumber: serial, attempt });
      const ex = await conn.request('POST', '/.well-known/brski/rv', { payload: signed.bytes, contentFormat: BrskiCoapsFormat.VoucherCose }, BrskiCoapsFormat.VoucherCose);
      if (ex.status === 204) {
        if (ex.contentFormat !== BrskiCoapsFormat.VoucherCose) throw new PledgeProtocolError(`rv: expected Content-Format ${BrskiCoapsFormat.VoucherCose}, got ${ex.contentFormat ?? 'none'}`, { status: ex.status });
        voucher = ex.payload;
        break;
      }
      // RFC 9148 §4.7 (and the constrained voucher draft): 5.03 + Max-Age = come back later.
      if (ex.status !== 503 || ex.maxAge === undefined) throw coapsProtocolError(ex, 'rv');
      await conn.close();
      conn = undefined;
      step('pending', { retryAfterSeconds: ex.maxAge, attempt });
      if (ex.maxAge > maxRetryAfter || attempt >= maxPending) throw new PledgePendingError(`the registrar still holds the request for approval after ${attempt} attempt(s)`, ex.maxAge);
      await sleep(ex.maxAge * 1000);
    }
    const session = conn!;

    // 2. The voucher, then the registrar against the pinned domain.
    let verified: VerifiedVoucher;
    try {
      const now = clock();
      verified = await verifyConstrainedVoucher(voucher, { masaTrustAnchors: masaAnchors, serialNumber: serial, nonce: signed!.nonce, now });
      const pinned = parseCertificate(verified.pinnedDomainCertificate);
      // RFC 8995 §5.6.2: the provisional server certificate must chain to the pinned-domain-cert.
      if (!bytesEqual(pinned.der, registrarChain[0]!)) {
        try {
          verifyChain(parseCertificate(registrarChain[0]!), registrarChain.slice(1).map((c) => parseCertificate(c)).filter((c) => !c.selfIssued), [pinned], now !== null ? { at: now } : {});
        } catch (err) {
          throw new RegistrarNotPinnedError(`the registrar's certificate does not chain to the domain the voucher pins: ${(err as Error).message}`, { cause: err });
        }
      }
    } catch (err) {
      // §5.7: a refused voucher is reported too, best effort.
      if (err instanceof RootlineError) await session.request('POST', '/.well-known/brski/vs', statusBody(false, `${err.code}: ${err.message}`)).catch(() => undefined);
      throw err;
    }
    step('voucher', { serialNumber: serial, assertion: verified.voucher.assertion });
    const pinnedDer = verified.pinnedDomainCertificate;
    const domainCaPem = encodePem('CERTIFICATE', pinnedDer);

    // 3. The session is now authenticated by the pinned domain: status, then EST.
    {
      const ex = await session.request('POST', '/.well-known/brski/vs', statusBody(true));
      if (ex.status !== 204) throw coapsProtocolError(ex, 'vs');
      step('voucher-status', { status: true });
    }
    const key: KeyObject = options.ldevidKey ?? generateDeviceKey();
    let issued: { leaf: ParsedCertificate; chain: Uint8Array[] };
    try {
      issued = await enrollOver(session, '/est/sen', deviceSigner(key), serial, pinnedDer, clock);
    } catch (err) {
      const code = err instanceof RootlineError ? err.code : 'ERR_INTERNAL';
      await session.request('POST', '/.well-known/brski/es', statusBody(false, `${code}: ${(err as Error).message}`)).catch(() => undefined);
      throw err;
    }
    step('enroll', { subject: issued.leaf.subject, serialNumber: issued.leaf.serialNumber });
    await session.close();
    conn = undefined;

    // enrollstatus over a session authenticated with the new LDevID (§5.9.4), server pinned.
    const ldevidSession = await openCoapsRegistrar({ ...target, certificate: { signer: deviceSigner(key), chain: issued.chain }, trustAnchors: [pinnedDer] });
    try {
      const ex = await ldevidSession.request('POST', '/.well-known/brski/es', statusBody(true));
      if (ex.status !== 204) throw coapsProtocolError(ex, 'es');
      step('enroll-status', { status: true });
      if (options.afterCoapsEnrollment !== undefined) await options.afterCoapsEnrollment(ldevidSession);
    } finally {
      await ldevidSession.close();
    }
    const result: PledgeResult = {
      serialNumber: serial,
      ldevid: { der: issued.leaf.der, pem: encodePem('CERTIFICATE', issued.leaf.der), chain: issued.chain, certificate: issued.leaf },
      key,
      domainCa: { der: pinnedDer, pem: domainCaPem },
      voucher: { der: voucher, verified },
      endpoint: findAttribute(issued.leaf.subjectRdns, 'CN'),
    };
    // The PEM forms are made only to be written (a fleet without outDir never needs them).
    if (options.outDir !== undefined) result.files = writeResult(options.outDir, result, issued.chain.map((c) => encodePem('CERTIFICATE', c)).join(''), pkcs8Pem(key));
    return result;
  } finally {
    await conn?.close();
  }
}

export interface CoapsBootstrapServer {
  /** The endpoint name the registrar provisioned (the LDevID's CN). */
  endpoint: string;
  /** coaps://host:port of the LwM2M bootstrap server. */
  uri: string;
  /** Its certificate (DER) to pin in DTLS. */
  serverCertificate: Uint8Array;
}

/**
 * Asks a CoAPs registrar where to bootstrap (GET /.well-known/rootline/lwm2m-bootstrap), over DTLS
 * with the LDevID as client certificate and the pinned domain CA as the only trust anchor: the
 * step after `runCoapsPledge` for a device that continues into LwM2M bootstrap.
 */
export async function fetchCoapsBootstrapServer(options: { registrarUrl: string; ldevidChain: Uint8Array[]; key: KeyObject; domainCa: Uint8Array; timeoutMs?: number }): Promise<CoapsBootstrapServer> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const { host, port } = parseCoapsRegistrarUrl(options.registrarUrl);
  const conn = await openCoapsRegistrar({ host, port, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}), certificate: { signer: deviceSigner(options.key), chain: options.ldevidChain }, trustAnchors: [options.domainCa] });
  try {
    return await askCoapsBootstrapServer(conn);
  } finally {
    await conn.close();
  }
}

/**
 * The same question on a session the caller holds, which must be authenticated with the LDevID
 * and pinned to the domain CA (`runCoapsPledge`'s enrollstatus session, via afterCoapsEnrollment).
 */
export async function askCoapsBootstrapServer(conn: CoapsRegistrarConnection): Promise<CoapsBootstrapServer> {
  const ex = await conn.request('GET', '/.well-known/rootline/lwm2m-bootstrap', undefined, BrskiCoapsFormat.Json);
  if (ex.status !== 205) throw coapsProtocolError(ex, 'lwm2m-bootstrap');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(ex.payload).toString('utf8'));
  } catch (err) {
    throw new PledgeProtocolError('lwm2m-bootstrap: the answer is not JSON', { status: ex.status }, { cause: err });
  }
  const o = parsed as { endpoint?: unknown; uri?: unknown; securityMode?: unknown; serverCertificate?: unknown } | null;
  if (o === null || typeof o !== 'object' || typeof o.endpoint !== 'string' || typeof o.uri !== 'string' || o.securityMode !== 'x509' || typeof o.serverCertificate !== 'string') {
    throw new PledgeProtocolError('lwm2m-bootstrap: expected { endpoint, uri, securityMode: "x509", serverCertificate }', { status: ex.status });
  }
  if (!/^coaps:\/\/[^\s/?#]{1,253}$/.test(o.uri)) throw new PledgeProtocolError('lwm2m-bootstrap: uri is not coaps://host:port', { status: ex.status });
  let serverCertificate: Uint8Array;
  try {
    serverCertificate = parseCertificate(new Uint8Array(Buffer.from(o.serverCertificate, 'base64'))).der;
  } catch (err) {
    throw new PledgeProtocolError('lwm2m-bootstrap: serverCertificate is not a certificate', { status: ex.status }, { cause: err });
  }
  return { endpoint: o.endpoint, uri: o.uri, serverCertificate };
}

/**
 * EST-coaps simpleenroll on an authenticated session: DER CSR (286) in, certs-only (281) out; the
 * certificate must be for our key and chain to the pinned domain CA.
 */
async function enrollOver(conn: CoapsRegistrarConnection, path: string, signer: Signer, serial: string, domainCa: Uint8Array, clock: () => Date | null): Promise<{ leaf: ParsedCertificate; chain: Uint8Array[] }> {
  // The registrar names the subject (CN = endpoint); the CSR's carries the serial for humans.
  const csr = await createCsr({ signer, subject: [[{ type: 'serialNumber', value: serial }]] });
  const ex = await conn.request('POST', path, { payload: csr, contentFormat: EstCoapsFormat.Pkcs10 }, EstCoapsFormat.CertsOnly);
  if (ex.status === 503 && ex.maxAge !== undefined) throw new PledgePendingError(`${path}: the registrar holds the enrollment (retry after ${ex.maxAge} s)`, ex.maxAge);
  if (ex.status !== 204) throw coapsProtocolError(ex, path);
  if (ex.contentFormat !== EstCoapsFormat.CertsOnly) throw new PledgeProtocolError(`${path}: expected Content-Format ${EstCoapsFormat.CertsOnly}, got ${ex.contentFormat ?? 'none'}`, { status: ex.status });
  let certs: ParsedCertificate[];
  try {
    certs = decodeCertsOnly(ex.payload).map((c) => parseCertificate(c));
  } catch (err) {
    throw new PledgeProtocolError(`${path}: the answer is not a certs-only CMS: ${(err as Error).message}`, { status: ex.status }, { cause: err });
  }
  const csrKey = parseCsr(csr).publicKey;
  const leaf = certs.find((c) => bytesEqual(c.publicKey, csrKey));
  if (leaf === undefined) throw new PledgeProtocolError(`${path}: no certificate in the answer is for the key in our CSR`, { status: ex.status });
  const anchor = parseCertificate(domainCa);
  // Read after the answer: the certificate is valid from the second it was issued in.
  const now = clock();
  try {
    const { chain } = verifyChain(leaf, certs.filter((c) => c !== leaf && !c.selfIssued), [anchor], now !== null ? { at: now, purpose: 'clientAuth' } : { purpose: 'clientAuth' });
    return { leaf, chain: chain.map((c) => c.der.slice()) };
  } catch (err) {
    throw new PledgeProtocolError(`${path}: the issued certificate does not chain to the pinned domain CA: ${(err as Error).message}`, { status: ex.status }, { cause: err });
  }
}

function writeResult(dir: string, r: PledgeResult, chainPem: string, keyPem: string): NonNullable<PledgeResult['files']> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { ldevid: join(dir, 'ldevid.pem'), chain: join(dir, 'ldevid-chain.pem'), key: join(dir, 'ldevid.key'), domainCa: join(dir, 'domain-ca.pem'), voucher: join(dir, 'voucher.cose') };
  // 'wx': a second run never overwrites the key of the first.
  writeFileSync(files.key, keyPem, { mode: 0o600, flag: 'wx' });
  writeFileSync(files.ldevid, r.ldevid.pem, { flag: 'wx' });
  writeFileSync(files.chain, chainPem, { flag: 'wx' });
  writeFileSync(files.domainCa, r.domainCa.pem, { flag: 'wx' });
  writeFileSync(files.voucher, r.voucher.der, { flag: 'wx' });
  return files;
}
