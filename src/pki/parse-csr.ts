/**
 * Parsing and verifying PKCS#10 certification requests (RFC 2986). The self-signature is the
 * requester's proof that it holds the private key; a CA must check it before certifying the key.
 */
import { isDeepStrictEqual } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { DirectoryString, Extensions } from '@peculiar/asn1-x509';
import { signatureAlgorithmName, verifySignature } from './algorithms.js';
import { guard, parseSignedObject, type SignedObject, type SignedObjectFormat } from './asn1.js';
import { readCsrDer } from './certificate-der.js';
import { fromArrayBuffer, toHex } from './der.js';
import { derFrom } from './pem.js';
import { assertInteger, describeType } from '../util/assert.js';
import { BadCsrSignatureError, MalformedCsrError, UnsupportedAlgorithmError } from './errors.js';
import {
  decodeBasicConstraints,
  decodeExtensions,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeSubjectAltNames,
  type ExtensionView,
  type KeyUsageName,
  type SubjectAltNamesView,
} from './extensions.js';
import { formatRdns, nameToRdns, type Rdn } from './name.js';
import { OID } from './oids.js';
import { parsePublicKey, type PublicKeyAlgorithm } from './public-key.js';
import { InvalidArgumentError } from '../errors.js';

export interface ParsedCsr {
  der: Uint8Array;
  /** CertificationRequestInfo DER exactly as signed. */
  info: Uint8Array;
  subject: string;
  subjectRdns: Rdn[];
  subjectDer: Uint8Array;
  /** SubjectPublicKeyInfo DER. */
  publicKey: Uint8Array;
  publicKeyAlgorithm: PublicKeyAlgorithm;
  signatureAlgorithm: string;
  signatureAlgorithmName: string;
  signature: Uint8Array;
  /** Extensions requested through the PKCS#9 extensionRequest attribute. */
  extensions: ExtensionView[];
  keyUsage?: KeyUsageName[];
  extKeyUsage?: string[];
  basicConstraints?: { ca: boolean; pathLen?: number };
  subjectAltNames?: SubjectAltNamesView;
  challengePassword?: string;
  /** Every attribute, values as DER. */
  attributes: Array<{ oid: string; values: Uint8Array[] }>;
}

export interface ParseCsrOptions {
  /** Refuse inputs longer than this many bytes (default 256 KiB). */
  maxLength?: number;
}

const fail = (m: string, cause?: unknown): MalformedCsrError => new MalformedCsrError(m, { cause });

type Sink = { keyUsage?: KeyUsageName[]; extKeyUsage?: string[]; basicConstraints?: { ca: boolean; pathLen?: number }; subjectAltNames?: SubjectAltNamesView };

const DECODERS: Record<string, (der: Uint8Array, out: Sink) => void> = {
  [OID.keyUsage]: (d, o) => (o.keyUsage = decodeKeyUsage(d)),
  [OID.extKeyUsage]: (d, o) => (o.extKeyUsage = decodeExtKeyUsage(d)),
  [OID.basicConstraints]: (d, o) => (o.basicConstraints = decodeBasicConstraints(d)),
  [OID.subjectAltName]: (d, o) => (o.subjectAltNames = decodeSubjectAltNames(d)),
};

/** Parses a CSR given as DER or PEM ("CERTIFICATE REQUEST"). Does not check the signature. */
export function parseCsr(input: Uint8Array | string, options: ParseCsrOptions = {}): ParsedCsr {
  const maxLength = options.maxLength ?? 256 * 1024;
  assertInteger(maxLength, 'options.maxLength', 1);
  const der = derFrom(input, 'input', CSR_FORMAT.pemLabel);
  if (der.length > maxLength) throw fail(`CSR longer than ${maxLength} bytes`);
  // The hand-written reader first (certificate-der.ts); anything outside its profile goes to the
  // schema library, which accepts or refuses as before.
  const fast = readCsrDer(der);
  if (fast !== undefined) {
    if (DIFFERENTIAL && !isDeepStrictEqual(fast, parseCsrBySchema(der, maxLength))) throw new Error(`ROOTLINE_PKI_DIFFERENTIAL: the hand-written CSR reader's view differs for ${toHex(der)}`);
    return fast;
  }
  return parseCsrBySchema(der, maxLength);
}

/** Internal (tests): `parseCsr` by the schema library alone. */
export function parseCsrBySchema(input: Uint8Array | string, maxLength = 256 * 1024): ParsedCsr {
  return parseSignedObject(input, maxLength, CSR_FORMAT, buildView);
}

/** ROOTLINE_PKI_DIFFERENTIAL=1 (tests only): see certificate.ts. */
const DIFFERENTIAL = process.env.ROOTLINE_PKI_DIFFERENTIAL === '1';

const CSR_FORMAT: SignedObjectFormat<CertificationRequest> = { schema: CertificationRequest, what: 'CSR', pemLabel: 'CERTIFICATE REQUEST', tbsName: 'certificationRequestInfo', tbsShortName: 'info', fail };

function buildView({ der, value: csr, tbsTlv: infoTlv, tbsFields: fields }: SignedObject<CertificationRequest>): ParsedCsr {
  const [, subjectTlv, spkiTlv] = fields;
  if (subjectTlv === undefined || spkiTlv === undefined) throw fail('certificationRequestInfo is missing fields');
  const info = csr.certificationRequestInfo;
  // RFC 2986 §4.1: version "shall be 0 for this version of the standard".
  if (info.version !== 0) throw fail(`unknown CSR version ${info.version}`);
  const publicKey = der.slice(spkiTlv.offset, spkiTlv.end);
  const key = guard(() => parsePublicKey(publicKey), fail, 'subjectPKInfo');
  const subjectRdns = nameToRdns(info.subject);

  const attributes: Array<{ oid: string; values: Uint8Array[] }> = [];
  const sink: Sink = {};
  let extensions: ExtensionView[] = [];
  let challengePassword: string | undefined;
  for (const attr of info.attributes ?? []) {
    const values = attr.values.map((v) => fromArrayBuffer(v));
    attributes.push({ oid: attr.type, values });
    if (attr.type === OID.extensionRequest) {
      if (values.length !== 1) throw fail('extensionRequest must have exactly one value');
      const exts = AsnConvert.parse(values[0]!, Extensions);
      extensions = decodeExtensions(exts, sink, DECODERS, fail);
    } else if (attr.type === OID.challengePassword && values.length === 1) {
      challengePassword = AsnConvert.parse(values[0]!, DirectoryString).toString();
    }
  }
  const signatureAlgorithm = csr.signatureAlgorithm.algorithm;
  const view: ParsedCsr = {
    der: der.slice(),
    info: der.slice(infoTlv.offset, infoTlv.end),
    subject: formatRdns(subjectRdns),
    subjectRdns,
    subjectDer: der.slice(subjectTlv.offset, subjectTlv.end),
    publicKey,
    publicKeyAlgorithm: key.algorithm,
    signatureAlgorithm,
    signatureAlgorithmName: signatureAlgorithmName(signatureAlgorithm),
    signature: fromArrayBuffer(csr.signature),
    extensions,
    ...sink,
    attributes,
  };
  if (challengePassword !== undefined) view.challengePassword = challengePassword;
  return view;
}

/**
 * Parses (if needed) and verifies a CSR's self-signature with the public key it carries.
 * BadCsrSignatureError when it does not verify or uses an algorithm we cannot check.
 */
export function verifyCsr(csr: ParsedCsr | Uint8Array | string): ParsedCsr {
  let view: ParsedCsr;
  if (typeof csr === 'string' || csr instanceof Uint8Array) view = parseCsr(csr);
  else if (csr !== null && typeof csr === 'object' && csr.info instanceof Uint8Array && csr.publicKey instanceof Uint8Array) view = csr;
  else throw new InvalidArgumentError('csr', `expected a CSR, got ${describeType(csr)}`);
  let ok: boolean;
  try {
    ok = verifySignature(view.publicKey, view.signatureAlgorithm, view.info, view.signature);
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) throw new BadCsrSignatureError(`cannot check the CSR signature: ${err.message}`, { cause: err });
    throw err;
  }
  if (!ok) throw new BadCsrSignatureError('the CSR signature does not verify with its own public key');
  return view;
}
