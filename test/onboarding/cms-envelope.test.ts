/**
 * The CMS envelope is not covered by the signature (RFC 5652 §5.4 signs only the content and the
 * signed attributes), so verifyCms reads it field by field and accepts only its one DER form:
 * each malleation below of a correctly signed message is refused as malformed, never accepted
 * and never reported as a signature problem.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { ID_CT_ANIMA_JSON_VOUCHER, signCms, verifyCms } from '../../src/onboarding/cms.js';
import { createRootCa, type ParsedCertificate } from '../../src/pki/index.js';

/** A DER node: constructed (children) or primitive (content). */
interface Node {
  tag: number;
  children?: Node[];
  content?: Uint8Array;
}

function decode(bytes: Uint8Array): Node {
  const read = (p: number): { node: Node; end: number } => {
    const tag = bytes[p]!;
    let len = bytes[p + 1]!;
    let q = p + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + bytes[q++]!;
    }
    const end = q + len;
    if ((tag & 0x20) === 0) return { node: { tag, content: bytes.subarray(q, end) }, end };
    const children: Node[] = [];
    while (q < end) {
      const c = read(q);
      children.push(c.node);
      q = c.end;
    }
    return { node: { tag, children }, end };
  };
  return read(0).node;
}

function length(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function encode(node: Node): Uint8Array {
  const content = node.children !== undefined ? Buffer.concat(node.children.map(encode)) : Buffer.from(node.content!);
  return Buffer.concat([Buffer.from([node.tag, ...length(content.length)]), content]);
}

/** ContentInfo → [0] → SignedData's fields; SignerInfo's fields. */
function signedData(root: Node): Node[] {
  return root.children![1]!.children![0]!.children!;
}
function signerInfo(root: Node): Node[] {
  const sd = signedData(root);
  return sd[sd.length - 1]!.children![0]!.children!;
}

describe('verifyCms reads the envelope as DER only', () => {
  let signed: Uint8Array;
  let signerCertificate: ParsedCertificate;
  before(async () => {
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=Envelope CA', validityDays: 30 });
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    signerCertificate = (await ca.issueCertificate({ subject: 'CN=Envelope signer', publicKey: new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })) })).certificate;
    signed = await signCms({ content: Buffer.from('{"ietf-voucher:voucher":{}}'), contentType: ID_CT_ANIMA_JSON_VOUCHER, signer: keyObjectSigner(key), certificates: [signerCertificate.der, ca.certificate.der] });
  });

  const verify = (der: Uint8Array) => verifyCms(der, { contentType: ID_CT_ANIMA_JSON_VOUCHER });
  const refused = (mutate: (root: Node) => void, message?: RegExp) => {
    const root = decode(signed);
    mutate(root);
    assert.throws(() => verify(encode(root)), { code: 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE', ...(message !== undefined ? { message } : {}) });
  };

  it('accepts the message as signed, and as re-encoded by the test codec', () => {
    assert.equal(verify(signed).signerCertificate.fingerprint256, signerCertificate.fingerprint256);
    assert.deepEqual(encode(decode(signed)), Buffer.from(signed));
  });

  it('accepts NULL algorithm parameters (RFC 5754 §3 allows them) in the signer and digestAlgorithms alike', () => {
    const root = decode(signed);
    const nulled = (alg: Node) => alg.children!.push({ tag: 0x05, content: new Uint8Array(0) });
    nulled(signerInfo(root)[2]!);
    nulled(signedData(root)[1]!.children![0]!);
    nulled(signerInfo(root)[4]!);
    assert.equal(verify(encode(root)).signerCertificate.fingerprint256, signerCertificate.fingerprint256);
  });

  it('refuses a non-minimal version INTEGER in SignedData and in SignerInfo', () => {
    refused((root) => (signedData(root)[0]!.content = Uint8Array.of(0x00, 0x03)));
    refused((root) => (signerInfo(root)[0]!.content = Uint8Array.of(0x00, 0x01)));
    refused((root) => (signedData(root)[0]!.content = Uint8Array.of(0x01)), /version/);
  });

  it('refuses algorithm parameters other than NULL, and a digestAlgorithms list that is not the signer’s', () => {
    refused((root) => signerInfo(root)[2]!.children!.push({ tag: 0x04, content: new Uint8Array(0) }), /parameters/);
    refused((root) => signerInfo(root)[4]!.children!.push({ tag: 0x05, content: Uint8Array.of(0) }), /parameters/);
    refused((root) => signedData(root)[1]!.children!.push(signedData(root)[1]!.children![0]!), /digestAlgorithms/);
    refused((root) => signerInfo(root)[2]!.children!.push({ tag: 0x05, content: new Uint8Array(0) }), /digestAlgorithms/);
  });

  it('refuses unsigned attributes, CRLs and fields the structure does not have', () => {
    refused((root) => signerInfo(root).push({ tag: 0xa1, children: [] }), /unsigned attributes/);
    refused((root) => signedData(root).splice(4, 0, { tag: 0xa1, children: [] }), /CRLs/);
    refused((root) => signedData(root).push({ tag: 0x05, content: new Uint8Array(0) }));
    refused((root) => root.children!.push({ tag: 0x05, content: new Uint8Array(0) }));
    refused((root) => root.children![1]!.children!.push({ tag: 0x05, content: new Uint8Array(0) }));
  });

  it('refuses an OBJECT IDENTIFIER with a padded subidentifier', () => {
    refused((root) => {
      const oid = signedData(root)[2]!.children![0]!;
      oid.content = Uint8Array.from([oid.content![0]!, 0x80, ...oid.content!.subarray(1)]);
    }, /OBJECT IDENTIFIER/);
  });

  it('refuses signed attributes out of DER order and constructed content', () => {
    refused((root) => signerInfo(root)[3]!.children!.reverse(), /not DER-encoded/);
    refused((root) => {
      const explicit = signedData(root)[2]!.children![1]!;
      explicit.children = [{ tag: 0x24, children: [explicit.children![0]!] }];
    }, /encapsulated content/);
  });

  it('refuses a long-form length where the short form fits (X.690 §10.1)', () => {
    const bytes = Buffer.from(signed);
    assert.deepEqual([bytes[0], bytes[1], bytes[4]], [0x30, 0x82, 0x06]);
    // The contentType OID's length written as 81 09 instead of 09; the outer length follows.
    const long = Buffer.concat([bytes.subarray(0, 5), Buffer.from([0x81]), bytes.subarray(5)]);
    long.writeUInt16BE(long.length - 4, 2);
    assert.throws(() => verify(long), { code: 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE' });
  });
});
