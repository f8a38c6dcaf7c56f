/**
 * OwnershipService.deviceRegistered: the one RFPRO → RFNOP move on a first acknowledged LwM2M
 * registration, for every owner-transfer method (BRSKI, random PIN, just-works) and for a device
 * that came back from SRESET by `reprovision`; idempotent; SRESET / DECOMMISSIONED never move.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { createJustWorksService } from '../../src/onboarding/just-works.js';
import { createOwnershipService } from '../../src/onboarding/ownership-service.js';
import { createDevicePin, createPinTransferService } from '../../src/onboarding/pin-transfer.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await openSqliteStore({ file: ':memory:' });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

const transitions = async (store: Store, subject: string) => (await store.audit.list({ action: 'ownership.transition', subject, limit: 100 })).map((r) => [r.outcome, r.details.event, r.details.from, r.details.to ?? r.details.code, r.actor]);

describe('ownership: first registration completes provisioning', () => {
  it('a random-PIN device moves RFPRO → RFNOP once, audited as the device, and a second registration is a no-op', async () => {
    await withStore(async (store) => {
      const ownership = createOwnershipService({ devices: store.devices, audit: store.audit });
      const pins = createPinTransferService({ settings: store.settings, devices: store.devices, audit: store.audit, ownership, bindPsk: async () => {} });
      await store.devices.create({ endpoint: 'pin-1' });
      const t = await pins.start({ endpoint: 'pin-1', actor: 'operator:ann' });
      const device = createDevicePin({ id: t.id, salt: Buffer.from(t.salt, 'hex'), deviceId: 'pin-1' });
      await pins.enterPin(t.id, device.pin, 'operator:ann');
      await pins.handshakeSucceeded(device.identity, '127.0.0.1:1');
      await pins.issueCredential(device.identity);
      assert.equal((await store.devices.get('pin-1'))?.ownershipState, 'RFPRO');

      // Two registered events racing (a quick re-registration): one moves, the other sees RFNOP.
      const outcomes = await Promise.all([ownership.deviceRegistered('pin-1'), ownership.deviceRegistered('pin-1')]);
      assert.deepEqual(outcomes, ['provisioned', 'unchanged']);
      assert.equal((await store.devices.get('pin-1'))?.ownershipState, 'RFNOP');
      assert.equal(await ownership.deviceRegistered('pin-1'), 'unchanged');
      const records = await transitions(store, 'pin-1');
      assert.deepEqual(records.at(-1), ['success', 'provisioned', 'RFPRO', 'RFNOP', 'device:pin-1']);
      assert.equal(records.filter((r) => r[1] === 'provisioned').length, 1, 'one record, no deny for the racing event');
      const last = (await store.audit.list({ action: 'ownership.transition', subject: 'pin-1', limit: 100 })).at(-1);
      assert.equal(last?.details.trigger, 'lwm2m.registered');
    });
  });

  it('a just-works device moves RFPRO → RFNOP on its first registration', async () => {
    await withStore(async (store) => {
      const ownership = createOwnershipService({ devices: store.devices, audit: store.audit });
      const jw = createJustWorksService({ settings: store.settings, devices: store.devices, audit: store.audit, ownership });
      await store.devices.create({ endpoint: 'jw-1' });
      const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
      await jw.keySeen(spki);
      const [seen] = await jw.pending();
      await jw.approve({ fingerprint: seen!.fingerprint, endpoint: 'jw-1', actor: 'operator:ann' });
      assert.equal((await store.devices.get('jw-1'))?.ownershipState, 'RFPRO');
      assert.equal(await ownership.deviceRegistered('jw-1', { trigger: 'test' }), 'provisioned');
      assert.equal((await store.devices.get('jw-1'))?.ownershipState, 'RFNOP');
      assert.deepEqual((await transitions(store, 'jw-1')).at(-1), ['success', 'provisioned', 'RFPRO', 'RFNOP', 'device:jw-1']);
    });
  });

  it('a BRSKI device records its method; SRESET and DECOMMISSIONED are refused (audited) and stay; RESET/RFOTM/unknown are left alone silently', async () => {
    await withStore(async (store) => {
      const ownership = createOwnershipService({ devices: store.devices, audit: store.audit });
      await store.devices.create({ endpoint: 'b-1', ownershipState: 'RFPRO', attributes: { onboarding: 'brski' } });
      assert.equal(await ownership.deviceRegistered('b-1'), 'provisioned');
      assert.equal((await store.audit.list({ action: 'ownership.transition', subject: 'b-1' })).at(-1)?.details.method, 'brski');

      for (const state of ['SRESET', 'DECOMMISSIONED'] as const) {
        const ep = `x-${state}`;
        await store.devices.create({ endpoint: ep, ownershipState: state });
        assert.equal(await ownership.deviceRegistered(ep), 'refused');
        assert.equal((await store.devices.get(ep))?.ownershipState, state, `${state} is not moved by a registration`);
        assert.deepEqual(await transitions(store, ep), [['deny', 'provisioned', state, 'ERR_ONBOARDING_ILLEGAL_TRANSITION', `device:${ep}`]]);
      }
      for (const state of ['RESET', 'RFOTM'] as const) {
        const ep = `y-${state}`;
        await store.devices.create({ endpoint: ep, ownershipState: state });
        assert.equal(await ownership.deviceRegistered(ep), 'unchanged');
        assert.equal((await store.devices.get(ep))?.ownershipState, state);
        assert.deepEqual(await transitions(store, ep), []);
      }
      assert.equal(await ownership.deviceRegistered('nobody'), 'unchanged');
      assert.throws(() => ownership.deviceRegistered(''), { code: 'ERR_INVALID_ARGUMENT' });
    });
  });

  it('SRESET →reprovision→ RFPRO, then the next registration ends in RFNOP (the model: SRESET has no edge to RFNOP of its own)', async () => {
    await withStore(async (store) => {
      const ownership = createOwnershipService({ devices: store.devices, audit: store.audit });
      await store.devices.create({ endpoint: 's-1', ownershipState: 'RFNOP' });
      await ownership.transition('s-1', 'soft-reset', { actor: 'operator:ann' });
      assert.equal(await ownership.deviceRegistered('s-1'), 'refused');
      assert.equal((await store.devices.get('s-1'))?.ownershipState, 'SRESET');
      await ownership.transition('s-1', 'reprovision', { actor: 'operator:ann', expectedState: 'SRESET' });
      assert.equal(await ownership.deviceRegistered('s-1'), 'provisioned');
      assert.equal((await store.devices.get('s-1'))?.ownershipState, 'RFNOP');
      assert.deepEqual(
        (await transitions(store, 's-1')).map((r) => [r[0], r[1], r[2], r[3]]),
        [
          ['success', 'soft-reset', 'RFNOP', 'SRESET'],
          ['deny', 'provisioned', 'SRESET', 'ERR_ONBOARDING_ILLEGAL_TRANSITION'],
          ['success', 'reprovision', 'SRESET', 'RFPRO'],
          ['success', 'provisioned', 'RFPRO', 'RFNOP'],
        ],
      );
    });
  });

  it('a decommission queued before the registration wins: the device is not moved to RFNOP', async () => {
    await withStore(async (store) => {
      const ownership = createOwnershipService({ devices: store.devices, audit: store.audit });
      await store.devices.create({ endpoint: 'd-1', ownershipState: 'RFPRO' });
      const [, outcome] = await Promise.all([ownership.transition('d-1', 'decommission', { actor: 'operator:ann' }), ownership.deviceRegistered('d-1')]);
      assert.equal(outcome, 'refused');
      assert.equal((await store.devices.get('d-1'))?.ownershipState, 'DECOMMISSIONED');
    });
  });
});
