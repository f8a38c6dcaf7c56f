/**
 * `onboardDevice` checks its own arguments before any network traffic (an LDevID must not be
 * issued for a call that would then fail on a typo): every case below names a registrar nobody
 * listens on, so reaching the network would end in ERR_PLEDGE_PROTOCOL instead.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRootlineError } from '../../src/errors.js';
import { onboardDevice, type OnboardDeviceOptions } from '../../src/onboarding/pledge/index.js';

const base = { idevidDir: '/nonexistent-idevid', registrarUrl: 'https://127.0.0.1:1' };

test('onboardDevice refuses bad arguments with ERR_INVALID_ARGUMENT naming them', async () => {
  const cases: Array<[Partial<OnboardDeviceOptions>, RegExp]> = [
    [{ bootstrapUri: 'coap://127.0.0.1:5683' }, /^bootstrapUri: expected coaps:\/\/host:port/],
    [{ bootstrapUri: 'coaps://127.0.0.1' }, /^bootstrapUri:/],
    [{ bootstrapUri: 'coaps://127.0.0.1:5684', bootstrapServerCertificate: 'not a certificate' }, /^bootstrapServerCertificate:/],
    [{ device: { batteryLevel: 101 } }, /^device\.batteryLevel:/],
    [{ device: null as unknown as OnboardDeviceOptions['device'] }, /^device:/],
  ];
  for (const [extra, message] of cases) {
    await assert.rejects(onboardDevice({ ...base, ...extra }), (err: unknown) => {
      assert.ok(isRootlineError(err, 'ERR_INVALID_ARGUMENT'), `${JSON.stringify(extra)}: ${String(err)}`);
      assert.match((err as Error).message, message);
      return true;
    });
  }
  await assert.rejects(onboardDevice(null as unknown as OnboardDeviceOptions), (err: unknown) => isRootlineError(err, 'ERR_INVALID_ARGUMENT'));
  // Past the checks, the pledge's own: a missing IDevID directory, still before any traffic.
  await assert.rejects(onboardDevice(base), (err: unknown) => isRootlineError(err, 'ERR_INVALID_ARGUMENT') && /idevid/i.test((err as Error).message));
});
