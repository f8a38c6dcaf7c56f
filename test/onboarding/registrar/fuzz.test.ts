/**
 * Fuzzing the registrar's parsers: status telemetry bodies and voucher requests (random and
 * mutated). Only typed errors may escape, every refusal is audited, nothing is stored, and no
 * mutation of a signed request verifies.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { RootlineError } from '../../../src/errors.js';
import { ID_CT_ANIMA_JSON_VOUCHER, verifyCms } from '../../../src/onboarding/cms.js';
import { BadStatusTelemetryError } from '../../../src/onboarding/registrar/errors.js';
import { encodeStatusTelemetry, parseStatusTelemetry } from '../../../src/onboarding/registrar/status-telemetry.js';
import { createPledgeVoucherRequest } from '../../../src/onboarding/voucher-requests.js';
import { parseCertificate } from '../../../src/pki/index.js';
import { createWorld, startDomain, type Domain, type World } from './fixture.js';

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BadStatusTelemetryError, `untyped error: ${String(err)}`);
  }
}

describe('status telemetry parser (fast-check)', () => {
  it('round-trips what a pledge sends', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.option(fc.string({ maxLength: 200 }), { nil: undefined }), (status, reason) => {
        const parsed = parseStatusTelemetry(encodeStatusTelemetry(status, reason));
        assert.equal(parsed.status, status);
        assert.equal(parsed.reason, reason);
      }),
    );
  });

  it('throws only BadStatusTelemetryError on random bytes and random JSON', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => onlyTyped(() => parseStatusTelemetry(bytes))), { numRuns: 500 });
    fc.assert(
      fc.property(fc.jsonValue(), (value) => onlyTyped(() => parseStatusTelemetry(new TextEncoder().encode(JSON.stringify(value) ?? 'null')))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.record({ version: fc.oneof(fc.constant(1), fc.constant('1'), fc.integer(), fc.string()), status: fc.anything(), reason: fc.anything(), 'reason-context': fc.anything() }, { requiredKeys: [] }), (o) =>
        onlyTyped(() => parseStatusTelemetry(new TextEncoder().encode(JSON.stringify(o) ?? 'null'))),
      ),
      { numRuns: 500 },
    );
  });
});

describe('registrar voucher requests (fast-check)', () => {
  let w: World;
  let d: Domain;
  let valid: Uint8Array;
  let idevid: Uint8Array;

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Fuzz', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
    const dir = await w.mint('FZ-1');
    const cert = parseCertificate(readFileSync(join(dir, 'idevid.pem'), 'utf8'));
    idevid = cert.der;
    valid = (await createPledgeVoucherRequest({ signer: keyObjectSigner(createPrivateKey(readFileSync(join(dir, 'idevid.key'), 'utf8'))), idevid: [cert], registrarCertificate: d.registrarCert.der })).der;
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  it('random and mutated requests end in typed, audited refusals; one nonce is answered at most once', async () => {
    const context = () => ({ clientCertificates: [idevid], serverCertificate: d.registrarCert.der });
    const before = (await d.store.audit.list({ action: 'registrar.voucher.request', limit: 1000 })).length;
    let refused = 0;
    // verifyCms takes carried certificates as received and refuses an envelope that is not its
    // own DER re-encoding or whose unsigned fields differ from the one allowed value, so no
    // mutation of a signed request is the same request: every one is refused.
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const m = valid.slice();
            m[i]! ^= x;
            return m;
          }),
          fc.nat(valid.length - 1).map((n) => valid.slice(0, n)),
        ),
        async (body) => {
          try {
            const out = await d.registrar.requestVoucher(context(), body);
            assert.equal(out.status, 'voucher');
            answered++;
          } catch (err) {
            assert.ok(err instanceof RootlineError, `untyped error: ${String(err)}`);
            refused++;
          }
        },
      ),
      { numRuns: 150 },
    );
    const records = (await d.store.audit.list({ action: 'registrar.voucher.request', limit: 1000 })).slice(before);
    assert.equal(records.filter((r) => r.outcome === 'deny').length, refused);
    assert.equal(records.filter((r) => r.outcome === 'success').length, answered);
    assert.equal(answered, 0, `${answered} mutated requests were answered`);
    assert.equal(await d.store.devices.count(), 0);
    // The refusals above consumed nothing: the untouched request still works.
    assert.equal((await d.registrar.requestVoucher(context(), valid)).status, 'voucher');
  });

  it('every single-bit change anywhere in a signed voucher request is refused by verifyCms', () => {
    // With the manufacturer anchor, as the registrar and the MASA check a pledge request.
    const options = { contentType: ID_CT_ANIMA_JSON_VOUCHER, trustAnchors: [w.t.factory.manufacturerCaCertificate] };
    assert.ok(verifyCms(valid, options).content.length > 0);
    const accepted: number[] = [];
    // One bit per byte, rotating through the bit positions: every envelope field is hit.
    for (let i = 0; i < valid.length; i++) {
      const m = valid.slice();
      m[i]! ^= 1 << (i % 8);
      try {
        verifyCms(m, options);
        accepted.push(i);
      } catch (err) {
        assert.ok(err instanceof RootlineError && /^ERR_VOUCHER_/.test(err.code), `untyped error at ${i}: ${String(err)}`);
      }
    }
    assert.deepEqual(accepted, [], `mutations at byte offsets ${accepted.join(', ')} still verify`);
  });
});
