/**
 * Fuzzing the parsers behind the CoAPs registrar (fast-check): only typed errors (RootlineError)
 * may escape, whatever the bytes.
 *   - status telemetry bodies in CBOR (statusBodyAsJson + the registrar's strict parser);
 *   - COSE-signed voucher requests: random bytes, random CBOR, and every single-byte change of a
 *     genuine constrained request (which must then not verify as that request);
 *   - the registrar's constrained voucher request path end to end (requestVoucher format 'cose');
 *   - the pledge's reading of the registrar's diagnostic payloads;
 *   - the CoAP error mapping, for any error at all.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeCbor } from '../../src/cose/cbor.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { RootlineError } from '../../src/errors.js';
import { coapErrorResponse, inProcessConstrainedMasaClient, statusBodyAsJson } from '../../src/onboarding/coaps/index.js';
import { createConstrainedPledgeVoucherRequest, openCoseSignedVoucherRequest } from '../../src/onboarding/constrained-voucher.js';
import { coapsProtocolError } from '../../src/onboarding/pledge/coaps-transport.js';
import { parseStatusTelemetry } from '../../src/onboarding/registrar/status-telemetry.js';
import { openSignedVoucherRequest } from '../../src/onboarding/signed-voucher.js';
import { createTestFactory, type TestFactory } from './helpers.js';
import { createWorld, startDomain, type Domain, type World } from './registrar/fixture.js';

function only(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof RootlineError)) throw err;
  }
}

async function onlyAsync(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof RootlineError)) throw err;
  }
}

const cborValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 20 }),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -5, max: 5 })), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  ),
})).value;

describe('CoAPs status telemetry bodies (CBOR, 60)', () => {
  it('random bytes: only typed errors', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(50, 60, 0, 42, undefined), (bytes, cf) => only(() => parseStatusTelemetry(statusBodyAsJson(bytes, cf)))), { numRuns: 400 });
  });

  it('random CBOR values: only typed errors, and a valid map passes as its JSON twin does', () => {
    fc.assert(fc.property(cborValue, (v) => only(() => parseStatusTelemetry(statusBodyAsJson(encodeCbor(v), 60)))), { numRuns: 400 });
    fc.assert(
      fc.property(fc.boolean(), fc.option(fc.string({ maxLength: 100 }), { nil: undefined }), (status, reason) => {
        const m = new Map<string, unknown>([['version', 1], ['status', status]]);
        if (reason !== undefined) m.set('reason', reason);
        const parsed = parseStatusTelemetry(statusBodyAsJson(encodeCbor(m), 60));
        assert.equal(parsed.status, status);
        assert.equal(parsed.reason, reason);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses what JSON cannot say (byte strings, non-text keys) with ERR_REGISTRAR_BAD_STATUS', () => {
    for (const m of [new Map<unknown, unknown>([['version', 1], ['status', new Uint8Array([1])]]), new Map<unknown, unknown>([[1, 1]])]) {
      assert.throws(() => statusBodyAsJson(encodeCbor(m), 60), (e: unknown) => e instanceof RootlineError && e.code === 'ERR_REGISTRAR_BAD_STATUS');
    }
    assert.throws(() => statusBodyAsJson(new Uint8Array([0xa0]), 0), (e: unknown) => e instanceof RootlineError && e.code === 'ERR_COAPS_UNSUPPORTED_CONTENT_FORMAT');
  });
});

describe('COSE voucher requests (application/voucher+cose, 836)', () => {
  let t: TestFactory;
  let genuine: Uint8Array;
  let idevid: string;

  before(async () => {
    t = await createTestFactory();
    const minted = await t.factory.mintDevice({ serial: 'FUZZ-1', model: 'M', outDir: join(t.dir, 'fuzz') });
    idevid = readFileSync(minted.files.certificate, 'utf8');
    const signer = keyObjectSigner(createPrivateKey(readFileSync(minted.files.key, 'utf8')));
    // Any certificate stands for the registrar's here: only the request's own signature is fuzzed.
    genuine = (await createConstrainedPledgeVoucherRequest({ signer, idevid: [idevid], registrarCertificate: t.factory.masaCertificate })).bytes;
  });
  after(() => t?.close());

  it('opens the genuine request under the manufacturer CA, through the CMS/COSE dispatcher too', () => {
    const opened = openCoseSignedVoucherRequest(genuine, { trustAnchors: [t.factory.manufacturerCaCertificate] });
    assert.equal(opened.request.serialNumber, 'FUZZ-1');
    assert.equal(openSignedVoucherRequest(genuine).request.serialNumber, 'FUZZ-1');
  });

  it('random bytes and random CBOR: only typed errors', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => only(() => openSignedVoucherRequest(b))), { numRuns: 400 });
    fc.assert(fc.property(cborValue, (v) => only(() => openCoseSignedVoucherRequest(encodeCbor(v)))), { numRuns: 400 });
    fc.assert(fc.property(fc.array(cborValue, { minLength: 4, maxLength: 4 }), (arr) => only(() => openCoseSignedVoucherRequest(encodeCbor(arr)))), { numRuns: 300 });
  });

  it('every single-byte change of a genuine request is refused with a typed error (never accepted as is)', () => {
    fc.assert(
      fc.property(fc.nat({ max: genuine.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, delta) => {
        const mutated = genuine.slice();
        mutated[i] = (mutated[i]! + delta) & 0xff;
        try {
          const opened = openCoseSignedVoucherRequest(mutated, { trustAnchors: [t.factory.manufacturerCaCertificate] });
          // A change that still verifies can only be in an unsigned encoding detail that leaves
          // the signed content as it was (none exists here: the unprotected map is empty).
          assert.equal(opened.request.serialNumber, 'FUZZ-1');
          assert.fail(`byte ${i} changed by ${delta} still verified`);
        } catch (err) {
          if (!(err instanceof RootlineError)) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the diagnostic payload reader of the pledge takes anything', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 400, max: 599 }), (payload, status) => {
        const err = coapsProtocolError({ status, contentFormat: undefined, maxAge: undefined, payload }, 'x');
        assert.equal(err.code, 'ERR_PLEDGE_PROTOCOL');
        assert.ok(err.serverCode === undefined || /^ERR_[A-Z0-9_]+$/.test(err.serverCode));
      }),
      { numRuns: 300 },
    );
  });

  it('maps any error to a CoAP error response with a bounded diagnostic payload', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), fc.string({ maxLength: 40 }), (message, code) => {
        for (const err of [new RootlineError(`ERR_${code.replace(/[^A-Z]/g, '')}`, message), new Error(message), message]) {
          const res = coapErrorResponse(err);
          assert.ok(typeof res.code === 'number' && res.code >= 128 && res.code < 192);
          assert.ok(res.payload instanceof Uint8Array && res.payload.length <= 256);
          // Valid UTF-8 after the cut.
          assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(res.payload as Uint8Array));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("the registrar's constrained voucher path", () => {
  let world: World;
  let domain: Domain;
  before(async () => {
    world = await createWorld();
    domain = await startDomain(world.t, 'fuzz', {
      masaClient: world.inProcessMasa,
      masaUrl: 'https://masa.example.com',
      overrides: { policy: { approval: 'automatic' }, constrainedMasaClient: inProcessConstrainedMasaClient(world.masa.masa) },
    });
  });
  after(async () => {
    await domain?.close();
    await world?.close();
  });

  it('random bodies from a genuine IDevID: only typed errors', async () => {
    const dir = await world.mint('FUZZ-R');
    const chain = [new Uint8Array(Buffer.from(readFileSync(join(dir, 'idevid.pem'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'))];
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), cborValue.map((v) => encodeCbor(v)), fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([0xd2, ...b]))), async (body) => {
        await onlyAsync(() => domain.registrar.requestVoucher({ clientCertificates: chain }, body, { format: 'cose' }));
      }),
      { numRuns: 150 },
    );
  });
});
