/**
 * The device side of Object 5 on its own: the package reader's length and format checks with
 * their Update Result codes, push (Write /5/0/0, Block1) then Update, URI refusals (7, 9), the
 * reset by an empty URI, Update outside Downloaded, an image larger than the spare slot,
 * file-backed slots, and a package server answering 5.03 (temporary) or 4.04 (final).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { FileSlot, FirmwareUpdateError, PackageReader, updateResultFor, type PackageHeader } from '../../src/client/index.js';
import { CoapCode } from '../../src/coap/codec.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport } from '../../src/coap/transport.js';
import { encodePackageHeader } from '../../src/fota/drivers/index.js';
import { lwm2mValue as v } from '../../src/lwm2m/model/node.js';
import { createWorld, type Device } from '../fota/drivers/harness.js';

function collect(maxManifestSize?: number): { reader: PackageReader; manifest: Uint8Array[]; payload: Uint8Array[]; headers: PackageHeader[] } {
  const manifest: Uint8Array[] = [];
  const payload: Uint8Array[] = [];
  const headers: PackageHeader[] = [];
  const reader = new PackageReader(
    {
      manifest: async (h, m) => {
        headers.push(h);
        manifest.push(Uint8Array.from(m));
      },
      payload: async (c) => void payload.push(Uint8Array.from(c)),
    },
    maxManifestSize !== undefined ? { maxManifestSize } : {},
  );
  return { reader, manifest, payload, headers };
}

async function resultOf(work: () => Promise<void> | void): Promise<number> {
  try {
    await work();
  } catch (err) {
    assert.ok(err instanceof FirmwareUpdateError, String(err));
    return updateResultFor(err);
  }
  assert.fail('expected a refusal');
}

test('package reader: any chunking gives the same manifest and payload; lengths and format are checked', async () => {
  const manifest = new Uint8Array(randomBytes(300));
  const payload = new Uint8Array(randomBytes(2000));
  const pkg = Buffer.concat([encodePackageHeader('delta', manifest, payload.length), payload]);
  for (const size of [1, 7, 1024, pkg.length]) {
    const c = collect();
    for (let i = 0; i < pkg.length; i += size) await c.reader.push(pkg.subarray(i, i + size));
    c.reader.finish();
    assert.deepEqual(c.headers, [{ kind: 1, manifestLength: 300, payloadLength: 2000 }]);
    assert.deepEqual(Buffer.concat(c.manifest), Buffer.from(manifest));
    assert.deepEqual(Buffer.concat(c.payload), Buffer.from(payload));
  }
  // Truncated and oversize packages: "5: Integrity check failure".
  const short = collect();
  await short.reader.push(pkg.subarray(0, pkg.length - 1));
  assert.equal(await resultOf(() => short.reader.finish()), 5);
  const long = collect();
  assert.equal(await resultOf(() => long.reader.push(Buffer.concat([pkg, Buffer.from([0])]))), 5);
  // Not ours: "6: Unsupported package type".
  const bad = Buffer.from(pkg);
  bad[0] = 0x58;
  assert.equal(await resultOf(() => collect().reader.push(bad)), 6);
  const version = Buffer.from(pkg);
  version[4] = 2;
  assert.equal(await resultOf(() => collect().reader.push(version)), 6);
  // A manifest the device cannot hold: "3: Out of RAM during downloading process".
  assert.equal(await resultOf(() => collect(200).reader.push(pkg)), 3);
});

function stateOf(d: Device): [unknown, unknown] {
  return [(d.client.tree.get(5, 0, 3) as { value: unknown }).value, (d.client.tree.get(5, 0, 5) as { value: unknown }).value];
}

test('push to /5/0/0, Update, reboot into 2.0.0; URI and state refusals', async (t) => {
  const w = await createWorld(t);
  const d = await w.addDevice('dev-push');
  const updater = d.updater!;
  const full = Buffer.concat([encodePackageHeader('full', w.img2.manifest, w.v2.length), w.v2]);

  // Update before anything was downloaded: Method Not Allowed, nothing changes.
  await assert.rejects(w.lwm2m.execute('dev-push', '/5/0/2'), (err: { code?: string }) => err.code === 'ERR_LWM2M_DEVICE_ERROR');
  assert.deepEqual(stateOf(d), [0, 0]);

  // "9: Unsupported protocol" for a scheme the device cannot fetch; "7: Invalid URI" for junk.
  await w.lwm2m.write('dev-push', '/5/0/1', v.string('http://127.0.0.1/fw/x'));
  await updater.idle();
  assert.deepEqual(stateOf(d), [0, 9]);
  await w.lwm2m.write('dev-push', '/5/0/1', v.string('coaps://'));
  await updater.idle();
  assert.deepEqual(stateOf(d), [0, 7]);
  // An empty URI resets State and Update Result.
  await w.lwm2m.write('dev-push', '/5/0/1', v.string(''));
  assert.deepEqual(stateOf(d), [0, 0]);

  // A truncated push is refused with 5 and leaves the spare slot empty.
  await w.lwm2m.write('dev-push', '/5/0/0', v.opaque(full.subarray(0, full.length - 10)));
  await updater.idle();
  assert.deepEqual(stateOf(d), [0, 5]);
  assert.equal(d.bank.spareImage, undefined);

  await w.lwm2m.write('dev-push', '/5/0/0', v.opaque(full));
  await updater.idle();
  assert.deepEqual(stateOf(d), [2, 0], 'Downloaded');
  assert.equal((d.client.tree.get(5, 0, 7) as { value: unknown }).value, '2.0.0');
  await w.lwm2m.execute('dev-push', '/5/0/2');
  await updater.idle();
  assert.deepEqual(stateOf(d), [0, 1]);
  assert.equal((d.client.tree.get(3, 0, 3) as { value: unknown }).value, '2.0.0');
  assert.equal(d.bank.installed.sequence, w.img2.sequence);
  // The same package again is now a downgrade to the running sequence: "6: Unsupported package type".
  await w.lwm2m.write('dev-push', '/5/0/0', v.opaque(full));
  await updater.idle();
  assert.deepEqual(stateOf(d), [0, 6]);
});

test('an image larger than the spare slot: "2: Not enough flash memory", before any payload is written', async (t) => {
  const w = await createWorld(t);
  const big = new Uint8Array(randomBytes(40 * 1024));
  const img3 = await w.firmware.addImage({ bytes: big, vendor: 'example.com', model: 'TH-1', version: '3.0.0' });
  const d = await w.addDevice('dev-small');
  await w.lwm2m.write('dev-small', '/5/0/0', v.opaque(Buffer.concat([encodePackageHeader('full', img3.manifest, big.length), big])));
  await d.updater!.idle();
  assert.deepEqual(stateOf(d), [0, 2]);
  assert.equal(d.bank.installed.version, '1.0.0');
});

test('Cancel (/5/0/10) in Downloaded: Result 10, State 0, the spare slot emptied; Update is then refused', async (t) => {
  const w = await createWorld(t);
  const d = await w.addDevice('dev-cancel');
  await w.lwm2m.write('dev-cancel', '/5/0/0', v.opaque(Buffer.concat([encodePackageHeader('full', w.img2.manifest, w.v2.length), w.v2])));
  await d.updater!.idle();
  assert.deepEqual(stateOf(d), [2, 0]);
  assert.equal(d.bank.spareImage?.version, '2.0.0');
  await w.lwm2m.execute('dev-cancel', '/5/0/10');
  await d.updater!.idle();
  assert.deepEqual(stateOf(d), [0, 10]);
  assert.equal(d.bank.spareImage, undefined);
  assert.deepEqual(await d.bank.spareSlot.read(0, 16), new Uint8Array(16).fill(0xff), 'the downloaded image is removed');
  await assert.rejects(w.lwm2m.execute('dev-cancel', '/5/0/2'), (err: { code?: string }) => err.code === 'ERR_LWM2M_DEVICE_ERROR');
  assert.equal(d.bank.installed.version, '1.0.0');
});

test('file-backed slot: blank after open, writes and reads at offsets, bounds checked, erase', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-slot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const slot = await FileSlot.open(join(dir, 'slot-b.bin'), 5000);
  t.after(() => slot.close());
  assert.deepEqual(await slot.read(4990, 10), new Uint8Array(10).fill(0xff));
  await slot.write(4096, new Uint8Array([1, 2, 3]));
  assert.deepEqual(await slot.read(4095, 5), new Uint8Array([0xff, 1, 2, 3, 0xff]));
  await assert.rejects(slot.write(4999, new Uint8Array(2)), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(slot.read(0, 5001), { code: 'ERR_INVALID_ARGUMENT' });
  await slot.erase();
  assert.deepEqual(await slot.read(4096, 3), new Uint8Array(3).fill(0xff));
});

test('a 5.03 from the package server is temporary: the download waits Max-Age and goes on (counted as a resume); past maxResumes it is "4", a 4.04 stays "7"', async (t) => {
  const w = await createWorld(t);
  const patient = await w.addDevice('dev-503');
  const impatient = await w.addDevice('dev-503-strict', { maxResumes: 0 });
  const full = Buffer.concat([encodePackageHeader('full', w.img2.manifest, w.v2.length), w.v2]);
  // A NoSec package server of our own: 5.03 (Max-Age 0) for the first two GETs, then the package.
  const transport = await UdpTransport.bind();
  const server = new CoapEndpoint(transport, { transmission: { ackTimeoutMs: 300, maxRetransmit: 3 } });
  t.after(() => server.close());
  const seen = new Map<string, number>();
  server.resource('/fw/*', {
    get: (req) => {
      const name = req.wildcard[0] ?? '';
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      if (name === 'gone') return { code: CoapCode.NotFound };
      if (name === 'busy' || n <= 2) return { code: CoapCode.ServiceUnavailable, maxAge: 0 };
      return { body: { size: full.length, read: (offset: number, length: number) => full.subarray(offset, offset + length) }, etag: new Uint8Array([1, 2, 3, 4]) };
    },
  });
  const base = `coap://127.0.0.1:${transport.local.port}/fw`;

  await w.lwm2m.write('dev-503', '/5/0/1', v.string(`${base}/pkg`));
  await patient.updater!.idle();
  assert.deepEqual(stateOf(patient), [2, 0], 'Downloaded after two 5.03 answers');
  assert.ok((seen.get('pkg') ?? 0) > 2);
  assert.equal((patient.client.tree.get(5, 0, 7) as { value: unknown }).value, '2.0.0');

  await w.lwm2m.write('dev-503-strict', '/5/0/1', v.string(`${base}/busy`));
  await impatient.updater!.idle();
  assert.deepEqual(stateOf(impatient), [0, 4], 'unavailable with no resume allowed: connection lost');
  await w.lwm2m.write('dev-503-strict', '/5/0/1', v.string(`${base}/gone`));
  await impatient.updater!.idle();
  assert.deepEqual(stateOf(impatient), [0, 7], 'a 4.04 is final: invalid URI');
  assert.equal(impatient.bank.spareImage, undefined);
});
