/**
 * Test helper: real self-signed X.509 certificates of any key type node can make (P-256, P-384,
 * Ed25519, RSA), DER-encoded here and signed with node:crypto, so readers can be compared with
 * node's X509Certificate on keys the platform itself never issues.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  return Uint8Array.from([tag, ...len(body.length), ...body]);
}
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
const str = (tag: number, s: string) => tlv(tag, Buffer.from(s, 'utf8'));
const time = (tag: number, s: string) => tlv(tag, Buffer.from(s, 'latin1'));

export type KeyKind = 'p256' | 'p384' | 'ed25519' | 'rsa';

const SIG_ALG: Record<KeyKind, { alg: Uint8Array; hash: string | null; dsa?: boolean }> = {
  p256: { alg: seq(oid('2a8648ce3d040302')), hash: 'sha256' },
  p384: { alg: seq(oid('2a8648ce3d040303')), hash: 'sha384' },
  ed25519: { alg: seq(oid('2b6570')), hash: null },
  rsa: { alg: seq(oid('2a864886f70d01010b'), tlv(0x05)), hash: 'sha256' },
};

export function newKey(kind: KeyKind): { publicKey: KeyObject; privateKey: KeyObject } {
  switch (kind) {
    case 'p256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    case 'p384':
      return generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

export interface CertOptions {
  /** Subject attributes in order: [oid hex, string tag, value]; one RDN each unless `multi`. */
  subject?: Array<[string, number, string]>;
  multiValuedSubject?: boolean;
  notBefore?: [number, string];
  notAfter?: [number, string];
  extensions?: boolean;
}

export const CN = '550403';

/** A self-signed v3 certificate of `kind`, with the key pair. */
export function makeCertificate(kind: KeyKind, o: CertOptions = {}, key = newKey(kind)): { der: Uint8Array; publicKey: KeyObject } {
  const spki = new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' }));
  const atvs = (o.subject ?? [[CN, 0x0c, 'device-1'], ['55040a', 0x13, 'rootline']]).map(([t, tag, v]) => seq(oid(t), str(tag, v)));
  const subject = o.multiValuedSubject ? seq(tlv(0x31, ...atvs)) : seq(...atvs.map((a) => tlv(0x31, a)));
  const issuer = seq(tlv(0x31, seq(oid(CN), str(0x0c, 'test issuer'))));
  const nb = o.notBefore ?? [0x17, '260101000000Z'];
  const na = o.notAfter ?? [0x18, '20361231235959Z'];
  const exts = o.extensions === false ? [] : [tlv(0xa3, seq(seq(oid('551d13'), tlv(0x01, Uint8Array.of(0xff)), tlv(0x04, seq(tlv(0x01, Uint8Array.of(0xff)))))))];
  const alg = SIG_ALG[kind];
  const tbs = seq(tlv(0xa0, tlv(0x02, Uint8Array.of(2))), tlv(0x02, Uint8Array.of(0x01, 0x23)), alg.alg, issuer, seq(time(nb[0], nb[1]), time(na[0], na[1])), subject, spki, ...exts);
  const signature = sign(alg.hash, tbs, key.privateKey);
  const der = seq(tbs, alg.alg, tlv(0x03, Uint8Array.of(0), signature));
  return { der, publicKey: key.publicKey };
}
