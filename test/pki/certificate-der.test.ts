/**
 * The hand-written certificate reader (src/pki/certificate-der.ts) against the schema-library
 * parser it stands in front of: for every certificate here — made by our CA and policies, by
 * openssl (ECDSA, RSA, far-future GeneralizedTime), and re-assembled with DER edge cases (explicit
 * DEFAULTs, other string types, odd times, serials and OIDs) — and for fast-check mutations of
 * them, the reader either gives up or returns exactly the view the schema library gives, and when
 * it says "canonical" the schema library re-encodes the bytes to themselves.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RootlineError } from '../../src/errors.js';
import { createRootCa } from '../../src/pki/certificate-authority.js';
import { readCertificateDer, readCsrDer, readPublicKeyDer } from '../../src/pki/certificate-der.js';
import { createCsr } from '../../src/pki/create-csr.js';
import { parseCsr, parseCsrBySchema } from '../../src/pki/parse-csr.js';
import { parsePublicKey, parsePublicKeyBySchema } from '../../src/pki/public-key.js';
import { parseCertificate, parseCertificateBySchema, reencodesToItself, reencodesToItselfBySchema } from '../../src/pki/certificate.js';
import { derSequence, derTlv, readOuterSequence } from '../../src/pki/der.js';
import { domainCaPolicy } from '../../src/pki/domain-policy.js';
import { manufacturerCaPolicy } from '../../src/pki/manufacturer-policy.js';
import { masaUrlExtension } from '../../src/pki/extensions.js';
import { decodePem } from '../../src/pki/pem.js';
import { generateKeyPairSync } from 'node:crypto';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { forge, p256Signer } from './forge.js';
import { openssl, opensslSkip, tempDir } from './openssl.js';

/** Outcome of the reference parser: the view, or the error code. */
function reference(der: Uint8Array): { view?: unknown; code?: string } {
  try {
    return { view: parseCertificateBySchema(der) };
  } catch (err) {
    assert.ok(err instanceof RootlineError, `untyped ${String(err)}`);
    return { code: err.code };
  }
}

/** The same property for SubjectPublicKeyInfo: parsePublicKey answers as the schema library does. */
function keyAgrees(spki: Uint8Array): 'fast' | 'gave-up' {
  let ref: { view?: unknown; code?: string };
  try {
    ref = { view: parsePublicKeyBySchema(spki) };
  } catch (err) {
    assert.ok(err instanceof RootlineError, `untyped ${String(err)}`);
    ref = { code: err.code };
  }
  const fast = readPublicKeyDer(spki);
  if (fast !== undefined) {
    assert.equal(ref.code, undefined, `fast SPKI reader accepted what the schema library refuses (${ref.code})`);
    assert.deepStrictEqual({ der: spki, ...fast }, ref.view);
  }
  try {
    assert.deepStrictEqual(parsePublicKey(spki), ref.view);
  } catch (err) {
    if (ref.code === undefined) throw err;
    assert.ok(err instanceof RootlineError && err.code === ref.code, String(err));
  }
  return fast === undefined ? 'gave-up' : 'fast';
}

/** The SPKI field of a certificate-shaped input, when it has one. */
function spkiOf(der: Uint8Array): Uint8Array | undefined {
  const top = readOuterSequence(der);
  if (typeof top === 'string' || top.length < 1) return undefined;
  const kids = readOuterSequence(der.subarray(top[0]!.offset, top[0]!.end));
  if (typeof kids === 'string') return undefined;
  const first = kids[0]?.tag === 0xa0 ? 1 : 0;
  const k = kids[first + 5];
  return k === undefined ? undefined : der.subarray(top[0]!.offset, top[0]!.end).slice(k.offset, k.end);
}

/** The property: the fast reader gives up, or agrees with the schema library on view and canonical form. */
function agrees(der: Uint8Array): 'fast' | 'gave-up' {
  const fast = readCertificateDer(der);
  if (fast === undefined) return 'gave-up';
  const ref = reference(der);
  assert.equal(ref.code, undefined, `fast reader accepted what the schema library refuses (${ref.code})`);
  assert.deepStrictEqual(fast.view, ref.view);
  if (fast.canonical) assert.equal(reencodesToItselfBySchema(der), true, 'fast reader called canonical what does not re-encode to itself');
  return 'fast';
}

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));

/** Re-assembles a certificate after `edit` changes the TBS fields (signature left as it was). */
function rebuild(der: Uint8Array, edit: (fields: Uint8Array[]) => Uint8Array[]): Uint8Array {
  const top = readOuterSequence(der);
  assert.ok(typeof top !== 'string');
  const tbs = der.subarray(top[0]!.offset, top[0]!.end);
  const kids = readOuterSequence(tbs);
  assert.ok(typeof kids !== 'string');
  const fields = edit(kids.map((k) => tbs.slice(k.offset, k.end)));
  return derSequence(derSequence(...fields), der.slice(top[1]!.offset, top[1]!.end), der.slice(top[2]!.offset, top[2]!.end));
}

/** Field index by name, for a v3 TBS (version present). */
const F = { version: 0, serial: 1, sigAlg: 2, issuer: 3, validity: 4, subject: 5, spki: 6, extensions: 7 } as const;

function nameOf(oid: string, tag: number, value: Uint8Array): Uint8Array {
  const oidDer = { '2.5.4.3': bytes('0603550403'), '2.5.4.10': bytes('060355040a') }[oid]!;
  return derSequence(derTlv(0x31, derSequence(oidDer, derTlv(tag, value))));
}

function withExtensions(exts: Uint8Array[]): (f: Uint8Array[]) => Uint8Array[] {
  return (f) => [...f.slice(0, F.extensions), derTlv(0xa3, derSequence(...exts))];
}

function ext(oidHex: string, critical: Uint8Array | undefined, value: Uint8Array): Uint8Array {
  return derSequence(bytes(oidHex), ...(critical === undefined ? [] : [critical]), derTlv(0x04, value));
}

describe('hand-written certificate reader (differential against the schema library)', () => {
  const made: Array<[string, Uint8Array]> = [];
  const edges: Array<[string, Uint8Array]> = [];
  /** Made by openssl: read by either path; the AKI with issuer and serial is left to the schema library. */
  const foreign: Array<[string, Uint8Array]> = [];

  before(async () => {
    const root = await createRootCa({ signer: p256Signer(), subject: 'CN=Diff Root,O=Rootline,C=DE', validityDays: 30, pathLen: 1 });
    made.push(['root', root.certificate.der]);
    const inter = await root.createIntermediateCa({ signer: p256Signer(), subject: 'CN=Diff Issuing,O=Rootline,DC=example', validityDays: 10 });
    made.push(['intermediate', inter.certificate.der]);
    const leaf = await inter.issueCertificate({
      subject: 'CN=leaf+UID=u1,O=Acme \\, Inc.,emailAddress=ops@example.com,serialNumber=SN-1',
      publicKey: p256Signer().publicKey,
      extKeyUsage: ['clientAuth', 'serverAuth', '1.3.6.1.5.5.7.3.28'],
      subjectAltNames: { dns: ['a.example', '*.b.example'], ip: ['10.1.2.3', '2001:db8::1', '::'], uri: ['coaps://a.example:5684/x'], email: ['a@b.example'] },
    });
    made.push(['leaf with SANs and EKU', leaf.der]);
    const manufacturer = await createRootCa({ signer: p256Signer(), subject: 'CN=Diff Manufacturer', notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)) });
    const idevid = await manufacturerCaPolicy.issueIdevid(manufacturer, { serialNumber: 'PID-000123', subject: { CN: 'Pledge Ünïcødé', O: 'Maker' }, publicKey: p256Signer().publicKey, masaUrl: 'https://masa.example:9443/' });
    made.push(['IDevID (GeneralizedTime 9999, MASA URL)', idevid.der]);
    const ldevid = await domainCaPolicy.issueLdevid(root, { publicKey: p256Signer().publicKey, subject: 'CN=device-1', validityDays: 7 });
    made.push(['LDevID', ldevid.der]);
    const ed = keyObjectSigner(generateKeyPairSync('ed25519').privateKey);
    const edRoot = await createRootCa({ signer: ed, subject: 'CN=Ed Root', validityDays: 3 });
    made.push(['Ed25519 root', edRoot.certificate.der]);
    const unknownCritical = await forge({ subject: 'CN=odd', extra: [{ oid: '1.2.3.4.5', critical: true, value: bytes('0500') }, masaUrlExtension('https://m.example/')].map((e) => ({ oid: e.oid, critical: e.critical ?? false, value: e.value })) });
    made.push(['forged with unknown critical extension', unknownCritical.cert.der]);
    const late = await forge({ subject: 'CN=late', notBefore: new Date(Date.UTC(2049, 11, 31, 23, 59, 59)), notAfter: new Date(Date.UTC(2050, 0, 1)), noKeyIds: true, keyUsage: ['digitalSignature', 'keyAgreement', 'decipherOnly'] });
    made.push(['UTCTime 2049 / GeneralizedTime 2050, no key ids', late.cert.der]);

    if (!opensslSkip) {
      const dir = tempDir();
      try {
        dir.write('ext.cnf', ['[req]', 'distinguished_name = dn', '[dn]', '[v3]', 'basicConstraints = critical, CA:TRUE', 'authorityKeyIdentifier = keyid, issuer:always', 'subjectKeyIdentifier = hash', ''].join('\n'));
        const ok = (args: string[]): void => assert.equal(openssl(args, dir.path).status, 0, args.join(' '));
        ok(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-out', 'rsa.pem', '-subj', '/C=DE/ST=Berlin/O=Peer/CN=RSA peer', '-days', '20000', '-config', 'ext.cnf', '-extensions', 'v3']);
        foreign.push(['openssl RSA, AKI with issuer and serial, far future', decodePem(dir.read('rsa.pem').toString(), 'CERTIFICATE')]);
        ok(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', 'p384.key', '-out', 'p384.pem', '-subj', '/CN=P-384 peer', '-days', '2', '-config', 'ext.cnf', '-extensions', 'v3']);
        foreign.push(['openssl P-384', decodePem(dir.read('p384.pem').toString(), 'CERTIFICATE')]);
      } finally {
        dir.cleanup();
      }
    }

    const base = leaf.der;
    const v3 = base;
    edges.push(['v1, no version field', rebuild(v3, (f) => f.slice(1, F.extensions))]);
    edges.push(['explicit v1', rebuild(v3, (f) => [bytes('a003020100'), ...f.slice(1, F.extensions)])]);
    edges.push(['v2 with extensions', rebuild(v3, (f) => [bytes('a003020101'), ...f.slice(1)])]);
    edges.push(['version 4', rebuild(v3, (f) => [bytes('a003020103'), ...f.slice(1)])]);
    edges.push(['non-minimal version', rebuild(v3, (f) => [bytes('a00402020002'), ...f.slice(1)])]);
    edges.push(['non-minimal serial', rebuild(v3, (f) => [f[0]!, bytes('02020001'), ...f.slice(2)])]);
    edges.push(['negative serial', rebuild(v3, (f) => [f[0]!, bytes('020180'), ...f.slice(2)])]);
    edges.push(['zero serial', rebuild(v3, (f) => [f[0]!, bytes('020100'), ...f.slice(2)])]);
    edges.push(['padded serial', rebuild(v3, (f) => [f[0]!, bytes('0203008001'), ...f.slice(2)])]);
    edges.push(['empty serial', rebuild(v3, (f) => [f[0]!, bytes('0200'), ...f.slice(2)])]);
    const subj = (tag: number, value: Uint8Array, oid = '2.5.4.3') => rebuild(v3, (f) => [...f.slice(0, F.subject), nameOf(oid, tag, value), ...f.slice(F.spki)]);
    edges.push(['BMPString CN', subj(0x1e, bytes('00410042'))]);
    edges.push(['TeletexString CN', subj(0x14, Buffer.from('tele'))]);
    edges.push(['UniversalString CN', subj(0x1c, bytes('00000041'))]);
    edges.push(['UTF8 with BOM', subj(0x0c, bytes('efbbbf41'))]);
    edges.push(['UTF8 invalid', subj(0x0c, bytes('c328'))]);
    edges.push(['UTF8 surrogate', subj(0x0c, bytes('eda080'))]);
    edges.push(['UTF8 overlong', subj(0x0c, bytes('c0af'))]);
    edges.push(['UTF8 U+FFFE and 4-byte', subj(0x0c, bytes('efbfbef09f9880'))]);
    edges.push(['PrintableString with @ and *', subj(0x13, Buffer.from('a@b*c'))]);
    edges.push(['PrintableString 8-bit', subj(0x13, bytes('41e9'))]);
    edges.push(['IA5String 8-bit', subj(0x16, bytes('41e9'))]);
    edges.push(['NumericString', subj(0x12, Buffer.from('123'))]);
    edges.push(['empty UTF8', subj(0x0c, new Uint8Array(0))]);
    edges.push(['escapes in O', subj(0x0c, Buffer.from(' #a,b+c"d\\e<f>g;h=i\x01 '), '2.5.4.10')]);
    edges.push(['empty RDN set', rebuild(v3, (f) => [...f.slice(0, F.subject), derSequence(derTlv(0x31, new Uint8Array(0))), ...f.slice(F.spki)])]);
    edges.push(['empty subject', rebuild(v3, (f) => [...f.slice(0, F.subject), derSequence(), ...f.slice(F.spki)])]);
    edges.push(['unknown attribute OID', rebuild(v3, (f) => [...f.slice(0, F.subject), derSequence(derTlv(0x31, derSequence(bytes('06032a0304'), derTlv(0x0c, Buffer.from('x'))))), ...f.slice(F.spki)])]);
    edges.push(['non-minimal OID arc', rebuild(v3, (f) => [...f.slice(0, F.subject), derSequence(derTlv(0x31, derSequence(bytes('060455800403'), derTlv(0x0c, Buffer.from('x'))))), ...f.slice(F.spki)])]);
    edges.push(['big OID arcs', rebuild(v3, (f) => [...f.slice(0, F.subject), derSequence(derTlv(0x31, derSequence(bytes('060b8837ffffffffffffffff7f'), derTlv(0x0c, Buffer.from('x'))))), ...f.slice(F.spki)])]);
    const validity = (a: Uint8Array, b: Uint8Array) => rebuild(v3, (f) => [...f.slice(0, F.validity), derSequence(a, b), ...f.slice(F.subject)]);
    const utc = (s: string) => derTlv(0x17, Buffer.from(s));
    const gen = (s: string) => derTlv(0x18, Buffer.from(s));
    edges.push(['UTCTime without seconds', validity(utc('2501010000Z'), utc('260101000000Z'))]);
    edges.push(['UTCTime with offset', validity(utc('250101000000+0100'), utc('260101000000Z'))]);
    edges.push(['UTCTime month 13', validity(utc('251301000000Z'), utc('260101000000Z'))]);
    edges.push(['UTCTime Feb 29 non-leap', validity(utc('250229000000Z'), utc('260101000000Z'))]);
    edges.push(['UTCTime Feb 29 leap', validity(utc('240229000000Z'), utc('500101000000Z'))]);
    edges.push(['UTCTime 1950', validity(utc('500101000000Z'), utc('491231235959Z'))]);
    edges.push(['GeneralizedTime fraction', validity(gen('20250101000000.5Z'), gen('20260101000000Z'))]);
    edges.push(['GeneralizedTime local', validity(gen('20250101000000'), gen('20260101000000Z'))]);
    edges.push(['GeneralizedTime year 0999', validity(gen('09990101000000Z'), gen('20260101000000Z'))]);
    edges.push(['GeneralizedTime hour 24', validity(gen('20250101240000Z'), gen('20260101000000Z'))]);
    edges.push(['times with letters', validity(utc('25o101000000Z'), utc('260101000000Z'))]);
    const bc = (v: string) => ext('0603551d13', bytes('0101ff'), bytes(v));
    edges.push(['critical FALSE explicit', rebuild(v3, withExtensions([ext('0603551d13', bytes('010100'), bytes('3000'))]))]);
    edges.push(['critical BOOLEAN 01', rebuild(v3, withExtensions([ext('0603551d13', bytes('010101'), bytes('3000'))]))]);
    edges.push(['basicConstraints cA FALSE explicit', rebuild(v3, withExtensions([bc('3003010100')]))]);
    edges.push(['basicConstraints pathLen only', rebuild(v3, withExtensions([bc('3003020105')]))]);
    edges.push(['basicConstraints negative pathLen', rebuild(v3, withExtensions([bc('30060101ff0201ff')]))]);
    edges.push(['basicConstraints big pathLen', rebuild(v3, withExtensions([bc('30090101ff020400ffffff')]))]);
    edges.push(['duplicate extension', rebuild(v3, withExtensions([bc('3000'), bc('3000')]))]);
    edges.push(['empty extensions', rebuild(v3, (f) => [...f.slice(0, F.extensions), derTlv(0xa3, derSequence())])]);
    edges.push(['extensions in v1', rebuild(v3, (f) => f.slice(1))]);
    edges.push(['empty EKU', rebuild(v3, withExtensions([ext('0603551d25', undefined, bytes('3000'))]))]);
    edges.push(['SKI with trailing byte', rebuild(v3, withExtensions([ext('0603551d0e', undefined, bytes('0401aa00'))]))]);
    edges.push(['AKI empty', rebuild(v3, withExtensions([ext('0603551d23', undefined, bytes('3000'))]))]);
    edges.push(['AKI serial only', rebuild(v3, withExtensions([ext('0603551d23', undefined, bytes('3003820101'))]))]);
    edges.push(['SAN bad IP', rebuild(v3, withExtensions([ext('0603551d11', undefined, bytes('30058703010203'))]))]);
    edges.push(['SAN otherName', rebuild(v3, withExtensions([ext('0603551d11', undefined, bytes('3009a00706032a03040500'))]))]);
    edges.push(['MASA URL not IA5', rebuild(v3, withExtensions([ext('06082b06010505070120', undefined, bytes('0c0161'))]))]);
    edges.push(['unique identifier', rebuild(v3, (f) => [...f.slice(0, F.extensions), bytes('81020000'), ...f.slice(F.extensions)])]);
    const spki = (hex: string) => rebuild(v3, (f) => [...f.slice(0, F.spki), bytes(hex), ...f.slice(F.extensions)]);
    edges.push(['EC key without parameters', spki('3011300906072a8648ce3d0201030400010203')]);
    edges.push(['EC key with NULL parameters', spki('3013300b06072a8648ce3d02010500030400010203')]);
    edges.push(['EC key, unknown curve', spki('3016300e06072a8648ce3d020106032b0601030400010203')]);
    edges.push(['SPKI bit string with unused bits', spki('3019301306072a8648ce3d020106082a8648ce3d030107030201ff')]);
    edges.push(['EC key with garbage SEQUENCE parameters', spki('3014300c06072a8648ce3d02013001ff030400010203')]);
    edges.push(['RSA-ish key with SEQUENCE parameters', spki('3012300a06062a864886f70d3000030400010203')]);
    const sigAlg = (hex: string) => {
      const a = bytes(hex);
      const top = readOuterSequence(v3);
      assert.ok(typeof top !== 'string');
      const tbs = rebuild(v3, (f) => [...f.slice(0, F.sigAlg), a, ...f.slice(F.issuer)]);
      const t2 = readOuterSequence(tbs);
      assert.ok(typeof t2 !== 'string');
      return derSequence(tbs.slice(t2[0]!.offset, t2[0]!.end), a, v3.slice(top[2]!.offset, top[2]!.end));
    };
    edges.push(['signature algorithm with garbage parameters', sigAlg('300d06082a8648ce3d0403023001ff')]);
    edges.push(['signature algorithm with NULL', sigAlg('300c06082a8648ce3d0403020500')]);
    edges.push(['signature algorithm with SEQUENCE parameters', sigAlg('300c06082a8648ce3d0403023000')]);
    edges.push(['signature algorithms differ', rebuild(v3, (f) => [...f.slice(0, F.sigAlg), bytes('300a06082a8648ce3d040303'), ...f.slice(F.issuer)])]);
  });

  it('reads every CA-, policy- and openssl-made certificate itself, with the schema library\'s view', () => {
    assert.ok(made.length >= 8);
    for (const [what, der] of made) {
      assert.equal(agrees(der), 'fast', what);
      assert.equal(readCertificateDer(der)!.canonical, true, `${what}: canonical`);
      assert.equal(reencodesToItselfBySchema(der), true, what);
    }
    for (const [what, der] of [...made, ...foreign]) assert.equal(keyAgrees(spkiOf(der)!), 'fast', what);
    for (const [what, der] of foreign) {
      agrees(der);
      assert.deepStrictEqual(parseCertificate(der), parseCertificateBySchema(der), what);
    }
  });

  it('gives up or agrees on every DER edge case, and parseCertificate answers as the schema library does', () => {
    const seen = { fast: 0, 'gave-up': 0 };
    for (const [what, der] of edges) {
      try {
        seen[agrees(der)]++;
      } catch (err) {
        throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      }
      const ref = reference(der);
      try {
        assert.deepStrictEqual(parseCertificate(der), ref.view, what);
      } catch (err) {
        if (ref.code === undefined) throw err;
        assert.ok(err instanceof RootlineError && err.code === ref.code, `${what}: ${String(err)}`);
      }
      assert.equal(reencodesToItself(der), reencodesToItselfBySchema(der), `${what}: reencodesToItself`);
      const spki = spkiOf(der);
      if (spki !== undefined) keyAgrees(spki);
    }
    // Both branches are exercised: some edges are read, some left to the schema library.
    assert.ok(seen.fast > 5 && seen['gave-up'] > 10, JSON.stringify(seen));
  });

  it('explicit DEFAULTs are not called canonical (the schema library drops them when it encodes)', () => {
    const explicitV1 = edges.find(([w]) => w === 'explicit v1')![1];
    const criticalFalse = edges.find(([w]) => w === 'critical FALSE explicit')![1];
    for (const der of [explicitV1, criticalFalse]) {
      assert.equal(readCertificateDer(der)?.canonical, false);
      assert.equal(reencodesToItselfBySchema(der), false);
      assert.equal(reencodesToItself(der), false);
    }
  });

  it('fast-check: mutations of real certificates — the reader gives up or agrees; only typed errors escape', () => {
    const all = [...made, ...foreign, ...edges].map(([, d]) => d);
    fc.assert(
      fc.property(
        mutationsOf(all, { multiEdits: true }),
        (m) => {
          agrees(m);
          const spki = spkiOf(m);
          if (spki !== undefined) keyAgrees(spki);
          try {
            parseCertificate(m);
          } catch (err) {
            assert.ok(err instanceof RootlineError, `untyped ${String(err)}`);
          }
          assert.equal(reencodesToItself(m), reencodesToItselfBySchema(m));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('fast-check: random bytes behind a SEQUENCE header never make the reader throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
        const der = derTlv(0x30, body);
        agrees(der);
      }),
      { numRuns: 2000 },
    );
  });
});

/** parseCsr's hand-written reader against the schema library, as above. */
function csrAgrees(der: Uint8Array): 'fast' | 'gave-up' {
  let ref: { view?: unknown; code?: string };
  try {
    ref = { view: parseCsrBySchema(der) };
  } catch (err) {
    assert.ok(err instanceof RootlineError, `untyped ${String(err)}`);
    ref = { code: err.code };
  }
  const fast = readCsrDer(der);
  if (fast !== undefined) {
    assert.equal(ref.code, undefined, `fast CSR reader accepted what the schema library refuses (${ref.code})`);
    assert.deepStrictEqual(fast, ref.view);
  }
  try {
    assert.deepStrictEqual(parseCsr(der), ref.view);
  } catch (err) {
    if (ref.code === undefined) throw err;
    assert.ok(err instanceof RootlineError && err.code === ref.code, String(err));
  }
  return fast === undefined ? 'gave-up' : 'fast';
}

/** Re-assembles a CSR after `edit` changes the CertificationRequestInfo fields. */
function rebuildCsr(der: Uint8Array, edit: (fields: Uint8Array[]) => Uint8Array[]): Uint8Array {
  return rebuild(der, edit);
}

describe('hand-written CSR reader (differential against the schema library)', () => {
  const made: Array<[string, Uint8Array]> = [];
  const foreign: Array<[string, Uint8Array]> = [];
  const edges: Array<[string, Uint8Array]> = [];

  before(async () => {
    made.push(['plain', await createCsr({ signer: p256Signer(), subject: 'CN=plain' })]);
    made.push([
      'usages, names, password',
      await createCsr({
        signer: p256Signer(),
        subject: 'CN=full,O=Acme,serialNumber=X1',
        subjectAltNames: { dns: ['x.example'], ip: ['192.0.2.1', 'fe80::1'], uri: ['urn:x:y'], email: ['x@y.example'] },
        keyUsage: ['digitalSignature', 'keyAgreement'],
        extKeyUsage: ['clientAuth', '1.3.6.1.5.5.7.3.28'],
        challengePassword: 'pässwörd',
        extensions: [masaUrlExtension('https://masa.example/')],
      }),
    ]);
    made.push(['printable password', await createCsr({ signer: p256Signer(), subject: 'CN=pw', challengePassword: 'abc123' })]);
    made.push(['Ed25519', await createCsr({ signer: keyObjectSigner(generateKeyPairSync('ed25519').privateKey), subject: 'CN=ed' })]);
    if (!opensslSkip) {
      const dir = tempDir();
      try {
        dir.write('req.cnf', ['[req]', 'distinguished_name = dn', 'attributes = attrs', 'req_extensions = ext', '[dn]', '[attrs]', 'challengePassword = A challenge', 'unstructuredName = An optional name', '[ext]', 'basicConstraints = CA:FALSE', 'subjectAltName = DNS:o.example', ''].join('\n'));
        dir.write('plain.cnf', ['[req]', 'distinguished_name = dn', '[dn]', ''].join('\n'));
        const ok = (args: string[]): void => assert.equal(openssl(args, dir.path).status, 0, args.join(' '));
        ok(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'r.key', '-out', 'r.csr', '-subj', '/CN=rsa req/O=Peer', '-config', 'req.cnf']);
        foreign.push(['openssl RSA with unstructuredName', decodePem(dir.read('r.csr').toString(), 'CERTIFICATE REQUEST')]);
        ok(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'e.key', '-out', 'e.csr', '-subj', '/CN=ec req', '-config', 'plain.cnf']);
        foreign.push(['openssl EC, empty attributes', decodePem(dir.read('e.csr').toString(), 'CERTIFICATE REQUEST')]);
      } finally {
        dir.cleanup();
      }
    }
    const full = made[1]![1];
    const attrs = (...a: Uint8Array[]) => (f: Uint8Array[]) => [...f.slice(0, 3), derTlv(0xa0, Buffer.concat(a))];
    const attr = (oidHex: string, ...values: Uint8Array[]) => derSequence(bytes(oidHex), derTlv(0x31, Buffer.concat(values)));
    const EXT_REQ = '06092a864886f70d01090e';
    const PW = '06092a864886f70d010907';
    const bcExt = derSequence(derSequence(bytes('0603551d13'), derTlv(0x04, bytes('3000'))));
    edges.push(['no attributes field', rebuildCsr(full, (f) => f.slice(0, 3))]);
    edges.push(['empty attributes', rebuildCsr(full, attrs())]);
    edges.push(['version 1', rebuildCsr(full, (f) => [bytes('020101'), ...f.slice(1)])]);
    edges.push(['non-minimal version', rebuildCsr(full, (f) => [bytes('02020000'), ...f.slice(1)])]);
    edges.push(['two extensionRequests', rebuildCsr(full, attrs(attr(EXT_REQ, bcExt), attr(EXT_REQ, bcExt)))]);
    edges.push(['extensionRequest with two values', rebuildCsr(full, attrs(attr(EXT_REQ, bcExt, bcExt)))]);
    edges.push(['extensionRequest with no values', rebuildCsr(full, attrs(attr(EXT_REQ)))]);
    edges.push(['empty extensionRequest', rebuildCsr(full, attrs(attr(EXT_REQ, derSequence())))]);
    edges.push(['extensionRequest NULL', rebuildCsr(full, attrs(attr(EXT_REQ, bytes('0500'))))]);
    edges.push(['duplicate extension requested', rebuildCsr(full, attrs(attr(EXT_REQ, derSequence(derSequence(bytes('0603551d13'), derTlv(0x04, bytes('3000'))), derSequence(bytes('0603551d13'), derTlv(0x04, bytes('3000')))))))]);
    edges.push(['bad keyUsage requested', rebuildCsr(full, attrs(attr(EXT_REQ, derSequence(derSequence(bytes('0603551d0f'), derTlv(0x04, bytes('0500')))))))]);
    edges.push(['password IA5', rebuildCsr(full, attrs(attr(PW, derTlv(0x16, Buffer.from('x')))))]);
    edges.push(['password BMP', rebuildCsr(full, attrs(attr(PW, derTlv(0x1e, bytes('0078')))))]);
    edges.push(['password empty UTF8', rebuildCsr(full, attrs(attr(PW, derTlv(0x0c, new Uint8Array(0)))))]);
    edges.push(['password twice', rebuildCsr(full, attrs(attr(PW, derTlv(0x0c, Buffer.from('a')), derTlv(0x0c, Buffer.from('b')))))]);
    edges.push(['password NULL', rebuildCsr(full, attrs(attr(PW, bytes('0500'))))]);
    edges.push(['unknown attribute', rebuildCsr(full, attrs(attr('06032a0304', bytes('0500'))))]);
    edges.push(['attributes not [0]', rebuildCsr(full, (f) => [...f.slice(0, 3), derTlv(0x31, new Uint8Array(0))])]);
    edges.push(['extra field', rebuildCsr(full, (f) => [...f, bytes('0500')])]);
    edges.push(['missing key', rebuildCsr(full, (f) => f.slice(0, 2))]);
  });

  it('reads every CSR rootline makes itself, with the schema library\'s view; openssl\'s are read by either path alike', () => {
    for (const [what, der] of made) assert.equal(csrAgrees(der), 'fast', what);
    for (const [, der] of foreign) csrAgrees(der);
    if (foreign.length > 0) assert.equal(csrAgrees(foreign[1]![1]), 'fast', 'openssl EC CSR with an empty attribute set');
  });

  it('gives up or agrees on every DER edge case', () => {
    const seen = { fast: 0, 'gave-up': 0 };
    for (const [what, der] of edges) {
      try {
        seen[csrAgrees(der)]++;
      } catch (err) {
        throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      }
    }
    assert.ok(seen.fast >= 3 && seen['gave-up'] >= 5, JSON.stringify(seen));
  });

  it('fast-check: mutations of real CSRs — the reader gives up or agrees; only typed errors escape', () => {
    const all = [...made, ...foreign, ...edges].map(([, d]) => d);
    fc.assert(
      fc.property(
        mutationsOf(all, { multiEdits: false }),
        (m) => {
          csrAgrees(m);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/**
 * One of `all`, mutated: a byte flipped, truncated, 1–4 bytes inserted, and with `multiEdits`
 * also 1–4 bytes overwritten.
 */
function mutationsOf(all: readonly Uint8Array[], o: { multiEdits: boolean }): fc.Arbitrary<Uint8Array> {
  return fc.nat(all.length - 1).chain((i) => {
    const der = all[i]!;
    const kinds: fc.Arbitrary<Uint8Array>[] = [
      fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 })).map(([p, x]) => {
        const m = der.slice();
        m[p]! ^= x;
        return m;
      }),
      fc.nat(der.length - 1).map((n) => der.slice(0, n)),
      fc.tuple(fc.nat(der.length), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([p, ins]) => Uint8Array.from([...der.subarray(0, p), ...ins, ...der.subarray(p)])),
    ];
    if (o.multiEdits) {
      kinds.push(
        fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((edits) => {
          const m = der.slice();
          for (const [p, v] of edits) m[p] = v;
          return m;
        }),
      );
    }
    return fc.oneof(...kinds);
  });
}
