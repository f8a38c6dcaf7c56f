/**
 * Zero-touch onboarding through LwM2M, end to end against a real `rootline serve` (issue 6):
 * `rootline factory init|mint` makes a device, `onboardDevice` (the SDK call behind
 * `rootline pledge`) gets the voucher and the LDevID, asks the registrar where to bootstrap,
 * runs client-initiated bootstrap over CoAPs with the LDevID as DTLS client certificate, and
 * registers with the server it was given. The registry then shows the device registered, bound
 * to the LDevID, in RFNOP (audited), and the server reads /3/0 from it. A device whose LDevID
 * was revoked by decommission can neither learn the bootstrap server nor bootstrap.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { addBootstrapAccount } from '../../src/client/accounts.js';
import { Lwm2mClient } from '../../src/client/client.js';
import { main } from '../../src/cli/main.js';
import { isRootlineError } from '../../src/errors.js';
import { encodePem, parseCertificate } from '../../src/pki/index.js';
import { fetchBootstrapServer, onboardDevice, type OnboardedDevice } from '../../src/onboarding/pledge/index.js';
import { runCli } from '../cli/io.js';
import { auditRecords, OnboardingWorld, type AuditView, type InProcessServe } from '../helpers/onboarding-world.js';
import { request } from '../server/harness.js';

let world: OnboardingWorld | undefined;
let serve: InProcessServe;
let dir: string;
let data: string;
const env = {};
let api: string;
let est: string;
let brskiCoaps: string;
const running: OnboardedDevice[] = [];
// Generous retransmission on this shared, loaded machine: a lost flight is resent, not fatal.
const dtlsRetransmit = { initialMs: 1000, maxMs: 8000, maxRetransmissions: 6 };

function audit(action: string): Promise<AuditView[]> {
  return auditRecords(api, action);
}

before(async () => {
  world = OnboardingWorld.create('serve-onboarding-lwm2m');
  dir = world.dir;
  const factory = await world.initFactory({ data: 'data', masaUrl: 'https://127.0.0.1/masa', manufacturer: 'Acme' });
  data = factory.data;
  for (const serial of ['LW-1', 'LW-2', 'LW-3', 'LW-4']) await factory.mint(serial, 'Meter');
  // coaps: the registrar's CoAPs listener too (constrained BRSKI, RFC 9148), for the CoAPs case.
  serve = world.serveInProcess({ factory, coaps: true });
  api = await serve.listenerUrl('http');
  est = await serve.listenerUrl('est');
  brskiCoaps = await serve.listenerUrl('brski-coaps');
});

after(async () => {
  for (const d of running) await d.client.close().catch(() => undefined);
  await world?.close();
});

test('onboardDevice: voucher, LDevID, LwM2M bootstrap with the LDevID, registration; RFNOP; the server reads /3/0', async () => {
  const steps: string[] = [];
  const onboarded = await onboardDevice({
    idevidDir: join(dir, 'LW-1'),
    registrarUrl: est,
    device: { manufacturer: 'Acme', modelNumber: 'Meter', firmwareVersion: '1.0.0' },
    client: { dtlsRetransmit },
    onStep: (s) => steps.push(s),
  });
  running.push(onboarded);
  const endpoint = 'urn:dev:ops:Acme-Meter-LW-1';
  assert.equal(onboarded.endpoint, endpoint);
  assert.equal(onboarded.client.registered, true);
  assert.deepEqual(steps.filter((s) => ['enroll', 'bootstrap-server', 'bootstrapped', 'registered'].includes(s)), ['enroll', 'bootstrap-server', 'bootstrapped', 'registered']);
  // The bootstrap server the registrar named is serve's CoAPs listener, with its own certificate.
  assert.match(onboarded.bootstrap.uri, /^coaps:\/\/127\.0\.0\.1:[0-9]+$/);
  assert.equal(encodePem('CERTIFICATE', onboarded.bootstrap.serverCertificate).trim(), readFileSync(join(data, 'coaps-server.pem'), 'utf8').trim().split(/(?<=-----END CERTIFICATE-----)/)[0]!.trim());
  // What bootstrap wrote: a certificate-mode management account without any private key.
  const management = onboarded.client.tree.instanceIds(0).filter((i) => (onboarded.client.tree.get(0, i, 1) as { value?: unknown } | undefined)?.value === false);
  assert.equal(management.length, 1);
  assert.equal((onboarded.client.tree.get(0, management[0]!, 2) as { value: number }).value, 2);
  assert.equal(onboarded.client.tree.get(0, management[0]!, 5), undefined);

  const view = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}`);
  assert.equal(view.status, 200, view.text);
  const device = view.body as { registered?: boolean; ownershipState: string; credentials: { kind: string; lookup: string }[] };
  assert.equal(device.registered, true, view.text);
  assert.deepEqual(device.credentials.map((c) => [c.kind, c.lookup]), [['x509', endpoint]]);
  // The endpoint is bound to exactly this LDevID: the LDevID's CN is the endpoint, and it chains to the domain CA serve wrote.
  assert.equal(parseCertificate(onboarded.pledge.ldevid.der).subject.includes(`CN=${endpoint}`), true);
  assert.equal(onboarded.pledge.domainCa.pem.trim(), readFileSync(join(data, 'onboarding', 'domain-ca.pem'), 'utf8').trim());
  // The credential the registrar bound (and the CoAPs listener compared byte for byte in both handshakes) is this very LDevID.
  const created = (await audit('registrar.device.create')).find((a) => a.subject === endpoint);
  assert.equal(created?.details.fingerprint, parseCertificate(onboarded.pledge.ldevid.der).fingerprint256);

  // RFPRO → RFNOP follows the acknowledged registration (asynchronously): wait for it (bounded by the test timeout).
  let state = device.ownershipState;
  while (state !== 'RFNOP') {
    await new Promise((r) => setTimeout(r, 100));
    state = ((await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}`)).body as { ownershipState: string }).ownershipState;
    assert.ok(state === 'RFPRO' || state === 'RFNOP', state);
  }
  const transitions = (await audit('ownership.transition')).filter((a) => a.subject === endpoint);
  assert.deepEqual(transitions.map((a) => `${String(a.details.from)}>${String(a.details.to)}:${a.outcome}`).sort(), ['RESET>RFOTM:success', 'RFOTM>RFPRO:success', 'RFPRO>RFNOP:success'].sort());
  assert.equal(transitions.find((a) => a.details.to === 'RFNOP')!.actor, `device:${endpoint}`);
  assert.ok((await audit('registrar.bootstrap-server')).some((a) => a.subject === endpoint && a.outcome === 'allow'));

  const read = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}/objects/3/0`);
  assert.equal(read.status, 200, read.text);
  const text = JSON.stringify(read.body);
  assert.match(text, /LW-1/);
  assert.match(text, /Acme/);
});

test('a device whose LDevID was revoked by decommission is told nothing and cannot bootstrap', async () => {
  const onboarded = await onboardDevice({ idevidDir: join(dir, 'LW-2'), registrarUrl: est, client: { dtlsRetransmit } });
  const endpoint = onboarded.endpoint;
  await onboarded.client.close();
  const decommission = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}/decommission`, { method: 'POST' });
  assert.equal(decommission.status, 200, decommission.text);

  const ldevidChainPem = onboarded.pledge.ldevid.chain.map((c) => encodePem('CERTIFICATE', c)).join('');
  await assert.rejects(fetchBootstrapServer({ registrarUrl: est, ldevidChainPem, key: onboarded.pledge.key, domainCaPem: onboarded.pledge.domainCa.pem }), (err: unknown) => {
    assert.ok(isRootlineError(err, 'ERR_PLEDGE_BOOTSTRAP_SERVER'), String(err));
    assert.equal((err as { status?: number }).status, 403);
    return true;
  });
  assert.ok((await audit('registrar.bootstrap-server')).some((a) => a.outcome === 'deny' && a.details.code === 'ERR_REGISTRAR_UNAUTHENTICATED'));

  // Straight to the bootstrap server with what the device still holds: the DTLS handshake is refused.
  const client = new Lwm2mClient({ endpointName: endpoint, dtlsRetransmit: { initialMs: 500, maxMs: 2000, maxRetransmissions: 3 } });
  addBootstrapAccount(client.tree, { uri: onboarded.bootstrap.uri, security: { mode: 'x509', privateKey: onboarded.pledge.key, certificate: onboarded.pledge.ldevid.der, serverCertificate: onboarded.bootstrap.serverCertificate } });
  try {
    await assert.rejects(client.start({ forceBootstrap: true }), (err: unknown) => {
      assert.ok(isRootlineError(err), String(err));
      assert.match((err as { code: string }).code, /^ERR_DTLS_/);
      return true;
    });
    assert.equal(client.registered, false);
  } finally {
    await client.close();
  }
  const view = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}`);
  assert.equal((view.body as { ownershipState: string }).ownershipState, 'DECOMMISSIONED');
});

test('rootline pledge: onboards, stays registered until shutdown, then de-registers; argument errors exit 2', async () => {
  const endpoint = 'urn:dev:ops:Acme-Meter-LW-3';
  const stop = new AbortController();
  let out = '';
  let err = '';
  const run = main(['pledge', '--idevid', join(dir, 'LW-3'), '--registrar', est, '--out', join(dir, 'LW-3-out'), '--json'], {
    env,
    cwd: dir,
    shutdown: stop.signal,
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
  });
  // Wait for the JSON line (bounded by the test timeout), then the registry must agree.
  while (!out.includes('\n')) {
    const settled = await Promise.race([run, new Promise((r) => setTimeout(() => r('wait'), 100))]);
    assert.equal(settled, 'wait', `pledge ended early: ${err}`);
  }
  const result = JSON.parse(out) as { endpoint: string; bootstrap: { uri: string }; registration: { location: string | null } };
  assert.equal(result.endpoint, endpoint);
  assert.match(result.registration.location ?? '', /^\/rd\//);
  assert.doesNotMatch(out + err, /PRIVATE KEY/);
  const registered = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}`);
  assert.equal((registered.body as { registered?: boolean }).registered, true, registered.text);
  stop.abort();
  assert.equal(await run, 0, err);
  const gone = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}`);
  assert.equal((gone.body as { registered?: boolean }).registered, false, gone.text);

  const bad = await runCli(['pledge', '--idevid', join(dir, 'LW-3'), '--registrar', est, '--bootstrap', 'coap://127.0.0.1:5683'], { env, cwd: dir });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--bootstrap: expected coaps:\/\/host:port/);
  const mixed = await runCli(['pledge', '--idevid', join(dir, 'LW-3'), '--registrar', est, '--enroll-only', '--bootstrap', 'coaps://127.0.0.1:5684'], { env, cwd: dir });
  assert.equal(mixed.code, 2, mixed.stderr);
});

test('onboardDevice through a coaps:// registrar (constrained BRSKI) continues into LwM2M bootstrap and registration', async () => {
  const onboarded = await onboardDevice({ idevidDir: join(dir, 'LW-4'), registrarUrl: brskiCoaps, client: { dtlsRetransmit } });
  running.push(onboarded);
  const endpoint = 'urn:dev:ops:Acme-Meter-LW-4';
  assert.equal(onboarded.endpoint, endpoint);
  assert.equal(onboarded.client.registered, true);
  assert.equal(onboarded.bootstrap.uri, await serve.listenerUrl('coaps'));
  const view = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}`);
  assert.equal((view.body as { registered?: boolean }).registered, true, view.text);
  const read = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}/objects/3/0/2`);
  assert.equal(read.status, 200, read.text);
  assert.match(read.text, /LW-4/);
});
