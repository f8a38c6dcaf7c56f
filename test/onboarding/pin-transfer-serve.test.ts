/**
 * Random-PIN owner transfer against rootline serve with our DTLS client on loopback: the right
 * PIN connects as `pin:<id>` (RESET → RFOTM) and the device is then given a permanent PSK it
 * connects with (RFPRO), and its first LwM2M registration with it moves it to RFNOP; five wrong PINs lock another transfer, after which its right PIN no
 * longer connects and the API refuses a new PIN. No PIN appears in the logs or the audit log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { addServerAccount, createLwm2mClient } from '../../src/client/index.js';
import { CoapCode, coapRequest } from '../../src/coap/index.js';
import { connectDtls, dtlsClientTransport } from '../../src/dtls/index.js';
import { PIN_CREDENTIAL_PATH } from '../../src/server/coap-listeners.js';
import { createDevicePin, derivePinPsk } from '../../src/onboarding/pin-transfer.js';
import { loadConfig } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer } from '../../src/server/server.js';
import { runCli } from '../cli/io.js';

interface Transfer {
  id: string;
  endpoint: string;
  salt: string;
  status: string;
  failedAttempts: number;
}

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

test('PIN transfer over CoAPs: right PIN works and fetches a permanent PSK over the PIN session, five wrong PINs lock, the PIN never reaches logs or audit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-pin-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  assert.equal((await runCli(['factory', 'init', '--data', data, '--masa-url', 'https://127.0.0.1/masa', '--manufacturer', 'Acme'], { cwd: dir })).code, 0);
  const configFile = join(dir, 'rootline.json');
  writeFileSync(configFile, JSON.stringify({ onboarding: { masa: true } }));
  const { config, sources } = loadConfig({ configFile, env: {}, flags: { dataDir: data, httpPort: '0', coapPort: '0', coapsPort: '0', estPort: '0', deviceHost: '127.0.0.1' } });
  let logs = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs += chunk.toString('utf8');
      done();
    },
  });
  const server = await startServer(config, { sources, logger: createLogger({ level: 'trace', destination: sink }), coapsDtls: { handshakeTimeoutMs: 1000 } });
  t.after(() => server.close());
  const api = `${server.addresses.http!.url}/api/v1`;
  const port = server.addresses.coaps!.port;
  const retransmit = { initialMs: 200, maxRetransmissions: 1 };
  const pins: string[] = [];

  // 1. The right PIN.
  await server.store.devices.create({ endpoint: 'pin-dev-1', ownershipState: 'RESET' });
  const started = await post(`${api}/onboarding/pin-transfers`, { endpoint: 'pin-dev-1' });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const a = started.body as unknown as Transfer;
  assert.equal(a.status, 'awaiting-pin');
  const device = createDevicePin({ id: a.id, salt: Buffer.from(a.salt, 'hex'), deviceId: 'pin-dev-1' });
  pins.push(device.pin);
  assert.equal(device.identity, `pin:${a.id}`);
  // Before the operator entered the PIN, the identity is unknown.
  await assert.rejects(connectDtls({ host: '127.0.0.1', port, psk: { identity: device.identity, key: device.psk }, retransmit }));
  const entered = await post(`${api}/onboarding/pin-transfers/${a.id}/pin`, { pin: device.pin });
  assert.equal(entered.status, 200, JSON.stringify(entered.body));
  assert.equal(entered.body.status, 'ready');
  const session = await connectDtls({ host: '127.0.0.1', port, psk: { identity: device.identity, key: device.psk }, retransmit });
  for (;;) {
    if ((await server.store.devices.get('pin-dev-1'))?.ownershipState === 'RFOTM') break;
    await new Promise((r) => setImmediate(r));
  }
  // Over that session the device fetches its permanent credential; it connects with it.
  const res = await coapRequest({ uri: `coaps://127.0.0.1:${port}${PIN_CREDENTIAL_PATH}`, method: 'POST', transport: dtlsClientTransport(session), peer: session.peerKey });
  session.close();
  assert.equal(res.code, CoapCode.Changed);
  const got = JSON.parse(Buffer.from(res.payload).toString('utf8')) as { endpoint: string; identity: string; key: string };
  const permanent = { identity: got.identity, key: new Uint8Array(Buffer.from(got.key, 'hex')) };
  assert.equal(got.endpoint, 'pin-dev-1');
  assert.equal(permanent.key.length, 32);
  assert.equal((await server.store.devices.get('pin-dev-1'))?.ownershipState, 'RFPRO');
  assert.deepEqual((await server.store.devices.credentials('pin-dev-1')).map((c) => `${c.kind}:${c.lookup}`), ['psk:pin-dev-1']);
  const again = await connectDtls({ host: '127.0.0.1', port, psk: { identity: permanent.identity, key: permanent.key }, retransmit });
  // Only a pin: session may ask for a credential.
  const refused = await coapRequest({ uri: `coaps://127.0.0.1:${port}${PIN_CREDENTIAL_PATH}`, method: 'POST', transport: dtlsClientTransport(again), peer: again.peerKey });
  assert.equal(refused.code, CoapCode.Forbidden);
  again.close();
  // The one-time PIN identity is spent.
  await assert.rejects(connectDtls({ host: '127.0.0.1', port, psk: { identity: device.identity, key: device.psk }, retransmit }));
  // Its first acknowledged LwM2M registration with that PSK completes onboarding: RFPRO → RFNOP
  // (the same hook as BRSKI devices), audited as the device.
  const client = createLwm2mClient({ endpointName: 'pin-dev-1', device: { manufacturer: 'ACME', modelNumber: 'P-1', serialNumber: 'SN-P1', firmwareVersion: '1.0.0' }, coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } } });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri: `coaps://127.0.0.1:${port}`, security: { mode: 'psk', identity: permanent.identity, key: permanent.key }, lifetime: 600 });
  await client.start();
  for (;;) {
    if ((await server.store.devices.get('pin-dev-1'))?.ownershipState === 'RFNOP') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const provisioned = (await server.store.audit.list({ subject: 'pin-dev-1', action: 'ownership.transition', limit: 100 })).filter((r) => r.details.event === 'provisioned');
  assert.equal(provisioned.length, 1);
  assert.equal(provisioned[0]!.outcome, 'success');
  assert.equal(provisioned[0]!.actor, 'device:pin-dev-1');
  assert.deepEqual([provisioned[0]!.details.from, provisioned[0]!.details.to, provisioned[0]!.details.trigger], ['RFPRO', 'RFNOP', 'lwm2m.registered']);
  // A re-registration leaves it there, with no further record.
  await client.close();
  const reg2 = createLwm2mClient({ endpointName: 'pin-dev-1', device: { manufacturer: 'ACME', modelNumber: 'P-1', serialNumber: 'SN-P1', firmwareVersion: '1.0.0' }, coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } } });
  t.after(() => reg2.close());
  addServerAccount(reg2.tree, { uri: `coaps://127.0.0.1:${port}`, security: { mode: 'psk', identity: permanent.identity, key: permanent.key }, lifetime: 600 });
  const registeredAgain = new Promise((resolve) => server.lwm2m.lwm2m.once('registered', resolve));
  await reg2.start();
  await registeredAgain;
  await reg2.close();
  assert.equal((await server.store.devices.get('pin-dev-1'))?.ownershipState, 'RFNOP');
  assert.equal((await server.store.audit.list({ subject: 'pin-dev-1', action: 'ownership.transition', limit: 100 })).filter((r) => r.details.event === 'provisioned').length, 1);

  // 2. Five wrong PINs lock the transfer.
  await server.store.devices.create({ endpoint: 'pin-dev-2', ownershipState: 'RESET' });
  const b = (await post(`${api}/onboarding/pin-transfers`, { endpoint: 'pin-dev-2' })).body as unknown as Transfer;
  const shown = createDevicePin({ id: b.id, salt: Buffer.from(b.salt, 'hex'), deviceId: 'pin-dev-2' });
  pins.push(shown.pin);
  assert.equal((await post(`${api}/onboarding/pin-transfers/${b.id}/pin`, { pin: shown.pin })).status, 200);
  for (let i = 1; i <= 5; i++) {
    const guess = String((Number(shown.pin) + i) % 10 ** shown.pin.length).padStart(shown.pin.length, '0');
    pins.push(guess);
    const wrongKey = derivePinPsk(guess, Buffer.from(b.salt, 'hex'), 'pin-dev-2');
    await assert.rejects(connectDtls({ host: '127.0.0.1', port, psk: { identity: shown.identity, key: wrongKey }, retransmit }));
    // The server counts the failure when the half-open session ends.
    for (;;) {
      const r = (await (await fetch(`${api}/onboarding/pin-transfers/${b.id}`)).json()) as Transfer;
      if (r.failedAttempts === i) break;
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  const locked = (await (await fetch(`${api}/onboarding/pin-transfers/${b.id}`)).json()) as Transfer;
  assert.equal(locked.status, 'locked');
  await assert.rejects(connectDtls({ host: '127.0.0.1', port, psk: { identity: shown.identity, key: shown.psk }, retransmit }));
  const reenter = await post(`${api}/onboarding/pin-transfers/${b.id}/pin`, { pin: shown.pin });
  assert.equal(reenter.status, 409);
  assert.equal((reenter.body.error as { code: string }).code, 'ERR_API_PIN_TRANSFER_LOCKED');
  assert.equal((await server.store.devices.get('pin-dev-2'))?.ownershipState, 'RESET');
  const lockRecord = (await server.store.audit.list({ subject: 'pin-dev-2', action: 'onboarding.pin-transfer.lock' })).at(-1);
  assert.equal(lockRecord?.outcome, 'deny');
  assert.equal((await server.store.audit.list({ subject: 'pin-dev-2', action: 'onboarding.pin-transfer.attempt' })).length, 5);

  // Neither a PIN nor a derived key in the audit log or the logs.
  const audit = JSON.stringify(await server.store.audit.list({ limit: 1000 }));
  for (const pin of pins) {
    assert.ok(!audit.includes(pin), `PIN ${pin} in the audit log`);
    assert.ok(!logs.includes(pin), `PIN ${pin} in the logs`);
  }
  for (const key of [device.psk, shown.psk, permanent.key]) {
    assert.ok(!audit.includes(Buffer.from(key).toString('hex')) && !audit.includes(Buffer.from(key).toString('base64')));
    assert.ok(!logs.includes(Buffer.from(key).toString('hex')) && !logs.includes(Buffer.from(key).toString('base64')));
  }
  assert.ok(logs.length > 0, 'the logger was used');
});
