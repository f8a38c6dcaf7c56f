/** Fuzzing the Register / Update / Bootstrap-Request parameter parsers: only typed errors escape. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseBootstrapQuery, parseRegisterQuery, parseUpdateQuery } from '../../../src/lwm2m/server/index.js';

const name = fc.constantFrom('ep', 'lt', 'lwm2m', 'b', 'sms', 'Q', 'pct', 'x', '', '=');
const value = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0', '1', '300', '4294967296', '1.1', '1.0', '9.9', 'U', 'UQ', 'Q', 'T', '+123'));
const param = fc.oneof(fc.tuple(name, value).map(([n, v]) => `${n}=${v}`), name, fc.string({ maxLength: 20 }));
const query = fc.array(param, { maxLength: 20 });

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.equal((err as { code?: unknown }).code, 'ERR_LWM2M_BAD_REGISTRATION', String(err));
    assert.ok([128, 140].includes((err as { coapCode: number }).coapCode));
  }
}

test('fuzz: registration parameter parsers throw only ERR_LWM2M_BAD_REGISTRATION (4.00 / 4.12)', () => {
  fc.assert(fc.property(query, (q) => {
    onlyTyped(() => parseRegisterQuery(q));
    onlyTyped(() => parseUpdateQuery(q));
    onlyTyped(() => parseBootstrapQuery(q));
  }), { numRuns: 3000 });
});

test('accepted registrations are within the limits', () => {
  fc.assert(fc.property(query, (q) => {
    try {
      const p = parseRegisterQuery(q, { maxLifetime: 1000 });
      assert.ok(p.endpoint.length >= 1);
      assert.ok(p.lifetime >= 1 && p.lifetime <= 86400);
      assert.ok(['1.0', '1.1', '1.2'].includes(p.lwm2mVersion));
      assert.match(p.binding, /^[UTSNMHQ]+$/);
    } catch {
      // refusals are covered above
    }
  }), { numRuns: 2000 });
  assert.deepEqual(parseRegisterQuery(['ep=a']), { endpoint: 'a', lifetime: 86400, lwm2mVersion: '1.0', binding: 'U', queueMode: false, smsNumber: null });
  assert.deepEqual(parseRegisterQuery(['ep=a', 'lt=5', 'lwm2m=1.1', 'b=U', 'Q', 'sms=+4912']), { endpoint: 'a', lifetime: 5, lwm2mVersion: '1.1', binding: 'U', queueMode: true, smsNumber: '+4912' });
  assert.deepEqual(parseUpdateQuery(['b=UQ']), { binding: 'UQ', queueMode: true });
  assert.deepEqual(parseBootstrapQuery(['ep=x', 'pct=112']), { endpoint: 'x', preferredContentFormat: 112 });
});
