import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as hs from '../../src/dtls/handshake.js';
import { decodeHandshakeFragments, encodeHandshakeMessage, fragmentHandshakeMessage, HandshakeReassembler } from '../../src/dtls/handshake-fragment.js';
import { ExtensionType } from '../../src/dtls/constants.js';
import { decodeU16List, encodeU16List } from '../../src/dtls/extensions.js';
import { isRootlineError } from '../../src/errors.js';

const code = (c: string) => (e: unknown) => isRootlineError(e, c);

describe('handshake message codecs', () => {
  it('round-trips a ClientHello with cookie and extensions', () => {
    const ch: hs.ClientHello = {
      clientVersion: 0xfefd,
      random: new Uint8Array(32).fill(3),
      sessionId: new Uint8Array(0),
      cookie: Uint8Array.of(1, 2, 3),
      cipherSuites: [0xc0a8, 0x00a8],
      compressionMethods: [0],
      extensions: [
        { type: ExtensionType.extendedMasterSecret, data: new Uint8Array(0) },
        { type: ExtensionType.supportedGroups, data: encodeU16List([23, 29]) },
      ],
    };
    const back = hs.decodeClientHello(hs.encodeClientHello(ch));
    assert.deepEqual(back.cipherSuites, ch.cipherSuites);
    assert.deepEqual([...back.cookie], [1, 2, 3]);
    assert.equal(back.extensions.length, 2);
    assert.deepEqual(decodeU16List(back.extensions[1]!.data, 'groups'), [23, 29]);
  });

  it('rejects duplicate extensions and trailing bytes', () => {
    const base: hs.ClientHello = {
      clientVersion: 0xfefd, random: new Uint8Array(32), sessionId: new Uint8Array(0), cookie: new Uint8Array(0),
      cipherSuites: [0xc0a8], compressionMethods: [0],
      extensions: [{ type: 23, data: new Uint8Array(0) }, { type: 23, data: new Uint8Array(0) }],
    };
    assert.throws(() => hs.decodeClientHello(hs.encodeClientHello(base)), code('ERR_DTLS_DECODE'));
    const ok = hs.encodeServerHello({ serverVersion: 0xfefd, random: new Uint8Array(32), sessionId: new Uint8Array(0), cipherSuite: 0xc0a8, compressionMethod: 0, extensions: [] });
    assert.throws(() => hs.decodeServerHello(Buffer.concat([ok, Buffer.of(0)])), code('ERR_DTLS_DECODE'));
  });

  it('round-trips the other messages', () => {
    assert.deepEqual([...hs.decodeHelloVerifyRequest(hs.encodeHelloVerifyRequest({ serverVersion: 0xfeff, cookie: Uint8Array.of(9) })).cookie], [9]);
    const chain = [Uint8Array.of(0x30, 1), Uint8Array.of(0x30, 2, 3)];
    assert.deepEqual(hs.decodeCertificateList(hs.encodeCertificateList(chain)).map((c) => [...c]), chain.map((c) => [...c]));
    assert.deepEqual([...hs.decodeRawPublicKeyCertificate(hs.encodeRawPublicKeyCertificate(Uint8Array.of(5, 6)))], [5, 6]);
    assert.deepEqual(Buffer.from(hs.decodePskServerKeyExchange(hs.encodePskServerKeyExchange(Buffer.from('hint')))).toString(), 'hint');
    const params = hs.encodeEcdheParams(23, new Uint8Array(65).fill(4));
    const ske = hs.decodeEcdheServerKeyExchange(hs.encodeEcdheServerKeyExchange(params, 0x0403, Uint8Array.of(1, 2)));
    assert.equal(ske.namedGroup, 23);
    assert.deepEqual(Buffer.from(ske.params), Buffer.from(params));
    assert.equal(ske.signatureScheme, 0x0403);
    const cr = hs.decodeCertificateRequest(hs.encodeCertificateRequest({ certificateTypes: [64], signatureSchemes: [0x0403], certificateAuthorities: [] }));
    assert.deepEqual(cr, { certificateTypes: [64], signatureSchemes: [0x0403], certificateAuthorities: [] });
    assert.deepEqual(Buffer.from(hs.decodePskClientKeyExchange(hs.encodePskClientKeyExchange(Buffer.from('id')))).toString(), 'id');
    assert.equal(hs.decodeEcdheClientKeyExchange(hs.encodeEcdheClientKeyExchange(new Uint8Array(65))).length, 65);
    assert.deepEqual(hs.decodeCertificateVerify(hs.encodeCertificateVerify({ signatureScheme: 0x0403, signature: Uint8Array.of(7) })).signatureScheme, 0x0403);
    assert.throws(() => hs.decodeFinished(new Uint8Array(11)), code('ERR_DTLS_DECODE'));
    assert.deepEqual(hs.decodeAlert(hs.encodeAlert({ level: 2, description: 40 })), { level: 2, description: 40 });
    assert.throws(() => hs.decodeAlert(Uint8Array.of(3, 0)), code('ERR_DTLS_DECODE'));
    assert.throws(() => hs.decodeChangeCipherSpec(Uint8Array.of(2)), code('ERR_DTLS_DECODE'));
  });
});

describe('handshake fragmentation and reassembly', () => {
  const msg = { msgType: 11, messageSeq: 2, body: Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff) };

  it('fragments to the limit and reassembles in any order', () => {
    const frags = fragmentHandshakeMessage(msg, 212);
    assert.equal(frags.length, 5);
    for (const f of frags) assert.ok(f.length <= 212);
    const parsed = frags.flatMap((f) => decodeHandshakeFragments(f)).reverse();
    const r = new HandshakeReassembler();
    const results = parsed.map((f) => r.add(f, 2));
    assert.deepEqual(results.slice(0, -1), [undefined, undefined, undefined, undefined]);
    assert.deepEqual(Buffer.from(results.at(-1)!.body), Buffer.from(msg.body));
    assert.equal(r.bufferedMessages, 0);
  });

  it('tolerates overlapping and duplicate fragments', () => {
    const full = decodeHandshakeFragments(encodeHandshakeMessage(msg))[0]!;
    const r = new HandshakeReassembler();
    const part = (off: number, len: number) => ({ ...full, fragmentOffset: off, body: full.body.subarray(off, off + len) });
    assert.equal(r.add(part(0, 600), 2), undefined);
    assert.equal(r.add(part(0, 600), 2), undefined);
    assert.equal(r.add(part(300, 600), 2), undefined);
    const done = r.add(part(850, 150), 2);
    assert.deepEqual(Buffer.from(done!.body), Buffer.from(msg.body));
  });

  it('enforces the size cap with ERR_DTLS_REASSEMBLY_LIMIT and ignores far-future messages', () => {
    const r = new HandshakeReassembler({ maxMessageSize: 500, maxMessagesAhead: 2 });
    const f = decodeHandshakeFragments(fragmentHandshakeMessage(msg, 100)[0]!)[0]!;
    assert.throws(() => r.add(f, 2), code('ERR_DTLS_REASSEMBLY_LIMIT'));
    assert.equal(r.add({ ...f, length: 10, body: f.body.subarray(0, 5), messageSeq: 9 }, 2), undefined);
    assert.equal(r.bufferedMessages, 0);
  });

  it('rejects fragments that disagree on the message length', () => {
    const r = new HandshakeReassembler();
    const f = decodeHandshakeFragments(fragmentHandshakeMessage(msg, 100)[0]!)[0]!;
    r.add(f, 2);
    assert.throws(() => r.add({ ...f, length: 999, fragmentOffset: 100 }, 2), code('ERR_DTLS_DECODE'));
  });
});
