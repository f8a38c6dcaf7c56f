/**
 * createLwm2mClient with some Device fields: the missing ones get the documented defaults, the
 * given ones are checked and a bad one is refused with ERR_INVALID_ARGUMENT naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLwm2mClient, type DeviceInit } from '../../src/client/index.js';

function value(client: ReturnType<typeof createLwm2mClient>, r: number): unknown {
  return (client.tree.get(3, 0, r) as { value: unknown } | undefined)?.value;
}

test('a partial device gets defaults for the fields left out', async (t) => {
  const client = createLwm2mClient({ endpointName: 'urn:dev:partial', device: { manufacturer: 'x' } });
  t.after(() => client.close());
  assert.equal(value(client, 0), 'x');
  assert.equal(value(client, 1), 'sdk');
  assert.equal(value(client, 2), 'urn:dev:partial');
  assert.equal(value(client, 3), '0.0.0');
  assert.equal(value(client, 16), 'UQ');
});

test('no device at all: the same defaults', async (t) => {
  const client = createLwm2mClient({ endpointName: 'urn:dev:none' });
  t.after(() => client.close());
  assert.deepEqual([0, 1, 2, 3, 16].map((r) => value(client, r)), ['rootline', 'sdk', 'urn:dev:none', '0.0.0', 'UQ']);
});

test('given fields are kept, optional ones included', async (t) => {
  const client = createLwm2mClient({ endpointName: 'e', device: { serialNumber: 'SN-9', batteryLevel: 40, supportedBindings: 'U' } });
  t.after(() => client.close());
  assert.equal(value(client, 2), 'SN-9');
  assert.equal(value(client, 9), 40);
  assert.equal(value(client, 16), 'U');
  assert.equal(value(client, 0), 'rootline');
});

test('a bad given field is refused with a typed error naming it', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ manufacturer: 5 }, 'device.manufacturer'],
    [{ modelNumber: null }, 'device.modelNumber'],
    [{ batteryLevel: 101 }, 'device.batteryLevel'],
    [{ batteryLevel: 1.5 }, 'device.batteryLevel'],
    [{ memoryFree: -1 }, 'device.memoryFree'],
    [{ supportedBindings: 'X' }, 'device.supportedBindings'],
    [{ clock: 5 }, 'device.clock'],
    [{ manufactuer: 'typo' }, 'device.manufactuer'],
  ];
  for (const [device, field] of cases) {
    assert.throws(() => createLwm2mClient({ endpointName: 'e', device: device as Partial<DeviceInit> }), (err: unknown) => {
      const e = err as { code?: string; argument?: string; message: string };
      assert.equal(e.code, 'ERR_INVALID_ARGUMENT', `${JSON.stringify(device)}: ${e.message}`);
      assert.equal(e.argument, field);
      assert.ok(e.message.startsWith(`${field}:`), e.message);
      return true;
    }, JSON.stringify(device));
  }
});
