/**
 * A real CoAP/DTLS peer registers by hand (issue 4 "Interop"): coap-client-gnutls sends
 * `POST coaps://127.0.0.1:<port>/rd?ep=<ep>&lt=300&lwm2m=1.1&b=U` with `</1/0>,</3/0>,</5/0>`
 * under the device's PSK and gets 2.01 with a Location-Path; the same Register under another
 * device's endpoint name gets 4.03 and leaves an audit record. The server here is built from its
 * parts (DTLS server + CoapEndpoint + LwM2M server + SQLite store); `rootline serve` wires the same.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requirePeer } from '../../helpers/peers.js';
import { run } from '../../coap/helpers/libcoap.js';
import { startPskServer } from '../../client/helpers.js';

const CLIENT = 'coap-client-gnutls';
const skip = requirePeer('libcoap (GnuTLS build)', [CLIENT], 'apt-get install libcoap3-bin');
const KEY = 'secretPSK-0123';

/** Runs coap-client at debug level so the response PDU (code and options) is printed. */
async function coapClient(args: string[]): Promise<{ exit: number | null; response: string }> {
  const r = await run(CLIENT, ['-v', '7', '-B', '10', ...args]);
  const lines = `${r.stdout.toString()}\n${r.stderr}`.split('\n');
  return { exit: r.code, response: lines.find((l) => / t:(ACK|CON|NON) c:[245]\.\d\d /.test(l)) ?? '' };
}

test(`${CLIENT} registers with PSK → 2.01 Location-Path rd/<id>; another device's endpoint → 4.03`, { skip }, async (t) => {
  const server = await startPskServer(t);
  const key = new TextEncoder().encode(KEY);
  await server.addDevice('urn:dev:libcoap-1', 'libcoap-1', key);
  await server.addDevice('urn:dev:other', 'other-psk', new TextEncoder().encode('another-key-000'));
  const base = `${server.uri}/rd`;
  const reg = await coapClient(['-m', 'post', '-u', 'libcoap-1', '-k', KEY, '-e', '</1/0>,</3/0>,</5/0>', `${base}?ep=urn:dev:libcoap-1&lt=300&lwm2m=1.1&b=U`]);
  assert.equal(reg.exit, 0);
  const m = /c:2\.01 .*Location-Path:rd, Location-Path:([A-Za-z0-9_-]+) \]/.exec(reg.response);
  assert.ok(m, `expected 2.01 with Location-Path, got: ${reg.response}`);
  const stored = await server.lwm2m.registration('urn:dev:libcoap-1');
  assert.equal(stored?.id, m[1]);
  assert.equal(stored?.objectLinks, '</1/0>,</3/0>,</5/0>');
  assert.equal(stored?.lifetime, 300);
  assert.equal(stored?.security, 'psk');

  // Update and De-register by hand too (Core §6.2.2, §6.2.3).
  const upd = await coapClient(['-m', 'post', '-u', 'libcoap-1', '-k', KEY, `${base}/${m[1]}?lt=600`]);
  assert.match(upd.response, /c:2\.04 /);
  assert.equal((await server.lwm2m.registration('urn:dev:libcoap-1'))?.lifetime, 600);

  const forged = await coapClient(['-m', 'post', '-u', 'libcoap-1', '-k', KEY, '-e', '</1/0>,</3/0>,</5/0>', `${base}?ep=urn:dev:other&lt=300&lwm2m=1.1&b=U`]);
  assert.match(forged.response, /c:4\.03 /, `expected 4.03, got: ${forged.response}`);
  assert.equal(await server.lwm2m.registration('urn:dev:other'), undefined);
  const deny = (await server.store.audit.list({ subject: 'urn:dev:other' })).find((a) => a.action === 'lwm2m.register');
  assert.equal(deny?.outcome, 'deny');
  assert.equal(deny?.details.credential, 'libcoap-1');

  const del = await coapClient(['-m', 'delete', '-u', 'libcoap-1', '-k', KEY, `${base}/${m[1]}`]);
  assert.match(del.response, /c:2\.02 /);
  assert.equal(await server.lwm2m.registration('urn:dev:libcoap-1'), undefined);
});
