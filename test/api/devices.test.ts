import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePeer } from '../helpers/peers.js';
import { makeTempDir, request, startTestServer, type TestServer } from '../server/harness.js';

let t: TestServer;
let api: string;

before(async () => {
  t = await startTestServer();
  api = `${t.url}/api/v1`;
});
after(() => t.close());

function errorCode(body: unknown): string {
  return (body as { error: { code: string } }).error.code;
}

test('health answers 200 with version and the real HTTP port once every listener is up', async () => {
  const r = await request(`${api}/health`);
  assert.equal(r.status, 200);
  const port = Number(new URL(t.url).port);
  assert.ok(port > 0);
  assert.deepEqual(r.body, {
    status: 'ok',
    version: JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    listeners: {
      http: { state: 'up', port, url: t.url },
      coaps: { state: 'up', port: t.server.addresses.coaps!.port, url: `coaps://127.0.0.1:${t.server.addresses.coaps!.port}` },
      coap: { state: 'up', port: t.server.addresses.coap!.port, url: `coap://127.0.0.1:${t.server.addresses.coap!.port}` },
    },
  });
});

test('PSK device: create, show (no secret), list, conflict, remove', async () => {
  const key = randomBytes(16).toString('hex');
  const created = await request(`${api}/devices`, {
    method: 'POST',
    body: { endpoint: 'urn:imei:490154203237518', model: 'm1', firmwareVersion: '1.0.0', tags: ['lab'], credentials: { psk: { identity: 'id-psk-1', key } } },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.headers.get('location'), '/api/v1/devices/urn%3Aimei%3A490154203237518');
  const device = created.body as Record<string, unknown>;
  assert.equal(device.endpoint, 'urn:imei:490154203237518');
  assert.equal(device.model, 'm1');
  assert.deepEqual(device.tags, ['lab']);
  assert.equal(device.ownershipState, 'RESET');
  assert.deepEqual((device.credentials as { kind: string; lookup: string }[]).map((c) => [c.kind, c.lookup, Object.keys(c).sort().join()]), [['psk', 'id-psk-1', 'createdAt,kind,lookup']]);
  assert.ok(!created.text.toLowerCase().includes(key));

  const shown = await request(`${api}/devices/urn:imei:490154203237518`);
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.body, device);

  const listed = await request(`${api}/devices?model=m1`);
  assert.equal(listed.status, 200);
  assert.deepEqual((listed.body as { devices: { endpoint: string }[] }).devices.map((d) => d.endpoint), ['urn:imei:490154203237518']);

  const again = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'urn:imei:490154203237518' } });
  assert.equal(again.status, 409);
  assert.equal(errorCode(again.body), 'ERR_API_DEVICE_EXISTS');

  // The same PSK identity on another device is refused, and nothing of that device remains.
  const stolen = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'other', credentials: { psk: { identity: 'id-psk-1', key: '00' } } } });
  assert.equal(stolen.status, 409);
  assert.equal(errorCode(stolen.body), 'ERR_API_CREDENTIAL_IN_USE');
  assert.equal((await request(`${api}/devices/other`)).status, 404);

  const removed = await request(`${api}/devices/urn:imei:490154203237518`, { method: 'DELETE' });
  assert.equal(removed.status, 204);
  const gone = await request(`${api}/devices/urn:imei:490154203237518`);
  assert.equal(gone.status, 404);
  assert.equal(errorCode(gone.body), 'ERR_API_DEVICE_NOT_FOUND');
  const removedAgain = await request(`${api}/devices/urn:imei:490154203237518`, { method: 'DELETE' });
  assert.equal(removedAgain.status, 404);

  // Removing the device freed its identity.
  const reuse = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'other', credentials: { psk: { identity: 'id-psk-1', key: '01' } } } });
  assert.equal(reuse.status, 201, reuse.text);
});

test('the PSK is sealed: absent from the database files, every API response and the log', async () => {
  const key = randomBytes(32);
  const hex = key.toString('hex');
  const r = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'secret-dev', credentials: { psk: { identity: 'secret-id', key: hex.toUpperCase() } } } });
  assert.equal(r.status, 201, r.text);
  const responses = [r.text];
  for (const path of ['/devices/secret-dev', '/devices', '/audit?limit=1000', '/audit/verify', '/openapi.json']) responses.push((await request(api + path)).text);
  for (const text of responses) {
    assert.ok(!text.toLowerCase().includes(hex), 'key in an API response');
  }
  assert.ok(!t.logs().toLowerCase().includes(hex), 'key in the log');

  // The stored material is the sealed form: version byte, nonce, ciphertext, tag.
  const [cred] = await t.server.store.devices.credentials('secret-dev');
  assert.equal(cred!.material.length, 1 + 12 + 32 + 16);
  assert.ok(!Buffer.from(cred!.material).includes(key));

  // Neither the raw bytes nor the hex text appear in any file of the data dir (db, WAL, keystore).
  for (const name of readdirSync(t.dir)) {
    const bytes = readFileSync(join(t.dir, name));
    assert.ok(!bytes.includes(key), `raw key in ${name}`);
    assert.ok(!bytes.toString('latin1').toLowerCase().includes(hex), `hex key in ${name}`);
  }
});

test('raw public key credentials: PEM and hex SPKI, looked up by SHA-256 of the SPKI', async () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const lookup = createHash('sha256').update(spki).digest('hex');

  const a = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'rpk-pem', credentials: { rpk: { publicKey: pem } } } });
  assert.equal(a.status, 201, a.text);
  assert.deepEqual((a.body as { credentials: { kind: string; lookup: string }[] }).credentials.map((c) => [c.kind, c.lookup]), [['rpk', lookup]]);
  // The same key as hex is the same credential.
  const b = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'rpk-hex', credentials: { rpk: { publicKey: spki.toString('hex') } } } });
  assert.equal(b.status, 409);
  assert.equal(errorCode(b.body), 'ERR_API_CREDENTIAL_IN_USE');

  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('hex');
  assert.equal((await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'rpk-ed', credentials: { rpk: { publicKey: ed } } } })).status, 201);

  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const bad = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'rpk-rsa', credentials: { rpk: { publicKey: rsa } } } });
  assert.equal(bad.status, 400);
  assert.equal(errorCode(bad.body), 'ERR_API_BAD_CREDENTIAL');
  assert.match((bad.body as { error: { message: string } }).error.message, /unsupported key type rsa/);
  for (const junk of ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', '3059', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----']) {
    const r = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'rpk-junk', credentials: { rpk: { publicKey: junk } } } });
    assert.equal(r.status, 400, junk);
    assert.equal(errorCode(r.body), 'ERR_API_BAD_CREDENTIAL');
  }
  assert.equal((await request(`${api}/devices/rpk-junk`)).status, 404);
});

test('X.509 credentials: a certificate is bound by its subject CN; a bare subject works too', { skip: requirePeer('openssl', ['openssl'], 'apt-get install openssl') }, async () => {
  const dir = makeTempDir();
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-subj', '/O=Acme/CN=cert-dev-1', '-days', '2'], { stdio: 'ignore' });
  const pem = readFileSync(join(dir, 'c.pem'), 'utf8');
  const r = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'cert-dev-1', credentials: { x509: { certificate: pem } } } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual((r.body as { credentials: { kind: string; lookup: string }[] }).credentials.map((c) => [c.kind, c.lookup]), [['x509', 'cert-dev-1']]);
  const [stored] = await t.server.store.devices.credentials('cert-dev-1');
  assert.ok(stored!.material.length > 100, 'certificate DER stored');

  const s = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'subj-dev', credentials: { x509: { subject: 'subj-dev-cn' } } } });
  assert.equal(s.status, 201, s.text);
  const both = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'x', credentials: { x509: { subject: 'a', certificate: pem } } } });
  assert.equal(both.status, 400);
  const junk = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'x', credentials: { x509: { certificate: 'not a cert' } } } });
  assert.equal(errorCode(junk.body), 'ERR_API_BAD_CREDENTIAL');
});

test('bad requests get 4xx with a code and a message naming the problem', async () => {
  const cases: [string, Parameters<typeof request>[1], number, string, RegExp][] = [
    ['/devices', { method: 'POST', body: { endpoint: 'a', colour: 'red' } }, 400, 'ERR_API_VALIDATION', /body: unknown property "colour"/],
    ['/devices', { method: 'POST', body: {} }, 400, 'ERR_API_VALIDATION', /body: missing required property "endpoint"/],
    ['/devices', { method: 'POST', body: { endpoint: 'a/b' } }, 400, 'ERR_API_VALIDATION', /body\.endpoint: must match pattern/],
    ['/devices', { method: 'POST', body: { endpoint: 12 } }, 400, 'ERR_API_VALIDATION', /body\.endpoint: must be string/],
    ['/devices', { method: 'POST', body: { endpoint: 'a', credentials: { psk: { identity: 'i' } } } }, 400, 'ERR_API_VALIDATION', /body\.credentials\.psk: missing required property "key"/],
    ['/devices', { method: 'POST', body: { endpoint: 'a', credentials: { psk: { identity: 'i', key: 'xyz' } } } }, 400, 'ERR_API_VALIDATION', /body\.credentials\.psk\.key/],
    ['/devices', { method: 'POST', body: { endpoint: 'a', credentials: { psk: { identity: 'i', key: '00'.repeat(65) } } } }, 400, 'ERR_API_VALIDATION', /body\.credentials\.psk\.key/],
    ['/devices', { method: 'POST', body: { endpoint: 'a', credentials: {} } }, 400, 'ERR_API_VALIDATION', /body\.credentials/],
    ['/devices', { method: 'POST', body: { endpoint: 'a', model: 'bad\u0007model' } }, 400, 'ERR_API_VALIDATION', /body\.model/],
    ['/devices', { method: 'POST', rawBody: '{"endpoint":' }, 400, 'ERR_API_BAD_JSON', /not well-formed JSON/],
    ['/devices', { method: 'POST', rawBody: '' }, 400, 'ERR_API_BAD_JSON', /not well-formed JSON/],
    ['/devices', { method: 'POST', rawBody: '{"endpoint":"a"}', contentType: 'text/plain' }, 415, 'ERR_API_UNSUPPORTED_MEDIA_TYPE', /application\/json/],
    ['/devices', { method: 'POST', body: { endpoint: 'a', attributes: { blob: 'x'.repeat(70_000) } } }, 413, 'ERR_API_BODY_TOO_LARGE', /too large/],
    ['/devices?limit=abc', {}, 400, 'ERR_API_VALIDATION', /querystring\.limit: must be integer/],
    ['/devices?limit=0', {}, 400, 'ERR_API_VALIDATION', /querystring\.limit: must be >= 1/],
    ['/devices?state=ON', {}, 400, 'ERR_API_VALIDATION', /querystring\.state/],
    ['/devices?sort=asc', {}, 400, 'ERR_API_VALIDATION', /querystring: unknown property "sort"/],
    ['/audit?after=-1', {}, 400, 'ERR_API_VALIDATION', /querystring\.after: must be >= 0/],
    ['/devices/bad%20name', {}, 400, 'ERR_API_VALIDATION', /params\.endpoint/],
    ['/nope', {}, 404, 'ERR_API_ROUTE_NOT_FOUND', /no route GET \/api\/v1\/nope/],
    ['/devices', { method: 'PUT', body: {} }, 404, 'ERR_API_ROUTE_NOT_FOUND', /no route PUT/],
  ];
  for (const [path, init, status, code, message] of cases) {
    const r = await request(api + path, init);
    assert.equal(r.status, status, `${path} ${JSON.stringify(init)}: ${r.text}`);
    assert.equal(errorCode(r.body), code, path);
    assert.match((r.body as { error: { message: string } }).error.message, message, path);
    assert.deepEqual(Object.keys(r.body as object), ['error']);
  }
});

test('list pagination: limit and after walk the devices in endpoint order', async () => {
  for (const name of ['page-c', 'page-a', 'page-b']) {
    assert.equal((await request(`${api}/devices`, { method: 'POST', body: { endpoint: name, tags: ['paged'] } })).status, 201);
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 5; i++) {
    const r = await request(`${api}/devices?tag=paged&limit=2${cursor !== null ? `&after=${cursor}` : ''}`);
    const page = r.body as { devices: { endpoint: string }[]; next: string | null };
    seen.push(...page.devices.map((d) => d.endpoint));
    cursor = page.next;
    if (cursor === null) break;
  }
  assert.deepEqual(seen, ['page-a', 'page-b', 'page-c']);
  const search = await request(`${api}/devices?search=age-b`);
  assert.deepEqual((search.body as { devices: { endpoint: string }[] }).devices.map((d) => d.endpoint), ['page-b']);
});

test('every mutation and every refusal is in the audit log, and the chain verifies', async () => {
  const initial = (await request(`${api}/audit?limit=1000`)).body as { records: { seq: number }[] };
  const lastSeq = initial.records.at(-1)!.seq;
  await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'audited', credentials: { psk: { identity: 'aud-id', key: 'aa' } } } });
  await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'audited-2', credentials: { psk: { identity: 'aud-id', key: 'bb' } } } });
  await request(`${api}/devices/audited`, { method: 'DELETE' });
  await request(`${api}/devices/audited`, { method: 'DELETE' });
  const r = await request(`${api}/audit?after=${lastSeq}`);
  const records = (r.body as { records: Record<string, unknown>[] }).records;
  assert.deepEqual(
    records.map((x) => [x.actor, x.action, x.subject, x.outcome]),
    [
      ['operator:api', 'device.create', 'audited', 'success'],
      ['operator:api', 'device.create', 'audited-2', 'deny'],
      ['operator:api', 'device.delete', 'audited', 'success'],
      ['operator:api', 'device.delete', 'audited', 'failure'],
    ],
  );
  assert.deepEqual(records[1]!.details, { reason: 'credential-in-use', credential: { kind: 'psk', lookup: 'aud-id' }, boundTo: 'audited' });
  // The first start recorded the creation of the sealing key and the CoAPs server and CA keys.
  const first = (await request(`${api}/audit?action=keystore.key.generate`)).body as { records: { subject: string; actor: string }[] };
  assert.deepEqual(first.records.map((x) => [x.actor, x.subject]), [['system', 'credentials-seal'], ['system', 'coaps-server'], ['system', 'coaps-ca']]);

  const v = await request(`${api}/audit/verify`);
  assert.equal(v.status, 200);
  const result = v.body as { ok: boolean; count: number; lastHash: string };
  assert.equal(result.ok, true);
  assert.equal(result.count, lastSeq + 4);
  assert.match(result.lastHash, /^[0-9a-f]{64}$/);
});
