import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { allowedOwnershipEvents, nextOwnershipState, OWNERSHIP_EVENTS, type OwnershipEvent } from '../../src/onboarding/ownership.js';
import { createOwnershipService } from '../../src/onboarding/ownership-service.js';
import { OWNERSHIP_STATES, openSqliteStore, type OwnershipState } from '../../src/store/index.js';

/** The lifecycle written out edge by edge (README diagram), independent of the implementation's table. */
const EDGES: Array<[OwnershipState, OwnershipEvent, OwnershipState]> = [
  ['RESET', 'begin-transfer', 'RFOTM'],
  ['RFOTM', 'owner-established', 'RFPRO'],
  ['RFOTM', 'abort-transfer', 'RESET'],
  ['RFPRO', 'provisioned', 'RFNOP'],
  ['RFNOP', 'reprovision', 'RFPRO'],
  ['SRESET', 'reprovision', 'RFPRO'],
  ['RFPRO', 'soft-reset', 'SRESET'],
  ['RFNOP', 'soft-reset', 'SRESET'],
  ['RFOTM', 'decommission', 'DECOMMISSIONED'],
  ['RFPRO', 'decommission', 'DECOMMISSIONED'],
  ['RFNOP', 'decommission', 'DECOMMISSIONED'],
  ['SRESET', 'decommission', 'DECOMMISSIONED'],
  ['RFOTM', 'hard-reset', 'RESET'],
  ['RFPRO', 'hard-reset', 'RESET'],
  ['RFNOP', 'hard-reset', 'RESET'],
  ['SRESET', 'hard-reset', 'RESET'],
  ['DECOMMISSIONED', 'hard-reset', 'RESET'],
];

describe('ownership lifecycle', () => {
  it('allows exactly the documented edges and refuses every other pair with a typed error', () => {
    for (const from of OWNERSHIP_STATES) {
      for (const event of OWNERSHIP_EVENTS) {
        const edge = EDGES.find(([f, e]) => f === from && e === event);
        if (edge !== undefined) assert.equal(nextOwnershipState(from, event), edge[2], `${from} --${event}-->`);
        else assert.throws(() => nextOwnershipState(from, event), { code: 'ERR_ONBOARDING_ILLEGAL_TRANSITION', from, event }, `${from} --${event}--> must be refused`);
      }
      assert.deepEqual(allowedOwnershipEvents(from), OWNERSHIP_EVENTS.filter((e) => EDGES.some(([f, ev]) => f === from && ev === e)));
    }
    // The onboarding spine and a re-onboarding after decommission.
    const path: OwnershipEvent[] = ['begin-transfer', 'owner-established', 'provisioned', 'decommission', 'hard-reset', 'begin-transfer'];
    assert.equal(path.reduce<OwnershipState>((s, e) => nextOwnershipState(s, e), 'RESET'), 'RFOTM');
    // Hostile input (a state or event from a request body) is refused, not looked up on a prototype.
    assert.throws(() => nextOwnershipState('__proto__' as OwnershipState, 'hard-reset'), { code: 'ERR_ONBOARDING_ILLEGAL_TRANSITION' });
    assert.throws(() => nextOwnershipState('RESET', 'toString' as OwnershipEvent), { code: 'ERR_ONBOARDING_ILLEGAL_TRANSITION' });
  });

  it('property: any event sequence stays inside the state set, and only RESET is reachable from DECOMMISSIONED', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...OWNERSHIP_EVENTS), { maxLength: 30 }), (events) => {
        let state: OwnershipState = 'RESET';
        for (const e of events) {
          try {
            const next = nextOwnershipState(state, e);
            if (state === 'DECOMMISSIONED') assert.equal(next, 'RESET');
            state = next;
          } catch (err) {
            assert.equal((err as { code?: string }).code, 'ERR_ONBOARDING_ILLEGAL_TRANSITION');
          }
          assert.ok(OWNERSHIP_STATES.includes(state));
        }
      }),
    );
  });

  for (const mode of ['update then append', 'updateDeviceAudited'] as const) {
    it(`the service moves store.devices and writes one audit record per decision (${mode})`, async () => {
      const store = await openSqliteStore({ file: ':memory:' });
      try {
        const svc = createOwnershipService({ devices: store.devices, audit: store.audit, ...(mode === 'updateDeviceAudited' ? { updateAudited: store.updateDeviceAudited!.bind(store) } : {}) });
        await store.devices.create({ endpoint: 'dev-1', attributes: { serial: 'SN1' } });
        assert.equal((await svc.transition('dev-1', 'begin-transfer', { actor: 'system', details: { method: 'brski' } })).ownershipState, 'RFOTM');
        await assert.rejects(svc.transition('dev-1', 'provisioned', { actor: 'operator:ann' }), { code: 'ERR_ONBOARDING_ILLEGAL_TRANSITION' });
        assert.equal((await store.devices.get('dev-1'))?.ownershipState, 'RFOTM', 'unchanged after a refusal');
        await assert.rejects(svc.transition('dev-1', 'owner-established', { actor: 'system', expectedState: 'RESET' }), { code: 'ERR_ONBOARDING_STATE_CHANGED' });
        await assert.rejects(svc.transition('nope', 'begin-transfer', { actor: 'system' }), { code: 'ERR_ONBOARDING_UNKNOWN_DEVICE' });
        // Concurrent transitions on one device are applied one after the other.
        const results = await Promise.allSettled([svc.transition('dev-1', 'owner-established', { actor: 'system' }), svc.transition('dev-1', 'owner-established', { actor: 'system' })]);
        assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
        assert.equal((await store.devices.get('dev-1'))?.ownershipState, 'RFPRO');
        const records = await store.audit.list({ action: 'ownership.transition' });
        assert.deepEqual(
          records.map((r) => [r.subject, r.outcome, r.details.event, r.details.from, r.details.to ?? r.details.code]),
          [
            ['dev-1', 'success', 'begin-transfer', 'RESET', 'RFOTM'],
            ['dev-1', 'deny', 'provisioned', 'RFOTM', 'ERR_ONBOARDING_ILLEGAL_TRANSITION'],
            ['dev-1', 'deny', 'owner-established', 'RFOTM', 'ERR_ONBOARDING_STATE_CHANGED'],
            ['nope', 'deny', 'begin-transfer', null, 'ERR_ONBOARDING_UNKNOWN_DEVICE'],
            ['dev-1', 'success', 'owner-established', 'RFOTM', 'RFPRO'],
            ['dev-1', 'deny', 'owner-established', 'RFPRO', 'ERR_ONBOARDING_ILLEGAL_TRANSITION'],
          ],
        );
        assert.equal(records[0]!.details.method, 'brski');
        assert.throws(() => svc.transition('dev-1', 'explode' as OwnershipEvent, { actor: 'system' }), { code: 'ERR_INVALID_ARGUMENT' });
        // An endpoint the store refuses (control character) is still refused with an audit record.
        await assert.rejects(svc.transition('bad\u0001name', 'begin-transfer', { actor: 'system' }), { code: 'ERR_INVALID_ARGUMENT' });
        assert.equal((await store.audit.list({ action: 'ownership.transition' })).at(-1)?.subject, 'bad\ufffdname');
      } finally {
        await store.close();
      }
    });
  }

  it('with updateDeviceAudited, a transition that loses its compare-and-set to another process decides again on the new state', async () => {
    const store = await openSqliteStore({ file: ':memory:' });
    try {
      await store.devices.create({ endpoint: 'dev-1', ownershipState: 'RFPRO' });
      await store.devices.create({ endpoint: 'dev-2', ownershipState: 'RFPRO' });
      // "Another process" moves each device right after this service has read it, once.
      const interfered = new Set<string>();
      const devices = {
        ...store.devices,
        get: async (endpoint: string) => {
          const read = await store.devices.get(endpoint);
          if (!interfered.has(endpoint)) {
            interfered.add(endpoint);
            await store.devices.update(endpoint, { ownershipState: endpoint === 'dev-1' ? 'RFNOP' : 'DECOMMISSIONED' });
          }
          return read;
        },
      };
      const svc = createOwnershipService({ devices, audit: store.audit, updateAudited: store.updateDeviceAudited!.bind(store) });
      // dev-1: read RFPRO, now RFNOP — soft-reset is legal from both, decided on RFNOP.
      assert.equal((await svc.transition('dev-1', 'soft-reset', { actor: 'system' })).ownershipState, 'SRESET');
      // dev-2: read RFPRO, now DECOMMISSIONED — soft-reset is refused, on the state it is in.
      await assert.rejects(svc.transition('dev-2', 'soft-reset', { actor: 'system' }), { code: 'ERR_ONBOARDING_ILLEGAL_TRANSITION' });
      assert.equal((await store.devices.get('dev-2'))?.ownershipState, 'DECOMMISSIONED');
      const records = await store.audit.list({ action: 'ownership.transition' });
      assert.deepEqual(
        records.map((r) => [r.subject, r.outcome, r.details.from, r.details.to ?? r.details.code]),
        [
          ['dev-1', 'success', 'RFNOP', 'SRESET'],
          ['dev-2', 'deny', 'DECOMMISSIONED', 'ERR_ONBOARDING_ILLEGAL_TRANSITION'],
        ],
      );
    } finally {
      await store.close();
    }
  });
});
