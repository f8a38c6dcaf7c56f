/** Parsing an X.509 v2 CRL (RFC 5280 §5.1) into a typed view. */
import { CertificateList } from '@peculiar/asn1-x509';
import { signatureAlgorithmName } from './algorithms.js';
import { assertSameSignatureAlgorithm, parseSignedObject, type SignedObject, type SignedObjectFormat } from './asn1.js';
import { serialHex } from './certificate.js';
import { fromArrayBuffer, readTlv } from './der.js';
import { MalformedCrlError } from './errors.js';
import { decodeAuthorityKeyIdentifier, decodeExtensions, type ExtensionView } from './extensions.js';
import { formatRdns, nameToRdns, type Rdn } from './name.js';
import { OID } from './oids.js';
import { REASON_CODES } from './ca-state.js';

export interface RevokedEntry {
  /** Canonical lowercase hex, as ParsedCertificate.serialNumber. */
  serialNumber: string;
  revocationDate: Date;
  /** CRLReason name (keyCompromise, ...) when the entry carries one. */
  reason?: string;
  extensions: ExtensionView[];
}

export interface ParsedCrl {
  der: Uint8Array;
  /** TBSCertList DER exactly as signed. */
  tbs: Uint8Array;
  /** 1 or 2. */
  version: number;
  signatureAlgorithm: string;
  signatureAlgorithmName: string;
  signature: Uint8Array;
  issuer: string;
  issuerRdns: Rdn[];
  issuerDer: Uint8Array;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  /** keyIdentifier of the AKI extension, hex. */
  authorityKeyIdentifier?: string;
  revoked: RevokedEntry[];
  extensions: ExtensionView[];
}

export interface ParseCrlOptions {
  /** Refuse inputs longer than this many bytes (default 16 MiB). */
  maxLength?: number;
}

const fail = (m: string, cause?: unknown): MalformedCrlError => new MalformedCrlError(m, { cause });
const REASON_NAMES = new Map(Object.entries(REASON_CODES).map(([k, v]) => [v, k]));

function decodeNonNegativeInteger(der: Uint8Array): bigint {
  const tlv = readTlv(der, 0);
  if (typeof tlv === 'string' || tlv.tag !== 0x02 || tlv.end !== der.length || tlv.end === tlv.start) throw new Error('not an INTEGER');
  const content = der.subarray(tlv.start, tlv.end);
  if ((content[0]! & 0x80) !== 0) throw new Error('negative INTEGER');
  // RFC 5280 §5.2.3: "CRL verifiers MUST be able to handle CRLNumber values up to 20 octets."
  if (content.length > 21) throw new Error('CRL number longer than 20 octets');
  return BigInt(`0x${Buffer.from(content).toString('hex')}`);
}

function decodeReason(der: Uint8Array): string {
  const tlv = readTlv(der, 0);
  if (typeof tlv === 'string' || tlv.tag !== 0x0a || tlv.end !== der.length || tlv.end - tlv.start !== 1) throw new Error('reasonCode is not a one-octet ENUMERATED');
  const name = REASON_NAMES.get(der[tlv.start]!);
  if (name === undefined) throw new Error(`unknown CRLReason ${der[tlv.start]}`);
  return name;
}

type CrlSink = { crlNumber?: bigint; authorityKeyIdentifier?: string };
const CRL_DECODERS: Record<string, (der: Uint8Array, out: CrlSink) => void> = {
  [OID.crlNumber]: (d, o) => (o.crlNumber = decodeNonNegativeInteger(d)),
  [OID.authorityKeyIdentifier]: (d, o) => {
    const k = decodeAuthorityKeyIdentifier(d);
    if (k !== undefined) o.authorityKeyIdentifier = k;
  },
};
type EntrySink = { reason?: string };
const ENTRY_DECODERS: Record<string, (der: Uint8Array, out: EntrySink) => void> = {
  [OID.crlReason]: (d, o) => (o.reason = decodeReason(d)),
};

/** Parses a CRL given as DER or PEM ("X509 CRL"). Does not check the signature. */
export function parseCrl(input: Uint8Array | string, options: ParseCrlOptions = {}): ParsedCrl {
  return parseSignedObject(input, options.maxLength ?? 16 * 1024 * 1024, CRL_FORMAT, buildView);
}

const CRL_FORMAT: SignedObjectFormat<CertificateList> = { schema: CertificateList, what: 'CRL', pemLabel: 'X509 CRL', tbsName: 'tbsCertList', tbsShortName: 'tbs', fail };

function buildView({ der, value: crl, tbsTlv, tbsFields: fields, algorithmTlv }: SignedObject<CertificateList>): ParsedCrl {
  const first = fields[0]?.tag === 0x02 ? 1 : 0;
  const algTlv = fields[first];
  const issuerTlv = fields[first + 1];
  if (algTlv === undefined || issuerTlv === undefined) throw fail('tbsCertList is missing fields');
  assertSameSignatureAlgorithm(der, algorithmTlv, algTlv, 'tbsCertList', fail);
  const t = crl.tbsCertList;
  const version = (t.version ?? 0) + 1;
  if (version !== 1 && version !== 2) throw fail(`unknown CRL version ${version}`);
  const hasExtensions = (t.crlExtensions?.length ?? 0) > 0 || (t.revokedCertificates ?? []).some((r) => r.crlEntryExtensions !== undefined);
  // RFC 5280 §5.1.2.1: extensions are only allowed in v2 CRLs.
  if (hasExtensions && version !== 2) throw fail('extensions in a v1 CRL');
  const thisUpdate = t.thisUpdate.getTime();
  const nextUpdate = t.nextUpdate?.getTime();
  if (Number.isNaN(thisUpdate.getTime()) || (nextUpdate !== undefined && Number.isNaN(nextUpdate.getTime()))) throw fail('invalid time');

  const sink: CrlSink = {};
  const extensions = decodeExtensions(t.crlExtensions, sink, CRL_DECODERS, fail);
  const revoked = (t.revokedCertificates ?? []).map((r): RevokedEntry => {
    const entrySink: EntrySink = {};
    const exts = decodeExtensions(r.crlEntryExtensions, entrySink, ENTRY_DECODERS, fail);
    const date = r.revocationDate.getTime();
    if (Number.isNaN(date.getTime())) throw fail('invalid revocationDate');
    return { serialNumber: serialHex(fromArrayBuffer(r.userCertificate)), revocationDate: date, ...entrySink, extensions: exts };
  });
  const issuerRdns = nameToRdns(t.issuer);
  const signatureAlgorithm = crl.signatureAlgorithm.algorithm;
  const view: ParsedCrl = {
    der: der.slice(),
    tbs: der.slice(tbsTlv.offset, tbsTlv.end),
    version,
    signatureAlgorithm,
    signatureAlgorithmName: signatureAlgorithmName(signatureAlgorithm),
    signature: fromArrayBuffer(crl.signature),
    issuer: formatRdns(issuerRdns),
    issuerRdns,
    issuerDer: der.slice(issuerTlv.offset, issuerTlv.end),
    thisUpdate,
    ...sink,
    revoked,
    extensions,
  };
  if (nextUpdate !== undefined) view.nextUpdate = nextUpdate;
  return view;
}
