/**
 * Random JSON bodies against POST /api/v1/devices: whatever arrives, the answer is a 2xx or a
 * 4xx with a catalogue error body, never a 5xx, and the server keeps serving.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { API_ERROR_CODES } from '../../src/api/errors.js';
import { request, startTestServer, type TestServer } from '../server/harness.js';

let t: TestServer;
let url: string;

before(async () => {
  t = await startTestServer({ flags: { logLevel: 'silent' } });
  url = `${t.url}/api/v1/devices`;
});
after(() => t.close());

function checkAnswer(status: number, text: string): void {
  assert.ok(status < 500, `HTTP ${status}: ${text}`);
  if (status >= 400) {
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    assert.ok(API_ERROR_CODES.includes(body.error.code as never), text);
    assert.equal(typeof body.error.message, 'string');
  } else {
    assert.equal(status, 201, text);
  }
}

const hex = fc.uint8Array({ minLength: 0, maxLength: 70 }).map((b) => Buffer.from(b).toString('hex'));
const name = fc.oneof(fc.string({ maxLength: 140 }), fc.constantFrom('dev-1', 'urn:imei:1', 'a', ''), fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/));
const credential = fc.oneof(
  fc.record({ psk: fc.record({ identity: fc.oneof(name, fc.anything()), key: fc.oneof(hex, fc.anything()) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  fc.record({ rpk: fc.record({ publicKey: fc.oneof(hex, fc.string(), fc.anything()) }) }),
  fc.record({ x509: fc.record({ certificate: fc.string(), subject: name }, { requiredKeys: [] }) }),
  fc.anything(),
);
const deviceLike = fc.record(
  {
    endpoint: fc.oneof(name, fc.anything()),
    model: fc.oneof(name, fc.anything()),
    firmwareVersion: fc.oneof(name, fc.integer()),
    tags: fc.oneof(fc.array(name, { maxLength: 40 }), fc.anything()),
    attributes: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.anything()),
    credentials: credential,
  },
  { requiredKeys: [] },
);

test('random JSON values: only 2xx or catalogue 4xx answers', async () => {
  await fc.assert(
    fc.asyncProperty(fc.json({ maxDepth: 4 }), async (json) => {
      const r = await request(url, { method: 'POST', rawBody: json });
      checkAnswer(r.status, r.text);
    }),
    { numRuns: 150 },
  );
});

test('device-shaped bodies with random fields: only 2xx or catalogue 4xx answers', async () => {
  await fc.assert(
    fc.asyncProperty(deviceLike, async (body) => {
      let raw: string;
      try {
        raw = JSON.stringify(body);
      } catch {
        return; // BigInt and friends are not JSON; nothing to send.
      }
      if (raw === undefined) return;
      const r = await request(url, { method: 'POST', rawBody: raw });
      checkAnswer(r.status, r.text);
    }),
    { numRuns: 300 },
  );
});

test('random bytes as a body: 4xx, never 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), async (raw) => {
      const r = await request(url, { method: 'POST', rawBody: raw });
      checkAnswer(r.status, r.text);
    }),
    { numRuns: 100 },
  );
  // Still serving, and the audit chain survived everything above.
  const v = await request(`${t.url}/api/v1/audit/verify`);
  assert.equal((v.body as { ok: boolean }).ok, true);
});
