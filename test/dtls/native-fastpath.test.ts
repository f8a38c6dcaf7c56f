/**
 * The server's native fast path (native/dtls-fastpath/fastpath.c, src/dtls/native-fastpath.ts):
 * differential tests of its record protection against record-protection.ts (both suites, both
 * directions, mutated records), and a live server on it — replays and duplicates dropped,
 * random and mutated datagrams (mutated valid records of fast sessions included) never stop it,
 * sessions handed back to JS and re-adopted keep their sequence numbers, close semantics kept.
 * The addon is built on demand (scripts/build-native.mjs) when a clean clone has not built it.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { createDtlsServer, type DtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import { ContentType, DTLS_1_2 } from '../../src/dtls/constants.js';
import { decodeDatagram, encodeRecord, writeRecordHeader } from '../../src/dtls/record.js';
import { RecordProtection } from '../../src/dtls/record-protection.js';
import { loadFastPath, type FastPathAddon } from '../../src/dtls/native-fastpath.js';
import { encodeAlert } from '../../src/dtls/handshake.js';
import { PSK, rawSocket, sendUntilReply, UdpProxy, once } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NATIVE_OFF = process.env.ROOTLINE_DTLS_NATIVE === '0';

let addon: FastPathAddon | undefined;

before(() => {
  if (NATIVE_OFF) return;
  if (!existsSync(`${ROOT}build/native/fastpath.node`)) {
    const r = spawnSync(process.execPath, [`${ROOT}scripts/build-native.mjs`], { cwd: ROOT, stdio: 'inherit' });
    assert.equal(r.status, 0, 'scripts/build-native.mjs failed');
  }
  addon = loadFastPath();
  assert.ok(addon !== undefined, 'the built addon loads');
});

const SUITES = [
  { id: 0, cipher: 'aes-128-ccm8' as const },
  { id: 1, cipher: 'aes-128-gcm' as const },
];

function jsSeal(p: RecordProtection, epoch: number, seq: number, plaintext: Uint8Array): Buffer {
  const rec = p.seal(ContentType.applicationData, DTLS_1_2, epoch, seq, plaintext, 13);
  writeRecordHeader(rec, ContentType.applicationData, DTLS_1_2, epoch, seq, rec.length - 13);
  return Buffer.from(rec.buffer, rec.byteOffset, rec.length);
}

function jsOpen(p: RecordProtection, record: Uint8Array): Buffer | null {
  const r = decodeDatagram(record)[0];
  if (r === undefined || r.type === ContentType.tls12Cid) return null;
  try {
    return Buffer.from(p.open(r.type, r.version, r.epoch, r.sequenceNumber, r.fragment));
  } catch {
    return null;
  }
}

const recordArgs = fc.record({
  key: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  salt: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  epoch: fc.integer({ min: 1, max: 0xffff }),
  seq: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 48 - 1 })),
  plaintext: fc.uint8Array({ maxLength: 400 }),
});

const saltNumber = (s: Uint8Array): number => (s[0]! << 24) | (s[1]! << 16) | (s[2]! << 8) | s[3]!;

describe('native fast path: record protection against record-protection.ts', { skip: NATIVE_OFF && 'ROOTLINE_DTLS_NATIVE=0' }, () => {
  for (const suite of SUITES) {
    it(`${suite.cipher}: native seals what JS seals byte for byte, and each opens the other's records`, () => {
      fc.assert(
        fc.property(recordArgs, ({ key, salt, epoch, seq, plaintext }) => {
          const p = new RecordProtection(suite.cipher, key, salt);
          const native = addon!.sealRecord(suite.id, key, saltNumber(salt), epoch, seq, plaintext);
          const js = jsSeal(p, epoch, seq, plaintext);
          assert.deepEqual(native, js);
          assert.deepEqual(addon!.openRecord(suite.id, key, saltNumber(salt), js), Buffer.from(plaintext));
          assert.deepEqual(jsOpen(p, native), Buffer.from(plaintext));
        }),
        { numRuns: 300 },
      );
    });

    it(`${suite.cipher}: a mutated record opens in native exactly when it opens in JS (never, unless unchanged)`, () => {
      fc.assert(
        fc.property(recordArgs, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), ({ key, salt, epoch, seq, plaintext }, flips) => {
          const p = new RecordProtection(suite.cipher, key, salt);
          const rec = Buffer.from(addon!.sealRecord(suite.id, key, saltNumber(salt), epoch, seq, plaintext));
          // Header length bytes stay (a record of another length is a different datagram shape).
          for (const [i, x] of flips) {
            const at = i % rec.length;
            if (at === 11 || at === 12) continue;
            rec[at]! ^= x;
          }
          const n = addon!.openRecord(suite.id, key, saltNumber(salt), rec);
          const j = jsOpen(p, rec);
          assert.deepEqual(n, j);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('rejects another key, salt or truncation', () => {
    const key = Buffer.alloc(16, 3);
    for (const suite of SUITES) {
      const rec = addon!.sealRecord(suite.id, key, 7, 1, 9, Buffer.from('payload'));
      assert.deepEqual(addon!.openRecord(suite.id, key, 7, rec), Buffer.from('payload'));
      assert.equal(addon!.openRecord(suite.id, Buffer.alloc(16, 4), 7, rec), null);
      assert.equal(addon!.openRecord(suite.id, key, 8, rec), null);
      assert.equal(addon!.openRecord(1 - suite.id, key, 7, rec), null);
      const short = Buffer.from(rec.subarray(0, 13 + 8 + 3));
      short.writeUInt16BE(short.length - 13, 11);
      assert.equal(addon!.openRecord(suite.id, key, 7, short), null);
    }
  });
});

async function echoServer(opts: Partial<DtlsServerOptions> = {}): Promise<{ server: DtlsServer; received: string[]; errors: unknown[]; closed: ServerSession[] }> {
  const server = await createDtlsServer({ port: 0, psk: { lookup: (id) => (id.startsWith('device') ? PSK : undefined) }, ...opts } as DtlsServerOptions);
  const received: string[] = [];
  const errors: unknown[] = [];
  const closed: ServerSession[] = [];
  server.on('handshakeError', (e) => errors.push(e));
  server.on('sessionClosed', (s: ServerSession) => closed.push(s));
  server.setDataReceiver((s, d) => {
    received.push(Buffer.from(d).toString());
    s.send(Buffer.concat([Buffer.from('echo:'), d]));
  });
  return { server, received, errors, closed };
}

/** Sequence numbers of the server's application-data records as the proxy saw them. */
function serverSeqs(proxy: UdpProxy): number[] {
  const out: number[] = [];
  for (const d of proxy.toClient) for (const r of decodeDatagram(d)) if (r.type === ContentType.applicationData && r.epoch === 1) out.push(r.sequenceNumber);
  return out;
}

describe('native fast path: a live server', { skip: NATIVE_OFF && 'ROOTLINE_DTLS_NATIVE=0', timeout: 120_000 }, () => {
  for (const suite of [0xc0a8, 0x00a8]) {
    it(`carries an established session's data (suite 0x${suite.toString(16)}), drops replays and duplicates`, async () => {
      const { server, received } = await echoServer({ cipherSuites: [suite] } as Partial<DtlsServerOptions>);
      assert.ok(server.nativeFastPath !== undefined, 'the server runs on the fast path');
      const proxy = await UdpProxy.create(server.address().port);
      try {
        const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK }, cipherSuites: [suite] });
        await sendUntilReply(c, 'one', 'echo:one');
        await sendUntilReply(c, 'two', 'echo:two');
        assert.equal(server.nativeFastPath!.fastSessions, 1);
        const appData = proxy.toServer.filter((d) => d[0] === ContentType.applicationData);
        const last = appData.at(-1)!;
        // The same record again, twice in one datagram, and an older one: all dropped.
        proxy.injectToServer(last);
        proxy.injectToServer(Buffer.concat([last, last]));
        proxy.injectToServer(appData[0]!);
        await sendUntilReply(c, 'three', 'echo:three');
        assert.deepEqual(received, ['one', 'two', 'three']);
        assert.equal(server.nativeFastPath!.fastSessions, 1);
        // Records sent back to back are all delivered, in order.
        const before = received.length;
        const sent: Buffer[] = [];
        const orig = c.send.bind(c);
        c.send = (d: Uint8Array) => {
          sent.push(Buffer.from(d));
          orig(d);
        };
        c.send(Buffer.from('four'));
        c.send(Buffer.from('five'));
        await sendUntilReply(c, 'six', 'echo:six');
        assert.deepEqual(received.slice(before, before + 3), ['four', 'five', 'six']);
        c.close();
      } finally {
        proxy.close();
        await server.close();
      }
    });
  }

  it('a session handed back to JS (handshake and alert records from its address) keeps its sequence numbers and returns to the fast path', async () => {
    const { server, received } = await echoServer();
    const proxy = await UdpProxy.create(server.address().port);
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK } });
      await sendUntilReply(c, 'a', 'echo:a');
      assert.equal(server.nativeFastPath!.fastSessions, 1);
      for (let i = 0; i < 5; i++) {
        // Not application data of the current epoch: the session goes back to JS for it, JS
        // drops it (epoch-0 alert, bogus epoch-1 handshake record that does not authenticate).
        proxy.injectToServer(encodeRecord({ type: ContentType.alert, version: DTLS_1_2, epoch: 0, sequenceNumber: 100 + i, fragment: encodeAlert({ level: 1, description: 0 }) }));
        proxy.injectToServer(encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 1, sequenceNumber: 100 + i, fragment: new Uint8Array(40) }));
        await sendUntilReply(c, `m${i}`, `echo:m${i}`);
      }
      assert.deepEqual(received.filter((r) => r.startsWith('m')), ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.equal(server.nativeFastPath!.fastSessions, 1, 'back on the fast path');
      // Never a sequence number twice under one key (nonce reuse), across every hand-over.
      const seqs = serverSeqs(proxy);
      assert.ok(seqs.length >= 6);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `server sequence numbers increase: ${seqs.join(',')}`);
      c.close();
    } finally {
      proxy.close();
      await server.close();
    }
  });

  it('close_notify from the peer ends a fast session; server.close() sends close_notify to fast sessions', async () => {
    const { server, closed } = await echoServer();
    try {
      const a = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-a', key: PSK } });
      const b = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-b', key: PSK } });
      await sendUntilReply(a, 'x', 'echo:x');
      await sendUntilReply(b, 'y', 'echo:y');
      assert.equal(server.nativeFastPath!.fastSessions, 2);
      const gone = once(server, 'sessionClosed');
      a.close();
      await gone;
      assert.equal(closed.length, 1);
      assert.equal(server.nativeFastPath!.fastSessions, 1);
      assert.equal(server.sessions.size, 1);
      const bClosed = once<Error | undefined>(b, 'close');
      await server.close();
      assert.equal(await bClosed, undefined, 'the client got close_notify');
    } finally {
      await server.close();
    }
  });

  it('a data handler that closes the server in the middle of a batch leaves the process running', async () => {
    const server = await createDtlsServer({ port: 0, psk: { lookup: () => PSK } });
    const closing: Promise<void>[] = [];
    server.setDataReceiver((s, d) => {
      s.send(d);
      if (Buffer.from(d).toString() === 'stop') closing.push(server.close());
    });
    const c = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
    await sendUntilReply(c, 'go', 'go');
    assert.equal(server.nativeFastPath!.fastSessions, 1);
    const closed = once<Error | undefined>(c, 'close');
    for (let i = 0; i < 20; i++) c.send(Buffer.from(i === 10 ? 'stop' : `x${i}`));
    assert.equal(await closed, undefined, 'close_notify from the closing server');
    await Promise.all(closing);
    // Another server still works.
    const { server: next } = await echoServer();
    try {
      const d = await connectDtls({ host: '127.0.0.1', port: next.address().port, psk: { identity: 'device-2', key: PSK } });
      await sendUntilReply(d, 'y', 'echo:y');
      d.close();
    } finally {
      await next.close();
    }
  });

  it('idle timeout drops a fast session (its native state too)', async () => {
    const { server } = await echoServer({ idleTimeoutMs: 300 });
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
      await sendUntilReply(c, 'x', 'echo:x');
      assert.equal(server.nativeFastPath!.fastSessions, 1);
      await once(server, 'sessionClosed');
      assert.equal(server.nativeFastPath!.fastSessions, 0);
      assert.equal(server.sessions.size, 0);
      c.destroy();
    } finally {
      await server.close();
    }
  });

  it('fuzz: random datagrams and mutated records of fast sessions, from their address and from strangers, never stop the server or deliver forged data', async () => {
    const { server, received, errors } = await echoServer();
    const proxy = await UdpProxy.create(server.address().port);
    const stranger = await rawSocket();
    try {
      const c = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'device-1', key: PSK } });
      const other = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-2', key: PSK } });
      await sendUntilReply(c, 'before', 'echo:before');
      await sendUntilReply(other, 'o-before', 'echo:o-before');
      const seeds = proxy.toServer.filter((d) => d.length > 0);
      const appData = seeds.filter((d) => d[0] === ContentType.applicationData);
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            // A valid record of the fast session with bytes changed (header or body).
            fc.tuple(fc.constantFrom(...appData), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([seed, flips]) => {
              const b = Uint8Array.from(seed);
              for (const [i, v] of flips) b[i % b.length] = v;
              return b;
            }),
            // Valid records glued to others, truncated, or followed by garbage.
            fc.tuple(fc.array(fc.constantFrom(...seeds), { minLength: 1, maxLength: 3 }), fc.uint8Array({ maxLength: 20 }), fc.nat()).map(([parts, tail, cut]) => {
              const all = Buffer.concat([...parts, tail]);
              return all.subarray(0, all.length - (cut % 8));
            }),
          ),
          async (datagram) => {
            proxy.injectToServer(datagram);
            stranger.send(datagram, server.address().port, '127.0.0.1');
            await new Promise((r) => setImmediate(r));
            if (++round % 50 === 0) await sendUntilReply(c, `mid${round}`, `echo:mid${round}`);
          },
        ),
        { numRuns: 500 },
      );
      await sendUntilReply(c, 'after', 'echo:after');
      await sendUntilReply(other, 'o-after', 'echo:o-after');
      // Only what the clients sent was ever delivered (no forged or replayed plaintext).
      const legit = new Set(['before', 'o-before', 'after', 'o-after']);
      for (let r = 50; r <= round; r += 50) legit.add(`mid${r}`);
      for (const r of received) assert.ok(legit.has(r), `unexpected delivery ${JSON.stringify(r)}`);
      const d = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-3', key: PSK } });
      await sendUntilReply(d, 'new', 'echo:new');
      for (const e of errors) assert.match((e as { code?: string }).code ?? '', /^ERR_DTLS_/);
      c.close();
      other.close();
      d.close();
    } finally {
      stranger.close();
      proxy.close();
      await server.close();
    }
  });

  it('works over IPv6 loopback and on a dual-stack socket (IPv4-mapped peers)', async () => {
    for (const host of ['::1', '::']) {
      const { server } = await echoServer({ host });
      try {
        assert.ok(server.nativeFastPath !== undefined);
        const c = await connectDtls({ host: host === '::' ? '127.0.0.1' : '::1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
        await sendUntilReply(c, 'v6', 'echo:v6');
        await sendUntilReply(c, 'v6b', 'echo:v6b');
        assert.equal(server.nativeFastPath!.fastSessions, 1);
        c.close();
      } finally {
        await server.close();
      }
    }
  });

  it('nativeFastPath: false serves on node:dgram', async () => {
    const { server } = await echoServer({ nativeFastPath: false });
    try {
      assert.equal(server.nativeFastPath, undefined);
      assert.ok(server.socket !== undefined);
      const c = await connectDtls({ host: '127.0.0.1', port: server.address().port, psk: { identity: 'device-1', key: PSK } });
      await sendUntilReply(c, 'x', 'echo:x');
      c.close();
    } finally {
      await server.close();
    }
  });
});
