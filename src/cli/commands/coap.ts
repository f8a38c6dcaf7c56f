/**
 * `rootline coap get|put|post|delete|observe <uri>`: a CoAP client for operators, like libcoap's
 * coap-client, over coap:// (UDP) and coaps:// (our DTLS 1.2 client) with PSK, X.509 or raw
 * public key credentials. Every argument is checked before anything is sent (exit 2).
 *
 * Server authentication for ECDHE_ECDSA is never implicit: give --ca (X.509 chain checked against
 * these anchors, and the URI host against the certificate's names), --server-key (the server's
 * public key pinned, for raw public keys and certificates alike), or --insecure. We chose pinning
 * over trust-on-first-use: a command-line tool has no safe place to keep first-use pins, and
 * TOFU silently trusts whoever answers first.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  coapObserve,
  coapRequest,
  ContentFormat,
  contentFormatName,
  decodeString,
  decodeUint,
  OPTION_DEFINITIONS,
  parseCoapUri,
  type CoapMethod,
  type CoapRequestOptions,
  type CoapResponse,
  type CoapUri,
} from '../../coap/index.js';
import { keyObjectSigner } from '../../crypto/signer.js';
import { connectDtls, dtlsClientTransport, type ClientSession, type DtlsClientOptions, type PeerIdentity } from '../../dtls/index.js';
import { RootlineError } from '../../errors.js';
import { decodePemChain, extractRawPublicKey, parseCertificate, verifyChain } from '../../pki/index.js';
import { intFlag, parseCommandArgs, str, type Command, type OptionSpec, type Parsed } from '../command.js';
import { InputFileError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

/** The exchange did not finish within --timeout. */
export class CoapCommandTimeoutError extends RootlineError {
  constructor(seconds: number) {
    super('ERR_CLI_COAP_TIMEOUT', `no answer within ${seconds} s`);
  }
}

/** The server answered with a 4.xx or 5.xx code (exit 1, like curl --fail). */
export class CoapErrorResponseError extends RootlineError {
  constructor(codeText: string) {
    super('ERR_CLI_COAP_ERROR_RESPONSE', `server answered ${codeText}`);
  }
}

const options = {
  'psk-identity': { type: 'string' },
  'psk-key': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  rpk: { type: 'string' },
  'server-key': { type: 'string' },
  insecure: { type: 'boolean' },
  payload: { type: 'string', short: 'e' },
  'payload-file': { type: 'string' },
  'content-format': { type: 'string' },
  accept: { type: 'string' },
  timeout: { type: 'string' },
  'observe-count': { type: 'string' },
  duration: { type: 'string' },
  output: { type: 'string', short: 'o' },
  non: { type: 'boolean' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

const DEFAULT_TIMEOUT_S = 30;

// Short names operators type, besides numbers and the registry's full media types.
const FORMAT_ALIASES: Readonly<Record<string, number>> = {
  text: ContentFormat.TextPlain,
  'text/plain': ContentFormat.TextPlain,
  link: ContentFormat.LinkFormat,
  json: ContentFormat.Json,
  cbor: ContentFormat.Cbor,
  octet: ContentFormat.OctetStream,
  'senml+json': ContentFormat.SenmlJson,
  'senml+cbor': ContentFormat.SenmlCbor,
  tlv: ContentFormat.LwM2mTlv,
  'lwm2m+json': ContentFormat.LwM2mJson,
  'lwm2m+cbor': ContentFormat.LwM2mCbor,
};

function formatFlag(command: string, p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (/^[0-9]{1,5}$/.test(v) && Number(v) <= 65535) return Number(v);
  const alias = FORMAT_ALIASES[v.toLowerCase()];
  if (alias !== undefined) return alias;
  for (const n of Object.values(ContentFormat)) if (contentFormatName(n) === v.toLowerCase()) return n;
  throw new UsageError(command, `--${name}: expected a content-format number 0..65535 or a name (${Object.keys(FORMAT_ALIASES).join(', ')}, or a media type such as application/cbor), got ${JSON.stringify(v)}`);
}

function readInput(flag: string, file: string, io: CliIo): Buffer {
  try {
    return readFileSync(resolve(io.cwd, file));
  } catch (err) {
    throw new InputFileError(`--${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

function privateKeyFrom(flag: string, file: string, io: CliIo): KeyObject {
  try {
    const key = createPrivateKey(readInput(flag, file, io));
    const ok = (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') || key.asymmetricKeyType === 'ed25519';
    if (!ok) throw new InputFileError(`--${flag}: ${file} is a ${key.asymmetricKeyType ?? 'unknown'} key; expected EC P-256 or Ed25519`);
    return key;
  } catch (err) {
    if (err instanceof RootlineError) throw err;
    throw new InputFileError(`--${flag}: ${file} is not a PEM or DER private key`, { cause: err });
  }
}

function pemFile<T>(flag: string, file: string, io: CliIo, parse: (bytes: Buffer) => T): T {
  const bytes = readInput(flag, file, io);
  try {
    return parse(bytes);
  } catch (err) {
    throw new InputFileError(`--${flag}: ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** RFC 6125 §6.4: the URI's host must be among the certificate's DNS names or IP addresses. */
function certificateNamesHost(leaf: Uint8Array, host: string): boolean {
  const san = parseCertificate(leaf).subjectAltNames;
  if (san === undefined) return false;
  if (isIP(host) !== 0) return san.ip.some((ip) => ip.toLowerCase() === host.toLowerCase());
  const h = host.toLowerCase().replace(/\.$/, '');
  return san.dns.some((name) => {
    const n = name.toLowerCase();
    // §6.4.3: a wildcard only as the complete left-most label, matching exactly one label.
    return n.startsWith('*.') ? h.slice(h.indexOf('.') + 1) === n.slice(2) && h.indexOf('.') > 0 : n === h;
  });
}

interface Plan {
  uri: CoapUri;
  dtls?: Omit<DtlsClientOptions, 'host' | 'port'>;
  insecure: boolean;
}

/** Checks the credential flags against the scheme and turns them into DTLS client options. */
function planSecurity(command: string, uri: CoapUri, p: Parsed, io: CliIo): Plan {
  const identity = str(p, 'psk-identity');
  const pskKey = str(p, 'psk-key');
  const cert = str(p, 'cert');
  const key = str(p, 'key');
  const ca = str(p, 'ca');
  const rpk = str(p, 'rpk');
  const serverKey = str(p, 'server-key');
  const insecure = p.values.insecure === true;
  const psk = identity !== undefined || pskKey !== undefined;
  const ecdhe = cert !== undefined || key !== undefined || ca !== undefined || rpk !== undefined || serverKey !== undefined || insecure;
  if (uri.scheme === 'coap') {
    if (psk || ecdhe) throw new UsageError(command, 'DTLS options (--psk-*, --cert, --key, --ca, --rpk, --server-key, --insecure) need a coaps:// URI');
    return { uri, insecure: false };
  }
  if (psk && ecdhe) throw new UsageError(command, 'give either --psk-identity/--psk-key or certificate options (--cert/--key, --rpk, --ca, --server-key), not both');
  if (psk) {
    if (identity === undefined) throw new UsageError(command, '--psk-key needs --psk-identity');
    if (pskKey === undefined) throw new UsageError(command, '--psk-identity needs --psk-key');
    if (identity.length === 0 || Buffer.byteLength(identity) > 128) throw new UsageError(command, '--psk-identity: expected 1..128 bytes');
    if (!/^([0-9a-fA-F]{2}){1,64}$/.test(pskKey)) throw new UsageError(command, '--psk-key: expected 1..64 bytes as hex (an even number of 0-9 a-f digits)');
    return { uri, insecure: false, dtls: { psk: { identity, key: new Uint8Array(Buffer.from(pskKey, 'hex')) } } };
  }
  if (!ecdhe) throw new UsageError(command, 'coaps:// needs credentials: --psk-identity/--psk-key, or --ca / --server-key / --insecure to authenticate the server');
  if (cert !== undefined && rpk !== undefined) throw new UsageError(command, 'give --cert/--key or --rpk, not both');
  if (cert !== undefined && key === undefined) throw new UsageError(command, '--cert needs --key (its private key)');
  if (key !== undefined && cert === undefined) throw new UsageError(command, '--key needs --cert (use --rpk for a key without a certificate)');
  const verifiers = [ca !== undefined, serverKey !== undefined, insecure].filter(Boolean).length;
  if (verifiers === 0) throw new UsageError(command, 'authenticate the server with --ca <pem> or --server-key <pem>, or pass --insecure');
  if (verifiers > 1) throw new UsageError(command, 'give one of --ca, --server-key and --insecure');

  const dtls: Omit<DtlsClientOptions, 'host' | 'port'> = {};
  if (cert !== undefined && key !== undefined) {
    const chain = pemFile('cert', cert, io, (b) => decodePemChain(b.toString('utf8'), 'CERTIFICATE'));
    if (chain.length === 0) throw new InputFileError(`--cert: ${cert} holds no certificate`);
    dtls.certificate = { signer: keyObjectSigner(privateKeyFrom('key', key, io)), chain };
  } else if (rpk !== undefined) {
    dtls.certificate = { signer: keyObjectSigner(privateKeyFrom('rpk', rpk, io)) };
  }
  if (ca !== undefined) {
    const anchors = pemFile('ca', ca, io, (b) => decodePemChain(b.toString('utf8'), 'CERTIFICATE'));
    if (anchors.length === 0) throw new InputFileError(`--ca: ${ca} holds no certificate`);
    dtls.serverCertificateTypes = ['x509'];
    dtls.verifyServer = (peer: PeerIdentity) => {
      if (peer.type !== 'x509' || peer.chain[0] === undefined) return false;
      verifyChain(peer.chain[0], peer.chain.slice(1), anchors, { purpose: 'serverAuth' });
      return certificateNamesHost(peer.chain[0], uri.host);
    };
  } else if (serverKey !== undefined) {
    // A PUBLIC KEY PEM, or a certificate whose key to pin (e.g. <data>/coaps-server.pem).
    const pinned = Buffer.from(pemFile('server-key', serverKey, io, (b) => extractRawPublicKey(new Uint8Array(b))));
    dtls.verifyServer = (peer: PeerIdentity) => {
      if (peer.type === 'rpk') return pinned.equals(Buffer.from(peer.publicKey));
      if (peer.type === 'x509' && peer.chain[0] !== undefined) return pinned.equals(Buffer.from(parseCertificate(peer.chain[0]).publicKey));
      return false;
    };
  } else {
    dtls.verifyServer = () => true;
  }
  return { uri, insecure, dtls };
}

function optionView(number: number, value: Uint8Array): { number: number; name: string; value: string | number } {
  const def = OPTION_DEFINITIONS.get(number);
  const name = def?.name ?? `Option-${number}`;
  try {
    if (def?.format === 'uint') return { number, name, value: decodeUint(value) };
    if (def?.format === 'string') return { number, name, value: decodeString(value, number) };
  } catch {
    // A malformed value is shown as bytes rather than hidden.
  }
  return { number, name, value: Buffer.from(value).toString('hex') };
}

function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** One response as JSON: code, options, payload as text when it is UTF-8, else hex. */
export function responseJson(res: CoapResponse): Record<string, unknown> {
  const text = utf8OrUndefined(res.payload);
  const out: Record<string, unknown> = { code: res.codeText, options: res.options.map((o) => optionView(o.number, o.value)) };
  if (res.contentFormat !== undefined) out.contentFormat = contentFormatName(res.contentFormat) ?? res.contentFormat;
  if (res.observe !== undefined) out.observe = res.observe;
  out.payload = text ?? Buffer.from(res.payload).toString('hex');
  out.payloadEncoding = text !== undefined ? 'utf8' : 'hex';
  return out;
}

function printResponse(io: CliIo, res: CoapResponse, json: boolean, output: string | undefined): void {
  if (json) {
    // One line per response, so an observation's notifications stream as JSON lines.
    io.stdout.write(`${JSON.stringify(responseJson(res))}\n`);
  } else if (output !== undefined) {
    writeFileSync(resolve(io.cwd, output), res.payload);
  } else if (res.payload.length > 0) {
    const text = utf8OrUndefined(res.payload);
    io.stdout.write(text !== undefined ? (text.endsWith('\n') ? text : `${text}\n`) : `${Buffer.from(res.payload).toString('hex')}\n`);
  }
}

/**
 * DTLS retransmission within the deadline: RFC 6347's 1 s doubling timer, with as many
 * retransmissions as fit in `seconds`, so a handshake that gets no answer (server down, wrong
 * PSK) gives up by itself instead of keeping the process alive after the command has failed.
 */
export function handshakeRetransmit(seconds: number): { initialMs: number; maxMs: number; maxRetransmissions: number } {
  const maxMs = 60_000;
  let total = 1000;
  let n = 0;
  while (n < 6 && total + Math.min(1000 * 2 ** (n + 1), maxMs) <= seconds * 1000) {
    n++;
    total += Math.min(1000 * 2 ** n, maxMs);
  }
  return { initialMs: 1000, maxMs, maxRetransmissions: n };
}

/** Runs `work` with a deadline; `cleanup` closes whatever it opened when the deadline strikes. */
async function withDeadline<T>(seconds: number, work: Promise<T>, cleanup: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cleanup();
      reject(new CoapCommandTimeoutError(seconds));
    }, seconds * 1000);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function helpText(method: string): string {
  const observe = method === 'observe';
  return `Usage: rootline coap ${method} <uri> [options]

${observe ? 'Observes a resource (RFC 7641) and prints each notification until --observe-count,\n--duration, or SIGINT; then deregisters.' : `Sends one ${method.toUpperCase()} request (Block1/Block2 handled) and prints the response payload.`}
URIs: coap://host[:port]/path?query or coaps://... (default ports 5683/5684); host is an IPv4
literal, an IPv6 literal in brackets, or a host name.

coaps:// credentials (DTLS 1.2):
  --psk-identity <id> --psk-key <hex>  pre-shared key (1..64 bytes as hex)
  --cert <pem> --key <pem>             client certificate (chain, leaf first) and its private key
  --rpk <key-pem>                      client raw public key (RFC 7250): the private key file
  --ca <pem>                           verify the server's certificate chain against these anchors
                                       and the URI host against its names
  --server-key <pem>                   pin the server's public key (PUBLIC KEY PEM, or a certificate)
  --insecure                           do not authenticate the server (testing only)
  ECDHE_ECDSA needs one of --ca, --server-key, --insecure; there is no trust-on-first-use.

Options:
${observe ? '' : '  -e, --payload <text>     request payload (put, post)\n  --payload-file <file>    request payload from a file (put, post)\n  --content-format <cf>    Content-Format of the payload: number, media type or text, json, cbor, link, octet, tlv, ...\n'}  --accept <cf>            Accept option
  --timeout <s>            give up after s seconds (1..3600, default ${DEFAULT_TIMEOUT_S})${observe ? ' waiting for the first response' : ''}
${observe ? '  --observe-count <n>      stop after n responses (the first response counts)\n  --duration <s>           stop after s seconds\n' : '  -o, --output <file>      write the response payload to a file (bytes as received)\n'}  --non                    send the request non-confirmable
  --json                   print each response as one line of JSON: code, options, contentFormat,
                           payload (UTF-8 text, or hex with payloadEncoding "hex")

Exit codes: 0 on a 2.xx response, 1 on 4.xx/5.xx, timeouts, refused handshakes; 2 on bad arguments.
`;
}

function makeCommand(method: 'get' | 'put' | 'post' | 'delete' | 'observe'): Command {
  const name = `coap ${method}`;
  return {
    name,
    summary: method === 'observe' ? 'observe a CoAP resource (like coap-client -s)' : `send a CoAP ${method.toUpperCase()} request (like coap-client -m ${method})`,
    help: helpText(method),
    async run(args, io) {
      const p = parseCommandArgs(name, args, options, ['uri']);
      let uri: CoapUri;
      try {
        uri = parseCoapUri(p.positionals[0]!);
      } catch (err) {
        throw new UsageError(name, `<uri>: ${(err as Error).message}`, { cause: err });
      }
      const timeout = intFlag(name, p, 'timeout', 1, 3600) ?? DEFAULT_TIMEOUT_S;
      const carriesBody = method === 'put' || method === 'post';
      const text = str(p, 'payload');
      const file = str(p, 'payload-file');
      if (!carriesBody && (text !== undefined || file !== undefined || str(p, 'content-format') !== undefined)) {
        throw new UsageError(name, '--payload, --payload-file and --content-format are for put and post');
      }
      if (text !== undefined && file !== undefined) throw new UsageError(name, 'give --payload or --payload-file, not both');
      const observeOnly = ['observe-count', 'duration'].filter((f) => str(p, f) !== undefined);
      if (method !== 'observe' && observeOnly.length > 0) throw new UsageError(name, `--${observeOnly[0]} is for coap observe`);
      if (method === 'observe' && str(p, 'output') !== undefined) throw new UsageError(name, '--output is not for observe (use --json for a stream)');
      const count = intFlag(name, p, 'observe-count', 1, 1_000_000);
      const duration = intFlag(name, p, 'duration', 1, 31_536_000);
      const contentFormat = formatFlag(name, p, 'content-format');
      const accept = formatFlag(name, p, 'accept');
      const plan = planSecurity(name, uri, p, io);
      const payload = file !== undefined ? new Uint8Array(readInput('payload-file', file, io)) : text;
      const json = p.values.json === true;
      if (plan.insecure) io.stderr.write('rootline coap: warning: --insecure: the server is not authenticated\n');

      const request: CoapRequestOptions = {
        uri: p.positionals[0]!,
        method: (method === 'observe' ? 'GET' : method.toUpperCase()) as CoapMethod,
        responseTimeoutMs: timeout * 1000,
        ...(payload !== undefined ? { payload } : {}),
        ...(contentFormat !== undefined ? { contentFormat } : {}),
        ...(accept !== undefined ? { accept } : {}),
        ...(p.values.non === true ? { confirmable: false } : {}),
      };

      let session: ClientSession | undefined;
      const abort = (): void => session?.close();
      const connect = async (): Promise<void> => {
        if (plan.dtls === undefined) return;
        session = await connectDtls({ ...plan.dtls, host: uri.host, port: uri.port, retransmit: handshakeRetransmit(timeout) });
        request.transport = dtlsClientTransport(session);
        request.peer = session.peerKey;
      };

      if (method !== 'observe') {
        const res = await withDeadline(timeout, connect().then(() => coapRequest(request)), abort);
        printResponse(io, res, json, str(p, 'output'));
        if (res.code >= 0x80) throw new CoapErrorResponseError(res.codeText);
        return 0;
      }
      return observe(io, request, { connect, abort, timeout, count, duration, json });
    },
  };
}

async function observe(
  io: CliIo,
  request: CoapRequestOptions,
  o: { connect(): Promise<void>; abort(): void; timeout: number; count: number | undefined; duration: number | undefined; json: boolean },
): Promise<number> {
  let seen = 0;
  let finish: (reason: string) => void = () => undefined;
  const done = new Promise<string>((r) => (finish = r));
  let ended: Error | undefined;
  const onNotify = (res: CoapResponse): void => {
    if (o.count !== undefined && seen >= o.count) return;
    seen++;
    printResponse(io, res, o.json, undefined);
    if (o.count !== undefined && seen >= o.count) finish('count');
  };
  const obs = await withDeadline(
    o.timeout,
    o.connect().then(() =>
      coapObserve(request, onNotify, (err) => {
        ended = err;
        finish('ended');
      }),
    ),
    o.abort,
  );
  // The registration response is the first representation (RFC 7641 §3.1).
  onNotify(obs.response);
  if (obs.response.code >= 0x80) {
    await obs.cancel();
    throw new CoapErrorResponseError(obs.response.codeText);
  }
  if (!obs.active) {
    io.stderr.write('rootline coap: the server did not accept the observation (no Observe option in the response)\n');
    await obs.cancel();
    return 0;
  }
  const timer = o.duration !== undefined ? setTimeout(() => finish('duration'), o.duration * 1000) : undefined;
  const onSignal = (): void => finish('signal');
  if (io.shutdown !== undefined) io.shutdown.addEventListener('abort', onSignal, { once: true });
  else {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const reason = await done;
    if (reason === 'ended') {
      if (ended !== undefined) throw ended;
      return 0;
    }
    await obs.cancel();
    return 0;
  } finally {
    clearTimeout(timer);
    io.shutdown?.removeEventListener('abort', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const COAP_COMMANDS: readonly Command[] = (['get', 'put', 'post', 'delete', 'observe'] as const).map(makeCommand);
