/**
 * Property and fuzz tests for every COSE parser: random and mutated input yields only typed
 * errors (RootlineError subclasses with a code) — never a crash, a plain TypeError/RangeError,
 * or a "success" for a tampered message. Every single-bit flip of a signed, MACed or encrypted
 * message must fail verification.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { RootlineError } from '../../src/errors.js';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { decodeCwtClaims, encodeCwtClaims } from '../../src/cose/claims.js';
import { decodeCoseKey, decodeCoseKeySet, encodeCoseKey } from '../../src/cose/cose-key.js';
import { createCwt, verifyCwt } from '../../src/cose/cwt.js';
import { decrypt0, encrypt0 } from '../../src/cose/encrypt0.js';
import { coseKeyFromKeyObject } from '../../src/cose/key-convert.js';
import { rawMacKey } from '../../src/cose/mac-key.js';
import { mac0, verifyMac0 } from '../../src/cose/mac0.js';
import { sign1, verifySign1 } from '../../src/cose/sign1.js';
import { utf8 } from './helpers.js';

const RUNS = 300;
const ed = generateKeyPairSync('ed25519');
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const secret = new Uint8Array(randomBytes(32));
const aesKey = new Uint8Array(randomBytes(16));
const now = 1_800_000_000;

/** Runs `fn`; a thrown value must be a RootlineError with a code. Returns whether it threw. */
async function onlyTypedErrors(fn: () => unknown): Promise<boolean> {
  try {
    await fn();
    return false;
  } catch (err) {
    if (!(err instanceof RootlineError) || typeof err.code !== 'string') {
      throw new Error(`untyped error escaped: ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`, { cause: err });
    }
    return true;
  }
}

/** Byte-level mutations of a valid message: overwrite, truncate, insert, drop. */
function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((edits) => {
      const out = new Uint8Array(valid);
      for (const [i, b] of edits) out[i] = b;
      return out;
    }),
    fc.nat(valid.length - 1).map((n) => valid.subarray(0, n)),
    fc.tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, ins]) => new Uint8Array([...valid.subarray(0, i), ...ins, ...valid.subarray(i)])),
    fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 8 })).map(([i, n]) => new Uint8Array([...valid.subarray(0, i), ...valid.subarray(i + n)])),
  );
}

/** Arbitrary values in the COSE CBOR data model. */
const cborValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }),
    fc.double({ noNaN: true }),
    fc.string(),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.uniqueArray(fc.tuple(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.string({ maxLength: 8 })), tie('value')), { maxLength: 5, selector: ([k]) => k }).map((entries) => new Map(entries)),
    fc.tuple(fc.integer({ min: 0, max: 100000 }), tie('value')).map(([t, v]) => new CborTag(t, v)),
  ),
})).value;

function bitFlips(valid: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < valid.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const m = new Uint8Array(valid);
      m[i]! ^= 1 << bit;
      out.push(m);
    }
  }
  return out;
}

describe('fuzz: decodeCbor', () => {
  it('random bytes: a value or ERR_COSE_MALFORMED_CBOR, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        try {
          decodeCbor(bytes);
        } catch (err) {
          assert.ok(err instanceof RootlineError && err.code === 'ERR_COSE_MALFORMED_CBOR', String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('encode → decode → encode is stable for the COSE data model', () => {
    fc.assert(
      fc.property(cborValue, (value) => {
        const bytes = encodeCbor(value);
        assert.deepEqual(encodeCbor(decodeCbor(bytes, { maxDepth: 64 })), bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it('mutated encodings: only typed errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        cborValue.chain((v) => {
          const bytes = encodeCbor(v);
          return bytes.length > 0 ? mutated(bytes) : fc.constant(bytes);
        }),
        async (bytes) => {
          await onlyTypedErrors(() => decodeCbor(bytes));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: COSE parsers only throw typed errors', async () => {
  const signEd = await sign1({ payload: utf8('payload'), signer: keyObjectSigner(ed.privateKey), unprotectedHeader: { kid: utf8('k') } });
  const signEs = await sign1({ payload: utf8('payload'), signer: keyObjectSigner(p256.privateKey) });
  const maced = await mac0({ payload: utf8('payload'), key: rawMacKey(secret, 4), unprotectedHeader: { kid: utf8('k') } });
  const sealed = await encrypt0({ plaintext: utf8('payload'), key: aesKey, alg: 10 });
  const sealedLea = await encrypt0({ plaintext: utf8('payload'), key: aesKey, alg: -65539 });
  const cwt = await createCwt({ iss: 'i', aud: 'a', exp: now + 10, cti: new Uint8Array(2) }, { macKey: rawMacKey(secret, 5) });
  const coseKey = encodeCoseKey(coseKeyFromKeyObject(p256.privateKey, { kid: utf8('k'), alg: -7 }));

  const parsers: [string, Uint8Array, (bytes: Uint8Array) => Promise<unknown>][] = [
    ['verifySign1 (EdDSA)', signEd, (b) => verifySign1(b, { key: ed.publicKey })],
    ['verifySign1 (ES256)', signEs, (b) => verifySign1(b, { key: p256.publicKey })],
    ['verifyMac0', maced, (b) => verifyMac0(b, { key: secret })],
    ['decrypt0', sealed, (b) => decrypt0(b, { key: aesKey })],
    ['decrypt0 (LEA-CCM-16-64-128)', sealedLea, (b) => decrypt0(b, { key: aesKey })],
    ['verifyCwt', cwt, (b) => verifyCwt(b, { key: secret, now })],
    ['decodeCoseKey', coseKey, async (b) => decodeCoseKey(b)],
    ['decodeCoseKeySet', encodeCbor([decodeCbor(coseKey), new Map<number, unknown>([[1, 4], [-1, secret]])]), async (b) => decodeCoseKeySet(b)],
    ['decodeCwtClaims', encodeCwtClaims({ iss: 'i', exp: 1 }), async (b) => decodeCwtClaims(b)],
  ];

  for (const [name, valid, parse] of parsers) {
    it(`${name}: the valid input is accepted`, async () => {
      await parse(valid);
    });
    it(`${name}: random bytes`, async () => {
      await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 128 }), async (b) => void (await onlyTypedErrors(() => parse(b)))), { numRuns: RUNS });
    });
    it(`${name}: mutated valid input`, async () => {
      await fc.assert(fc.asyncProperty(mutated(valid), async (b) => void (await onlyTypedErrors(() => parse(b)))), { numRuns: RUNS });
    });
    it(`${name}: random well-formed CBOR`, async () => {
      await fc.assert(fc.asyncProperty(cborValue, async (v) => void (await onlyTypedErrors(() => parse(encodeCbor(v))))), { numRuns: RUNS });
    });
  }
});

describe('fuzz: every single-bit flip of a protected message fails verification', async () => {
  // An empty unprotected bucket: nothing in these messages is outside the signature, MAC or AEAD
  // except framing, so any flip must be caught.
  const cases: [string, Uint8Array, (bytes: Uint8Array) => Promise<unknown>][] = [
    ['COSE_Sign1 EdDSA', await sign1({ payload: utf8('firmware 1.2.3'), signer: keyObjectSigner(ed.privateKey) }), (b) => verifySign1(b, { key: ed.publicKey })],
    ['COSE_Sign1 ES256', await sign1({ payload: utf8('firmware 1.2.3'), signer: keyObjectSigner(p256.privateKey) }), (b) => verifySign1(b, { key: p256.publicKey })],
    ['COSE_Mac0 HMAC 256/64', await mac0({ payload: utf8('reading 21.5'), key: rawMacKey(secret, 4) }), (b) => verifyMac0(b, { key: secret })],
    ['COSE_Encrypt0 AES-CCM-16-64-128', await encrypt0({ plaintext: utf8('psk'), key: aesKey, alg: 10, protectedHeader: new Map(), unprotectedHeader: new Map() }), (b) => decrypt0(b, { key: aesKey })],
    ['COSE_Encrypt0 LEA-128-GCM', await encrypt0({ plaintext: utf8('psk'), key: aesKey, alg: -65537 }), (b) => decrypt0(b, { key: aesKey })],
    ['CWT (tag 61, Mac0)', await createCwt({ iss: 'i', exp: now + 10 }, { macKey: rawMacKey(secret, 5) }), (b) => verifyCwt(b, { key: secret, now })],
  ];
  for (const [name, valid, verify] of cases) {
    it(`${name}: ${valid.length * 8} flips, none verifies, all typed`, async () => {
      await verify(valid);
      let rejected = 0;
      for (const flipped of bitFlips(valid)) {
        const threw = await onlyTypedErrors(() => verify(flipped));
        assert.ok(threw, `a flipped message verified: ${Buffer.from(flipped).toString('hex')}`);
        rejected++;
      }
      assert.equal(rejected, valid.length * 8);
    });
  }

  it('any overwrite of 1-4 bytes that changes the message fails verification too', async () => {
    for (const [name, valid, verify] of cases) {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
          async (edits) => {
            const changed = new Uint8Array(valid);
            for (const [i, b] of edits) changed[i] = b;
            fc.pre(Buffer.compare(changed, valid) !== 0);
            assert.ok(await onlyTypedErrors(() => verify(changed)), `${name}: an overwritten message verified`);
          },
        ),
        { numRuns: RUNS },
      );
    }
  });

  it('kid in the unprotected bucket is not protected, so a verifier resolving by kid rejects a changed kid', async () => {
    const msg = await sign1({ payload: utf8('x'), signer: keyObjectSigner(ed.privateKey), unprotectedHeader: { kid: utf8('device-7') } });
    const resolveKey = ({ kid }: { kid: Uint8Array | undefined }) => (kid && Buffer.from(kid).toString() === 'device-7' ? ed.publicKey : undefined);
    await verifySign1(msg, { resolveKey });
    for (const flipped of bitFlips(msg)) assert.ok(await onlyTypedErrors(() => verifySign1(flipped, { resolveKey })));
  });
});

describe('property: sign/MAC/encrypt round trips for arbitrary payloads and external AAD', () => {
  it('round trips, and a different external AAD always fails', async () => {
    const signer = keyObjectSigner(ed.privateKey);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 1, maxLength: 20 }), async (payload, aad, otherAad) => {
        fc.pre(Buffer.compare(aad, otherAad) !== 0);
        const s = await sign1({ payload, signer, externalAad: aad });
        assert.deepEqual((await verifySign1(s, { key: ed.publicKey, externalAad: aad })).payload, payload);
        assert.ok(await onlyTypedErrors(() => verifySign1(s, { key: ed.publicKey, externalAad: otherAad })));
        const m = await mac0({ payload, key: rawMacKey(secret), externalAad: aad });
        assert.deepEqual((await verifyMac0(m, { key: secret, externalAad: aad })).payload, payload);
        assert.ok(await onlyTypedErrors(() => verifyMac0(m, { key: secret, externalAad: otherAad })));
        const e = await encrypt0({ plaintext: payload, key: aesKey, alg: 1, externalAad: aad });
        assert.deepEqual((await decrypt0(e, { key: aesKey, externalAad: aad })).plaintext, payload);
        assert.ok(await onlyTypedErrors(() => decrypt0(e, { key: aesKey, externalAad: otherAad })));
      }),
      { numRuns: 100 },
    );
  });
});
