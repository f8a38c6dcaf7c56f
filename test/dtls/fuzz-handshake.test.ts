/**
 * Fuzzing the server's handshake state machine: a peer that passes the cookie exchange and then
 * sends random or mutated handshake messages only ever causes typed ERR_DTLS_* failures of its
 * own handshake; the server keeps serving everyone else.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Socket } from 'node:dgram';
import { createDtlsServer } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import { ContentType, DTLS_1_2, ExtensionType, HandshakeType } from '../../src/dtls/constants.js';
import { decodeHandshakeFragments, encodeHandshakeMessage } from '../../src/dtls/handshake-fragment.js';
import { decodeHelloVerifyRequest, encodeClientHello, encodeEcdheClientKeyExchange, encodePskClientKeyExchange } from '../../src/dtls/handshake.js';
import { encodeU16List, encodeU8List } from '../../src/dtls/extensions.js';
import { decodeDatagram, encodeRecord } from '../../src/dtls/record.js';
import { DtlsError } from '../../src/dtls/errors.js';
import { ecdsaSigner, nextMessage, PSK, rawSocket, sendUntilReply } from './helpers.js';

function clientHello(random: Uint8Array, cookie: Uint8Array, seq: number): Buffer {
  const body = encodeClientHello({
    clientVersion: DTLS_1_2, random, sessionId: new Uint8Array(0), cookie, cipherSuites: [0xc0a8, 0xc0ae], compressionMethods: [0],
    extensions: [
      { type: ExtensionType.extendedMasterSecret, data: new Uint8Array(0) },
      { type: ExtensionType.supportedGroups, data: encodeU16List([23]) },
      { type: ExtensionType.ecPointFormats, data: encodeU8List([0]) },
      { type: ExtensionType.signatureAlgorithms, data: encodeU16List([0x0403]) },
    ],
  });
  return Buffer.from(encodeRecord({ type: 22, version: DTLS_1_2, epoch: 0, sequenceNumber: seq, fragment: encodeHandshakeMessage({ msgType: 1, messageSeq: seq, body }) }));
}

/** Cookie exchange by hand; resolves once the server has answered with its flight. */
async function pastCookie(sock: Socket, port: number): Promise<void> {
  const random = randomBytes(32);
  const hvr = nextMessage(sock);
  sock.send(clientHello(random, new Uint8Array(0), 0), port, '127.0.0.1');
  const cookie = decodeHelloVerifyRequest(decodeHandshakeFragments(decodeDatagram(await hvr)[0]!.fragment)[0]!.body).cookie;
  const flight = nextMessage(sock);
  sock.send(clientHello(random, cookie, 1), port, '127.0.0.1');
  await flight;
}

const validBodies = [encodePskClientKeyExchange(Buffer.from('device-1')), encodeEcdheClientKeyExchange(new Uint8Array(65).fill(4)), new Uint8Array(12)];

describe('fuzz: handshake messages after the cookie exchange', { timeout: 120_000 }, () => {
  it('yield only typed errors and never disturb other sessions', async () => {
    const server = await createDtlsServer({ port: 0, psk: { lookup: (id) => (id === 'device-1' ? PSK : undefined) }, certificate: { signer: ecdsaSigner() }, retransmit: { initialMs: 5000 } });
    const errors: unknown[] = [];
    server.on('handshakeError', (e) => errors.push(e));
    server.on('session', (s) => s.on('data', (d: Uint8Array) => s.send(d)));
    const good = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
    const echoes: string[] = [];
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              msgType: fc.constantFrom(HandshakeType.certificate, HandshakeType.clientKeyExchange, HandshakeType.certificateVerify, HandshakeType.finished, HandshakeType.clientHello, 99),
              body: fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(...validBodies)),
              seq: fc.integer({ min: 0, max: 5 }),
              ccs: fc.boolean(),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          async (messages) => {
            const sock = await rawSocket();
            try {
              await pastCookie(sock, server.address().port);
              let recSeq = 2;
              for (const m of messages) {
                const hs = encodeHandshakeMessage({ msgType: m.msgType, messageSeq: m.seq, body: m.body });
                sock.send(encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 0, sequenceNumber: recSeq++, fragment: hs }), server.address().port, '127.0.0.1');
                if (m.ccs) sock.send(encodeRecord({ type: ContentType.changeCipherSpec, version: DTLS_1_2, epoch: 0, sequenceNumber: recSeq++, fragment: Uint8Array.of(1) }), server.address().port, '127.0.0.1');
              }
              // The established session still answers.
              await sendUntilReply(good, 'alive', 'alive');
              echoes.push('alive');
            } finally {
              sock.close();
            }
          },
        ),
        { numRuns: 60 },
      );
      assert.equal(echoes.length, 60);
      assert.ok(echoes.every((e) => e === 'alive'));
      assert.ok(errors.length >= 10, `the fuzzer should have failed handshakes (saw ${errors.length})`);
      for (const e of errors) {
        assert.ok(e instanceof DtlsError, `untyped handshake error: ${String(e)}`);
        assert.match(e.code, /^ERR_DTLS_/);
      }
      // A fresh client still completes a handshake.
      const late = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
      assert.equal(late.established, true);
      late.close();
      good.close();
    } finally {
      await server.close();
    }
  });
});
