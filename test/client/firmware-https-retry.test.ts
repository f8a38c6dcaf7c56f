/**
 * The device's HTTPS pull (firmware-update-https.ts) against a real TLS-PSK server on loopback:
 * a temporary refusal (503 with Retry-After, e.g. a package server that is restarting; 5xx;
 * 429) is retried like a lost link and the download completes; one that lasts beyond the
 * resume budget ends as "4: Connection lost" (retryable by a campaign), never as "7: Invalid URI"
 * (final); 404 stays final.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { downloadHttps } from '../../src/client/firmware-update-https.js';
import type { PackageReader } from '../../src/client/firmware-update-package.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const BODY = Buffer.from('a firmware package, in one piece'.repeat(64));

/** A TLS-PSK server answering each request with the next status of `script` (then 200s). */
async function server(t: TestContext, script: Array<{ status: number; retryAfter?: string }>): Promise<{ url: URL; hits: () => number }> {
  let hits = 0;
  const s: Server = createServer(
    { ciphers: 'PSK-AES128-GCM-SHA256', maxVersion: 'TLSv1.2', pskCallback: (_socket: unknown, identity: string) => (identity === 'dev-1' ? KEY : null) } as never,
    (_req, res) => {
      const step = script[hits++];
      if (step !== undefined && step.status !== 200) {
        res.writeHead(step.status, step.retryAfter !== undefined ? { 'retry-after': step.retryAfter } : {});
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': String(BODY.length), etag: '"v1"' });
      res.end(BODY);
    },
  );
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return { url: new URL(`https://127.0.0.1:${(s.address() as AddressInfo).port}/fw/token`), hits: () => hits };
}

function sink(): { reader: PackageReader; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const r = {
    received: 0,
    async push(chunk: Uint8Array): Promise<void> {
      chunks.push(Buffer.from(chunk));
      r.received += chunk.length;
    },
  };
  return { reader: r as unknown as PackageReader, bytes: () => Buffer.concat(chunks) };
}

const options = { psk: { identity: 'dev-1', key: new Uint8Array(KEY) }, maxResumes: 3, cancelled: () => false, fatal: () => false, maxRetryAfterMs: 50 };

test('503 (Retry-After), 502 and 429 are waited out and the download completes', async (t) => {
  const srv = await server(t, [{ status: 503, retryAfter: '120' }, { status: 502 }, { status: 429, retryAfter: '0' }]);
  const out = sink();
  assert.equal(await downloadHttps(srv.url, out.reader, options), true);
  assert.deepEqual(out.bytes(), BODY);
  assert.equal(srv.hits(), 4);
});

test('a server unavailable beyond the resume budget ends as result 4 (connection lost), not 7', async (t) => {
  const srv = await server(t, Array.from({ length: 10 }, () => ({ status: 503 })));
  await assert.rejects(downloadHttps(srv.url, sink().reader, options), (err: { code?: string; result?: number }) => err.code === 'ERR_FIRMWARE_CONNECTION_LOST' && err.result === 4);
  assert.equal(srv.hits(), 4, 'the first try and three resumes');
});

test('404 stays final: result 7, not retried', async (t) => {
  const srv = await server(t, [{ status: 404 }]);
  await assert.rejects(downloadHttps(srv.url, sink().reader, options), (err: { code?: string; result?: number }) => err.code === 'ERR_FIRMWARE_DOWNLOAD_REFUSED' && err.result === 7);
  assert.equal(srv.hits(), 1);
});
