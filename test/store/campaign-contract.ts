/**
 * The CampaignRepository part of the Store contract (registered from contract.ts for SQLite and
 * PostgreSQL): what the campaign engine relies on, above all that compare-and-set updates let
 * exactly one of several concurrent deciders win.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoreBackend } from './contract.js';
import { openFreshStore } from './harness.js';

const SPEC = { waves: ['10%', 'all'], nested: { a: [1, 'x', null] } };

export function registerCampaignContract(backend: StoreBackend): void {
  test('campaigns: create, get, list by state, and duplicate ids refused', async (t) => {
    const { store } = await openFreshStore(t, backend);
    const c = await store.campaigns.create({ id: 'c-1', name: 'Spring', firmwareId: 'fw-2', spec: SPEC, createdBy: 'operator:ann' }, { type: 'campaign.created', details: { by: 'ann' } });
    assert.equal(c.state, 'draft');
    assert.equal(c.revision, 1);
    assert.deepEqual(c.progress, {});
    assert.equal(c.stateReason, null);
    assert.deepEqual(await store.campaigns.get('c-1'), c);
    assert.equal(await store.campaigns.get('nope'), undefined);
    await assert.rejects(store.campaigns.create({ id: 'c-1', name: 'again', firmwareId: 'fw', spec: {}, createdBy: 'x' }), { code: 'ERR_STORE_CONFLICT' });
    await store.campaigns.create({ id: 'c-2', name: 'B', firmwareId: 'fw', spec: {}, createdBy: 'x', state: 'running' });
    await store.campaigns.create({ id: 'c-0', name: 'A', firmwareId: 'fw', spec: {}, createdBy: 'x', state: 'paused' });
    assert.deepEqual((await store.campaigns.list()).map((x) => x.id), ['c-0', 'c-1', 'c-2']);
    assert.deepEqual((await store.campaigns.list({ state: ['running', 'paused'] })).map((x) => x.id), ['c-0', 'c-2']);
    assert.deepEqual((await store.campaigns.list({ after: 'c-0', limit: 1 })).map((x) => x.id), ['c-1']);
    const events = await store.campaigns.listEvents('c-1');
    assert.deepEqual(events.map((e) => [e.type, e.endpoint, e.details]), [['campaign.created', null, { by: 'ann' }]]);
  });

  test('campaigns: update is compare-and-set on the revision and appends its event atomically', async (t) => {
    const { store } = await openFreshStore(t, backend);
    await store.campaigns.create({ id: 'c', name: 'n', firmwareId: 'fw', spec: SPEC, createdBy: 'x' });
    const u = await store.campaigns.update('c', 1, { state: 'running', progress: { wave: 0 }, stateReason: 'started' }, { type: 'campaign.state', details: { to: 'running' } });
    assert.equal(u.revision, 2);
    assert.equal(u.state, 'running');
    assert.deepEqual(u.spec, SPEC);
    assert.deepEqual(await store.campaigns.get('c'), u);
    await assert.rejects(store.campaigns.update('c', 1, { state: 'paused' }, { type: 'campaign.state' }), { code: 'ERR_STORE_CONFLICT' });
    await assert.rejects(store.campaigns.update('missing', 1, { state: 'paused' }), { code: 'ERR_STORE_NOT_FOUND' });
    assert.equal((await store.campaigns.get('c'))?.state, 'running');
    // The refused update's event was not written.
    assert.deepEqual((await store.campaigns.listEvents('c')).map((e) => e.type), ['campaign.state']);
  });

  test('campaigns: concurrent updates from two stores on one revision: exactly one wins', async (t) => {
    const { store, second } = await openFreshStore(t, backend);
    const other = await second();
    await store.campaigns.create({ id: 'c', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x' });
    const results = await Promise.allSettled([
      store.campaigns.update('c', 1, { state: 'running' }),
      other.campaigns.update('c', 1, { state: 'cancelled' }),
      store.campaigns.update('c', 1, { state: 'approved' }),
      other.campaigns.update('c', 1, { state: 'paused' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'ERR_STORE_CONFLICT');
    assert.equal((await store.campaigns.get('c'))?.revision, 2);
  });

  test('campaign devices: addDevices numbers positions, keeps existing rows, filters and counts', async (t) => {
    const { store } = await openFreshStore(t, backend);
    await assert.rejects(store.campaigns.addDevices('none', [{ endpoint: 'd', wave: 0, fromVersion: null }]), { code: 'ERR_STORE_NOT_FOUND' });
    await store.campaigns.create({ id: 'c', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x' });
    const first = await store.campaigns.addDevices('c', [
      { endpoint: 'd-b', wave: 0, fromVersion: '1.0.0' },
      { endpoint: 'd-a', wave: 1, fromVersion: null },
    ]);
    assert.deepEqual(first.map((d) => [d.endpoint, d.position, d.wave, d.status, d.attempt]), [['d-b', 1, 0, 'pending', 0], ['d-a', 2, 1, 'pending', 0]]);
    const second = await store.campaigns.addDevices('c', [
      { endpoint: 'd-a', wave: 0, fromVersion: '9' },
      { endpoint: 'd-c', wave: 1, fromVersion: '1.0.0', status: 'skipped', failure: 'already-current' },
    ]);
    assert.deepEqual(second.map((d) => [d.endpoint, d.position]), [['d-c', 3]]);
    assert.deepEqual(await store.campaigns.getDevice('c', 'd-a'), first[1]);
    assert.deepEqual((await store.campaigns.listDevices('c')).map((d) => d.endpoint), ['d-b', 'd-a', 'd-c']);
    assert.deepEqual((await store.campaigns.listDevices('c', { status: 'pending' })).map((d) => d.endpoint), ['d-b', 'd-a']);
    assert.deepEqual((await store.campaigns.listDevices('c', { maxWave: 0 })).map((d) => d.endpoint), ['d-b']);
    assert.deepEqual((await store.campaigns.listDevices('c', { after: 1, limit: 1 })).map((d) => d.endpoint), ['d-a']);
    assert.deepEqual(await store.campaigns.countDevices('c'), [
      { wave: 0, status: 'pending', count: 1 },
      { wave: 1, status: 'pending', count: 1 },
      { wave: 1, status: 'skipped', count: 1 },
    ]);
    assert.deepEqual((await store.campaigns.devicesByEndpoint('d-c')).map((d) => [d.campaignId, d.failure]), [['c', 'already-current']]);
  });

  test('campaign devices: updateDevice applies only on the expected status and attempt', async (t) => {
    const { store } = await openFreshStore(t, backend);
    await store.campaigns.create({ id: 'c', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x' });
    await store.campaigns.addDevices('c', [{ endpoint: 'd', wave: 0, fromVersion: '1.0.0' }]);
    const due = '2026-03-01T10:00:00.000Z';
    const started = await store.campaigns.updateDevice('c', 'd', { status: 'pending', attempt: 0 }, { status: 'in-flight', attempt: 1, packageKind: 'delta', dueAt: due }, { endpoint: 'd', type: 'device.attempt', details: { attempt: 1 } });
    assert.equal(started?.status, 'in-flight');
    assert.equal(started?.attempt, 1);
    assert.equal(started?.dueAt, due);
    assert.deepEqual(await store.campaigns.getDevice('c', 'd'), started);
    // The same decision again (a second node, a replay after restart) is refused.
    assert.equal(await store.campaigns.updateDevice('c', 'd', { status: 'pending', attempt: 0 }, { status: 'in-flight', attempt: 1 }, { endpoint: 'd', type: 'device.attempt' }), undefined);
    const reported = await store.campaigns.updateDevice('c', 'd', { status: 'in-flight', attempt: 1 }, { fwState: 1, progress: 40, updateResult: 0 });
    assert.deepEqual([reported?.fwState, reported?.progress, reported?.updateResult, reported?.packageKind], [1, 40, 0, 'delta']);
    assert.deepEqual((await store.campaigns.listDevices('c', { dueBy: '2026-03-01T09:59:59.999Z' })).length, 0);
    assert.deepEqual((await store.campaigns.listDevices('c', { dueBy: due })).map((d) => d.endpoint), ['d']);
    await assert.rejects(store.campaigns.updateDevice('c', 'ghost', { status: 'pending', attempt: 0 }, { status: 'failed' }), { code: 'ERR_STORE_NOT_FOUND' });
    const events = await store.campaigns.listEvents('c', { endpoint: 'd' });
    assert.deepEqual(events.map((e) => [e.type, e.details]), [['device.attempt', { attempt: 1 }]]);
  });

  test('campaign devices: concurrent compare-and-set from two stores starts a device once', async (t) => {
    const { store, second } = await openFreshStore(t, backend);
    const other = await second();
    await store.campaigns.create({ id: 'c', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x' });
    await store.campaigns.addDevices('c', [{ endpoint: 'd', wave: 0, fromVersion: null }]);
    const tries = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : other).campaigns.updateDevice(
      'c', 'd', { status: 'pending', attempt: 0 }, { status: 'in-flight', attempt: 1 }, { endpoint: 'd', type: 'device.attempt', details: { by: i } },
    ));
    const results = await Promise.all(tries);
    assert.equal(results.filter((r) => r !== undefined).length, 1);
    assert.equal((await store.campaigns.listEvents('c')).length, 1);
  });

  test('campaign events: paging, per-device filter, and delete removes everything', async (t) => {
    const { store } = await openFreshStore(t, backend);
    await store.campaigns.create({ id: 'c', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x' });
    await store.campaigns.addDevices('c', [{ endpoint: 'd', wave: 0, fromVersion: null }]);
    await assert.rejects(store.campaigns.appendEvent('none', { type: 'x' }), { code: 'ERR_STORE_NOT_FOUND' });
    const a = await store.campaigns.appendEvent('c', { type: 'wave.started', details: { wave: 0 } });
    const b = await store.campaigns.appendEvent('c', { endpoint: 'd', type: 'device.report', details: { state: 1 } });
    assert.ok(b.id > a.id);
    assert.deepEqual((await store.campaigns.listEvents('c', { after: a.id })).map((e) => e.id), [b.id]);
    assert.deepEqual((await store.campaigns.listEvents('c', { endpoint: 'd' })).map((e) => e.type), ['device.report']);
    assert.deepEqual((await store.campaigns.listEvents('c', { limit: 1 })).map((e) => e.id), [a.id]);
    assert.equal(await store.campaigns.delete('c'), true);
    assert.equal(await store.campaigns.delete('c'), false);
    assert.deepEqual(await store.campaigns.devicesByEndpoint('d'), []);
    assert.deepEqual(await store.campaigns.listEvents('c'), []);
    await assert.rejects(store.campaigns.appendEvent('c', { type: 'x' }), { code: 'ERR_STORE_NOT_FOUND' });
  });

  test('campaigns: bad arguments are ERR_INVALID_ARGUMENT naming the field', async (t) => {
    const { store } = await openFreshStore(t, backend);
    await store.campaigns.create({ id: 'c', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x' });
    await store.campaigns.addDevices('c', [{ endpoint: 'd', wave: 0, fromVersion: null }]);
    const bad: Array<[Promise<unknown>, RegExp]> = [
      [store.campaigns.create({ id: '', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x' }), /campaign\.id/],
      [store.campaigns.create({ id: 'x', name: 'n', firmwareId: 'fw', spec: [] as never, createdBy: 'x' }), /campaign\.spec/],
      [store.campaigns.create({ id: 'x', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x', state: 'done' as never }), /campaign\.state/],
      [store.campaigns.create({ id: 'x', name: 'n', firmwareId: 'fw', spec: {}, createdBy: 'x', extra: 1 } as never), /campaign\.extra/],
      [store.campaigns.update('c', 0, {}), /expectedRevision/],
      [store.campaigns.addDevices('c', [{ endpoint: 'e', wave: -1, fromVersion: null }]), /devices\[0\]\.wave/],
      [store.campaigns.addDevices('c', [{ endpoint: 'e', wave: 0, fromVersion: null }, { endpoint: 'e', wave: 0, fromVersion: null }]), /devices\[1\]\.endpoint/],
      [store.campaigns.updateDevice('c', 'd', { status: 'pending', attempt: 0 }, { fwState: 4 }), /patch\.fwState/],
      [store.campaigns.updateDevice('c', 'd', { status: 'pending', attempt: 0 }, { progress: 101 }), /patch\.progress/],
      [store.campaigns.updateDevice('c', 'd', { status: 'pending', attempt: 0 }, { dueAt: '2026-01-01' }), /patch\.dueAt/],
      [store.campaigns.updateDevice('c', 'd', { status: 'nope' as never, attempt: 0 }, {}), /expect\.status/],
      [store.campaigns.listDevices('c', { limit: 0 }), /query\.limit/],
      [store.campaigns.appendEvent('c', { type: 'a\u0001b' }), /event\.type/],
    ];
    for (const [p, name] of bad) await assert.rejects(p, (err: { code?: string; message?: string }) => err.code === 'ERR_INVALID_ARGUMENT' && name.test(err.message ?? ''));
    assert.equal((await store.campaigns.getDevice('c', 'd'))?.fwState, null);
  });
}
