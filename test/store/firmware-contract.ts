/**
 * The FirmwareRepository part of the Store contract (registered from contract.ts for SQLite and
 * PostgreSQL): sequence numbers are never handed out twice, not even after deletes or by
 * concurrent stores, and the uniqueness rules the firmware service relies on hold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewFirmwareImage } from '../../src/store/firmware-types.js';
import type { StoreBackend } from './contract.js';
import { openFreshStore } from './harness.js';

function image(overrides: Partial<NewFirmwareImage> = {}): NewFirmwareImage {
  return {
    id: 'fw-1',
    vendor: 'example.com',
    model: 'TH-1',
    version: '1.0.0',
    sequence: 1,
    size: 1234,
    sha256: 'ab'.repeat(32),
    manifest: Uint8Array.of(0xd8, 0x6b, 0xa0),
    attributes: { notes: 'first', list: [1, 'x'] },
    ...overrides,
  };
}

export function registerFirmwareContract(backend: StoreBackend): void {
  test('firmware: create, get, findByVersion, list, countBySha256 and delete round-trip every field', async (t) => {
    const { store } = await openFreshStore(t, backend);
    const a = await store.firmware.create(image());
    assert.ok(!Number.isNaN(Date.parse(a.createdAt)));
    assert.deepEqual(await store.firmware.get('fw-1'), a);
    assert.deepEqual(a.manifest, Uint8Array.of(0xd8, 0x6b, 0xa0));
    assert.deepEqual(a.attributes, { notes: 'first', list: [1, 'x'] });
    assert.deepEqual(await store.firmware.findByVersion('example.com', 'TH-1', '1.0.0'), a);
    assert.equal(await store.firmware.findByVersion('example.com', 'TH-1', '9.9.9'), undefined);
    await store.firmware.create(image({ id: 'fw-2', version: '1.1.0', sequence: 2, sha256: 'cd'.repeat(32) }));
    await store.firmware.create(image({ id: 'fw-3', model: 'TH-0', version: '1.0.0', sequence: 1 }));
    assert.deepEqual((await store.firmware.list()).map((r) => r.id), ['fw-3', 'fw-1', 'fw-2']);
    assert.deepEqual((await store.firmware.list({ model: 'TH-1' })).map((r) => r.id), ['fw-1', 'fw-2']);
    assert.deepEqual((await store.firmware.list({ model: 'TH-1', limit: 1, offset: 1 })).map((r) => r.id), ['fw-2']);
    assert.equal(await store.firmware.countBySha256('ab'.repeat(32)), 2);
    assert.equal(await store.firmware.delete('fw-1'), true);
    assert.equal(await store.firmware.delete('fw-1'), false);
    assert.equal(await store.firmware.get('fw-1'), undefined);
    assert.equal(await store.firmware.countBySha256('ab'.repeat(32)), 1);
  });

  test('firmware: duplicate id, version or sequence per model is ERR_STORE_CONFLICT; other models are independent', async (t) => {
    const { store } = await openFreshStore(t, backend);
    await store.firmware.create(image());
    await assert.rejects(store.firmware.create(image({ version: '2.0.0', sequence: 2 })), { code: 'ERR_STORE_CONFLICT' });
    await assert.rejects(store.firmware.create(image({ id: 'fw-x', sequence: 2 })), { code: 'ERR_STORE_CONFLICT' });
    await assert.rejects(store.firmware.create(image({ id: 'fw-y', version: '2.0.0' })), { code: 'ERR_STORE_CONFLICT' });
    await store.firmware.create(image({ id: 'fw-z', model: 'TH-2' }));
    await store.firmware.create(image({ id: 'fw-w', vendor: 'other.example' }));
  });

  test('firmware: nextSequence counts per (vendor, model), survives deletes, and is unique across concurrent stores', async (t) => {
    const { store, second } = await openFreshStore(t, backend);
    assert.equal(await store.firmware.nextSequence('example.com', 'TH-1'), 1);
    assert.equal(await store.firmware.nextSequence('example.com', 'TH-1'), 2);
    assert.equal(await store.firmware.nextSequence('example.com', 'TH-2'), 1);
    await store.firmware.create(image({ sequence: 3 }));
    await store.firmware.delete('fw-1');
    assert.equal(await store.firmware.nextSequence('example.com', 'TH-1'), 3);
    const other = await second();
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).firmware.nextSequence('example.com', 'TH-3')));
    assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
  });

  test('firmware: bad arguments are ERR_INVALID_ARGUMENT', async (t) => {
    const { store } = await openFreshStore(t, backend);
    await assert.rejects(store.firmware.create(image({ sha256: 'AB'.repeat(32) })), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(store.firmware.create(image({ sequence: 0 })), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(store.firmware.create(image({ manifest: new Uint8Array(0) })), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(store.firmware.create(image({ model: '' })), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(store.firmware.list({ limit: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(store.firmware.nextSequence('example.com', 'a\u0000b'), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(store.firmware.countBySha256('xyz'), { code: 'ERR_INVALID_ARGUMENT' });
  });
}
