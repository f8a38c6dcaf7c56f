/** viaGateway: lower rooms' error codes become the API catalogue's, with its HTTP statuses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RootlineError } from '../../src/errors.js';
import { ApiError } from '../../src/api/errors.js';
import { viaGateway } from '../../src/api/lwm2m-gateway.js';

async function mapped(code: string): Promise<unknown> {
  try {
    await viaGateway(() => Promise.reject(new RootlineError(code, `from ${code}`)));
  } catch (err) {
    return err;
  }
  assert.fail('viaGateway resolved');
}

test('device-side failures map to 404/502/503/504 codes; request mistakes to 400', async () => {
  const cases: [string, string, number][] = [
    ['ERR_LWM2M_NOT_REGISTERED', 'ERR_LWM2M_NOT_REGISTERED', 404],
    ['ERR_LWM2M_DEVICE_ERROR', 'ERR_LWM2M_DEVICE_ERROR', 502],
    ['ERR_COAP_RESET', 'ERR_LWM2M_DEVICE_ERROR', 502],
    ['ERR_COAP_BAD_RESPONSE', 'ERR_LWM2M_BAD_DEVICE_RESPONSE', 502],
    ['ERR_COAP_SEND_FAILED', 'ERR_LWM2M_DEVICE_UNREACHABLE', 502],
    ['ERR_COAP_TIMEOUT', 'ERR_LWM2M_DEVICE_TIMEOUT', 504],
    ['ERR_LWM2M_REQUEST_EXPIRED', 'ERR_LWM2M_REQUEST_EXPIRED', 504],
    ['ERR_LWM2M_QUEUE_FULL', 'ERR_LWM2M_QUEUE_FULL', 503],
    ['ERR_LWM2M_TOO_MANY_OBSERVATIONS', 'ERR_LWM2M_TOO_MANY_OBSERVATIONS', 503],
    ['ERR_LWM2M_SERVER_CLOSED', 'ERR_API_NOT_READY', 503],
    ['ERR_LWM2M_BAD_PAYLOAD', 'ERR_LWM2M_BAD_VALUE', 400],
    ['ERR_LWM2M_BAD_PATH', 'ERR_LWM2M_BAD_PATH', 400],
    ['ERR_LWM2M_BAD_BOOTSTRAP_CONFIG', 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG', 400],
    ['ERR_INVALID_ARGUMENT', 'ERR_API_VALIDATION', 400],
  ];
  for (const [from, to, status] of cases) {
    const err = await mapped(from);
    assert.ok(err instanceof ApiError, from);
    assert.equal(err.code, to, from);
    assert.equal(err.status, status, from);
    assert.equal(err.message, `from ${from}`, 'the message is kept');
  }
});

test('an unexpected failure stays what it is (the API answers 500 without details); ApiErrors pass untouched', async () => {
  const odd = await mapped('ERR_STORE_IO');
  assert.ok(!(odd instanceof ApiError));
  assert.equal((odd as RootlineError).code, 'ERR_STORE_IO');
  const own = new ApiError('ERR_API_NOT_READY', 'x');
  await assert.rejects(viaGateway(() => Promise.reject(own)), (e) => e === own);
  assert.equal(await viaGateway(() => Promise.resolve(42)), 42);
});
