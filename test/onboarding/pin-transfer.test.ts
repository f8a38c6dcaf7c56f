/**
 * The PIN transfer service on its own: PSK derivation (both sides agree, any input change gives
 * another key), the RESET precondition, durable attempt counting across a service restart,
 * expiry, and the steps refused out of order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOwnershipService } from '../../src/onboarding/ownership-service.js';
import { createDevicePin, createPinTransferService, derivePinPsk, type PinTransferServiceOptions } from '../../src/onboarding/pin-transfer.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';

function service(store: Store, extra: Partial<PinTransferServiceOptions> = {}) {
  const bound: Array<{ endpoint: string; identity: string }> = [];
  const svc = createPinTransferService({
    settings: store.settings,
    devices: store.devices,
    audit: store.audit,
    ownership: createOwnershipService({ devices: store.devices, audit: store.audit }),
    bindPsk: async (endpoint, identity) => {
      bound.push({ endpoint, identity });
    },
    ...extra,
  });
  return { svc, bound };
}

describe('PIN transfer service', () => {
  it('derives one PSK on both sides, a different one for any other PIN, salt or device', () => {
    const salt = new Uint8Array(16).fill(7);
    const k = derivePinPsk('12345678', salt, 'dev');
    assert.equal(k.length, 32);
    assert.deepEqual(derivePinPsk('12345678', salt, 'dev'), k);
    assert.notDeepEqual(derivePinPsk('12345679', salt, 'dev'), k);
    assert.notDeepEqual(derivePinPsk('12345678', new Uint8Array(16).fill(8), 'dev'), k);
    assert.notDeepEqual(derivePinPsk('12345678', salt, 'dev2'), k);
    assert.throws(() => derivePinPsk('12ab5678', salt, 'dev'), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => derivePinPsk('12345678', new Uint8Array(8), 'dev'), { code: 'ERR_INVALID_ARGUMENT' });
    const shown = createDevicePin({ id: 'x', salt, deviceId: 'dev' }, 8);
    assert.match(shown.pin, /^[0-9]{8}$/);
    assert.deepEqual(shown.psk, derivePinPsk(shown.pin, salt, 'dev'));
  });

  it('starts only from RESET, counts failures durably across a restart, and locks at the limit', async () => {
    const store = await openSqliteStore({ file: ':memory:' });
    try {
      await store.devices.create({ endpoint: 'owned', ownershipState: 'RFNOP' });
      await store.devices.create({ endpoint: 'd1', ownershipState: 'RESET', attributes: { serialNumber: 'SN-9' } });
      const { svc } = service(store, { maxAttempts: 3 });
      await assert.rejects(svc.start({ endpoint: 'owned', actor: 'operator:a' }), { code: 'ERR_ONBOARDING_PIN_TRANSFER_STATE' });
      await assert.rejects(svc.start({ endpoint: 'none', actor: 'operator:a' }), { code: 'ERR_ONBOARDING_UNKNOWN_DEVICE' });
      const t = await svc.start({ serial: 'SN-9', actor: 'operator:a' });
      assert.equal(t.endpoint, 'd1');
      const identity = `pin:${t.id}`;
      assert.equal(await svc.lookupPsk(identity), undefined, 'no key before the PIN is entered');
      const shown = createDevicePin({ id: t.id, salt: Buffer.from(t.salt, 'hex'), deviceId: 'd1' });
      await svc.enterPin(t.id, shown.pin, 'operator:a');
      assert.deepEqual(await svc.lookupPsk(identity), shown.psk);
      await svc.handshakeFailed(identity, 'p');
      await svc.handshakeFailed(identity, 'p');
      // A restarted service reads the count from the store; the operator enters the PIN again.
      const { svc: restarted } = service(store, { maxAttempts: 3 });
      assert.equal((await restarted.get(t.id)).failedAttempts, 2);
      await restarted.enterPin(t.id, shown.pin, 'operator:a');
      await restarted.handshakeFailed(identity, 'p');
      assert.equal((await restarted.get(t.id)).status, 'locked');
      assert.equal(await restarted.lookupPsk(identity), undefined);
      await assert.rejects(restarted.enterPin(t.id, shown.pin, 'operator:a'), { code: 'ERR_ONBOARDING_PIN_TRANSFER_LOCKED' });
      await assert.rejects(restarted.issueCredential(identity), { code: 'ERR_ONBOARDING_PIN_TRANSFER_STATE' });
      await assert.rejects(restarted.get('00000000-0000-0000-0000-000000000000'), { code: 'ERR_ONBOARDING_PIN_TRANSFER_NOT_FOUND' });
    } finally {
      await store.close();
    }
  });

  it('expires an unfinished transfer', async () => {
    const store = await openSqliteStore({ file: ':memory:' });
    try {
      await store.devices.create({ endpoint: 'd2', ownershipState: 'RESET' });
      let at = new Date('2026-01-01T00:00:00Z');
      const { svc } = service(store, { ttlSeconds: 60, now: () => at });
      const t = await svc.start({ endpoint: 'd2', actor: 'operator:a' });
      const shown = createDevicePin({ id: t.id, salt: Buffer.from(t.salt, 'hex'), deviceId: 'd2' });
      await svc.enterPin(t.id, shown.pin, 'operator:a');
      at = new Date('2026-01-01T00:01:01Z');
      assert.equal(await svc.lookupPsk(`pin:${t.id}`), undefined);
      assert.equal((await svc.get(t.id)).status, 'expired');
      await assert.rejects(svc.enterPin(t.id, shown.pin, 'operator:a'), { code: 'ERR_ONBOARDING_PIN_TRANSFER_STATE' });
    } finally {
      await store.close();
    }
  });
});
