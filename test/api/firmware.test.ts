import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { verifyManifest } from '../../src/fota/suit/index.js';
import { request, startTestServer, type TestServer } from '../server/harness.js';

let t: TestServer;
let api: string;

before(async () => {
  t = await startTestServer({ start: { fota: { maxFirmwareBytes: 256 * 1024 } } });
  api = `${t.url}/api/v1`;
});
after(() => t.close());

function code(body: unknown): string {
  return (body as { error: { code: string } }).error.code;
}

async function upload(query: string, bytes: Uint8Array, contentType = 'application/octet-stream') {
  const res = await fetch(`${api}/firmware?${query}`, { method: 'POST', headers: { 'content-type': contentType }, body: bytes });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
}

test('upload, show, list, download, manifest, delete', async () => {
  const image = randomBytes(100_000);
  const sha = createHash('sha256').update(image).digest('hex');
  const up = await upload('vendor=example.com&model=TH-1&version=1.0.0&description=first', image);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const fw = up.body as { id: string; sha256: string; size: number; sequence: number; vendor: string; attributes: Record<string, unknown> };
  assert.equal(up.headers.get('location'), `/api/v1/firmware/${fw.id}`);
  assert.equal(fw.sha256, sha);
  assert.equal(fw.size, image.length);
  assert.equal(fw.vendor, 'example.com');
  assert.deepEqual(fw.attributes, { description: 'first' });
  assert.ok(!('manifest' in fw));

  const shown = await request(`${api}/firmware/${fw.id}`);
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.body, fw);

  const second = await upload('vendor=example.com&model=TH-1&version=1.1.0', randomBytes(5000));
  assert.equal(second.status, 201);
  assert.equal((second.body as { sequence: number }).sequence, fw.sequence + 1);

  const listed = await request(`${api}/firmware?model=TH-1&limit=1`);
  assert.equal(listed.status, 200);
  const page = listed.body as { firmware: { id: string }[]; next: number | null };
  assert.deepEqual(page.firmware.map((f) => f.id), [fw.id]);
  assert.equal(page.next, 1);
  const rest = (await request(`${api}/firmware?model=TH-1&offset=1`)).body as { firmware: { id: string }[]; next: number | null };
  assert.deepEqual(rest.firmware.map((f) => f.id), [(second.body as { id: string }).id]);
  assert.equal(rest.next, null);

  const dl = await fetch(`${api}/firmware/${fw.id}/image`);
  assert.equal(dl.status, 200);
  assert.equal(dl.headers.get('content-type'), 'application/octet-stream');
  assert.equal(dl.headers.get('etag'), `"${sha}"`);
  assert.equal(dl.headers.get('digest'), `sha-256=${Buffer.from(sha, 'hex').toString('base64')}`);
  assert.match(dl.headers.get('content-disposition') ?? '', /filename="TH-1-1\.0\.0\.bin"/);
  assert.ok(Buffer.from(await dl.arrayBuffer()).equals(image));

  const mf = await fetch(`${api}/firmware/${fw.id}/manifest`);
  assert.equal(mf.status, 200);
  assert.equal(mf.headers.get('content-type'), 'application/cbor');
  const envelope = new Uint8Array(await mf.arrayBuffer());
  const view = await verifyManifest(envelope, { trustedKeys: [t.server.fota.firmware.signingPublicKey] });
  assert.equal(view.sequenceNumber, fw.sequence);
  assert.equal(Buffer.from(view.image.digest!.bytes).toString('hex'), sha);
  assert.equal(view.image.size, image.length);
  assert.equal(view.version, '1.0.0');

  const del = await request(`${api}/firmware/${fw.id}`, { method: 'DELETE' });
  assert.equal(del.status, 204);
  const gone = await request(`${api}/firmware/${fw.id}`);
  assert.equal(gone.status, 404);
  assert.equal(code(gone.body), 'ERR_API_FIRMWARE_NOT_FOUND');
  for (const path of ['/image', '/manifest']) assert.equal(code((await request(`${api}/firmware/${fw.id}${path}`)).body), 'ERR_API_FIRMWARE_NOT_FOUND');
  assert.equal(code((await request(`${api}/firmware/${fw.id}`, { method: 'DELETE' })).body), 'ERR_API_FIRMWARE_NOT_FOUND');

  const audit = (await request(`${api}/audit?action=firmware.add`)).body as { records: { actor: string; outcome: string; subject: string }[] };
  assert.ok(audit.records.some((r) => r.actor === 'operator:api' && r.outcome === 'success' && r.subject === 'example.com/TH-1@1.0.0'));
  const deletes = (await request(`${api}/audit?action=firmware.delete`)).body as { records: { outcome: string }[] };
  assert.ok(deletes.records.some((r) => r.outcome === 'success'));
});

test('upload refusals: version exists, not newer, bad query, wrong media type, empty, too large', async () => {
  const first = await upload('model=TH-2&version=2.0.0', randomBytes(1000));
  assert.equal(first.status, 201);
  assert.equal(first.body.vendor, 'rootline.invalid');

  const dup = await upload('model=TH-2&version=2.0.0', randomBytes(1000));
  assert.equal(dup.status, 409);
  assert.equal(code(dup.body), 'ERR_API_FIRMWARE_EXISTS');
  const older = await upload('model=TH-2&version=1.9.9', randomBytes(1000));
  assert.equal(older.status, 409);
  assert.equal(code(older.body), 'ERR_API_FIRMWARE_NOT_NEWER');

  for (const q of ['model=TH-2&version=2.1', 'version=2.1.0', 'model=TH-2', 'model=TH%202&version=2.1.0', 'model=TH-2&version=2.1.0&vendor=-bad', 'model=TH-2&version=2.1.0&extra=1']) {
    const r = await upload(q, randomBytes(10));
    assert.equal(r.status, 400, q);
    assert.equal(code(r.body), 'ERR_API_VALIDATION', q);
  }
  const json = await upload('model=TH-2&version=2.1.0', new TextEncoder().encode('{"a":1}'), 'application/json');
  assert.equal(json.status, 415);
  assert.equal(code(json.body), 'ERR_API_UNSUPPORTED_MEDIA_TYPE');
  const empty = await upload('model=TH-2&version=2.1.0', new Uint8Array(0));
  assert.equal(empty.status, 400);
  assert.equal(code(empty.body), 'ERR_API_VALIDATION');
  const big = await upload('model=TH-2&version=2.1.0', randomBytes(256 * 1024 + 1));
  assert.equal(big.status, 413);
  assert.equal(code(big.body), 'ERR_API_BODY_TOO_LARGE');
  // Nothing of the refused uploads was stored.
  const listed = (await request(`${t.url}/api/v1/firmware?model=TH-2`)).body as { firmware: { version: string }[] };
  assert.deepEqual(listed.firmware.map((f) => f.version), ['2.0.0']);

  // The JSON routes still refuse octet-stream bodies.
  const device = await upload('', randomBytes(4)).then(() => fetch(`${t.url}/api/v1/devices`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(4) }));
  assert.equal(device.status, 415);
});

test('path and query validation on the read routes', async () => {
  for (const path of ['/firmware/bad%20id', '/firmware/bad%20id/image', '/firmware?limit=0', '/firmware?offset=-1', '/firmware?model=a%20b']) {
    const r = await request(`${api}${path}`);
    assert.equal(r.status, 400, path);
    assert.equal(code(r.body), 'ERR_API_VALIDATION', path);
  }
  const none = await request(`${api}/firmware/00000000-0000-4000-8000-000000000000`);
  assert.equal(none.status, 404);
});

test('the firmware-signing public key: PEM, kid and algorithm; it verifies the manifests', async () => {
  const r = await request(`${api}/firmware/signing-key`);
  assert.equal(r.status, 200);
  const key = r.body as { algorithm: string; keyId: string; publicKey: string };
  assert.deepEqual(Object.keys(key).sort(), ['algorithm', 'keyId', 'publicKey']);
  assert.equal(key.algorithm, 'ES256');
  const spki = createPublicKey(key.publicKey).export({ format: 'der', type: 'spki' });
  assert.ok(Buffer.from(t.server.fota.firmware.signingPublicKey).equals(spki));
  assert.equal(key.keyId, createHash('sha256').update(spki).digest('hex'));
  assert.ok(!r.text.includes('PRIVATE'));

  const up = await upload('model=TH-KEY&version=1.0.0', randomBytes(64));
  const envelope = new Uint8Array(await (await fetch(`${api}/firmware/${(up.body as { id: string }).id}/manifest`)).arrayBuffer());
  const view = await verifyManifest(envelope, { trustedKeys: [new Uint8Array(spki)] });
  assert.equal(view.version, '1.0.0');
});
