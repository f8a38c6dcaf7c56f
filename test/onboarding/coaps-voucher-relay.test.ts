/**
 * cBRSKI §6.6: the registrar strips certificates from the COSE voucher's unprotected header before
 * relaying it to the pledge. Unit (byte-level: only the unprotected map changes, the voucher still
 * verifies) and end to end (a MASA that adds an unprotected x5bag + x5chain; the pledge gets the
 * voucher without them over CoAPs, verifies it and enrolls).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { sign1 } from '../../src/cose/sign1.js';
import { inProcessConstrainedMasaClient, startRegistrarCoaps, stripUnprotectedCertificates, type RegistrarCoapsServer } from '../../src/onboarding/coaps/index.js';
import { X5BAG, X5CHAIN, signConstrainedVoucher, verifyConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import { runCoapsPledge } from '../../src/onboarding/pledge/coaps-transport.js';
import { createWorld, startDomain, type Domain, type World } from './registrar/fixture.js';

const KID = 4;

/** COSE_Sign1 parts as decoded (tag 18 expected). */
function partsOf(voucher: Uint8Array): { tagged: boolean; protectedBytes: Uint8Array; unprotected: Map<unknown, unknown>; payload: Uint8Array; signature: Uint8Array } {
  const decoded = decodeCbor(voucher);
  const tagged = decoded instanceof CborTag;
  const [protectedBytes, unprotected, payload, signature] = (tagged ? (decoded as CborTag).contents : decoded) as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array];
  return { tagged, protectedBytes, unprotected, payload, signature };
}

/** What a MASA following the draft's examples sends: certificates for the registrar in the unprotected bucket. */
function withUnprotected(voucher: Uint8Array, entries: Array<[number, unknown]>): Uint8Array {
  const p = partsOf(voucher);
  const unprotected = new Map<unknown, unknown>([...p.unprotected, ...entries]);
  return encodeCbor(new CborTag(18, [p.protectedBytes, unprotected, p.payload, p.signature]));
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

describe('registrar strips unprotected certificates from relayed COSE vouchers', () => {
  let world: World;
  let domain: Domain;
  let server: RegistrarCoapsServer;
  /** The last voucher the MASA sent the registrar (with the unprotected certificates). */
  let fromMasa: Uint8Array | undefined;

  before(async () => {
    world = await createWorld();
    const real = inProcessConstrainedMasaClient(world.masa.masa);
    const masaCert = world.t.factory.masaCertificate.der;
    domain = await startDomain(world.t, 'strip', {
      masaClient: world.inProcessMasa,
      masaUrl: 'https://masa.example.com',
      overrides: {
        policy: { approval: 'automatic' },
        constrainedMasaClient: {
          async requestVoucher(call) {
            // rootline's MASA signs with a protected x5bag; RFC 9052 §3 forbids a label in both
            // buckets, so the registrar's copy rides as an unprotected x5chain (MASA + MASA CA).
            fromMasa = withUnprotected(await real.requestVoucher(call), [[X5CHAIN, [masaCert, world.t.factory.masaCaCertificate.der]]]);
            return fromMasa;
          },
        },
      },
    });
    server = await startRegistrarCoaps({ host: '127.0.0.1', port: 0, registrar: domain.registrar, identity: { signer: domain.registrarKey.signer, chain: [domain.registrarCert.der, domain.ca.certificate.der] }, audit: domain.store.audit });
  });

  after(async () => {
    await server?.close();
    await domain?.close();
    await world?.close();
  });

  it('re-encodes only the unprotected map: protected header, payload and signature are the same bytes, other parameters stay, and it still verifies', async () => {
    const masa = { signer: world.t.factory.masaSigner, certificates: [world.t.factory.masaCertificate] };
    const original = await signConstrainedVoucher({ createdOn: new Date(), assertion: 'logged', serialNumber: 'RELAY-1', nonce: new Uint8Array(16).fill(7), pinnedDomainCert: domain.ca.certificate.der }, masa);
    // Nothing to strip: the very bytes come back.
    assert.equal(stripUnprotectedCertificates(original), original);

    const kid = new Uint8Array([1, 2, 3]);
    const carrying = withUnprotected(original, [[KID, kid], [X5CHAIN, [world.t.factory.masaCertificate.der, world.t.factory.masaCaCertificate.der]]]);
    const stripped = stripUnprotectedCertificates(carrying);
    const before = partsOf(carrying);
    const after = partsOf(stripped);
    assert.equal(after.tagged, true);
    assert.ok(same(after.protectedBytes, before.protectedBytes));
    assert.ok(same(after.payload, before.payload));
    assert.ok(same(after.signature, before.signature));
    assert.deepEqual([...after.unprotected.keys()], [KID]);
    assert.ok(same(after.unprotected.get(KID) as Uint8Array, kid));
    // The protected x5bag is untouched (the pledge's trust path).
    assert.ok((decodeCbor(after.protectedBytes) as Map<number, unknown>).has(X5BAG));
    assert.ok(stripped.length < carrying.length - world.t.factory.masaCertificate.der.length);
    const verified = await verifyConstrainedVoucher(stripped, { masaTrustAnchors: [world.t.factory.masaCaCertificate], serialNumber: 'RELAY-1', nonce: new Uint8Array(16).fill(7) });
    assert.equal(verified.voucher.serialNumber, 'RELAY-1');

    // The draft's common case (C.5): no certificates in the protected header, the MASA's x5bag
    // unprotected for the registrar; stripped, it verifies for a pledge that holds the MASA certificate.
    const bare = await sign1({ payload: before.payload, signer: world.t.factory.masaSigner, unprotectedHeader: new Map<number, unknown>([[X5BAG, [world.t.factory.masaCertificate.der, world.t.factory.masaCaCertificate.der]]]) });
    const bareStripped = stripUnprotectedCertificates(bare);
    assert.equal(partsOf(bareStripped).unprotected.size, 0);
    assert.ok(same(partsOf(bareStripped).signature, partsOf(bare).signature));
    await verifyConstrainedVoucher(bareStripped, { masaTrustAnchors: [world.t.factory.masaCertificate], serialNumber: 'RELAY-1', nonce: new Uint8Array(16).fill(7) });

    // Untagged COSE_Sign1 (a 4-array) is handled the same way.
    const untagged = encodeCbor([before.protectedBytes, new Map([[X5BAG, world.t.factory.masaCertificate.der]]), before.payload, before.signature]);
    assert.deepEqual([...partsOf(stripUnprotectedCertificates(untagged)).unprotected.keys()], []);
    assert.equal(stripUnprotectedCertificates(untagged)[0], 0x84);

    // Not a COSE_Sign1: typed refusal.
    for (const bad of [new Uint8Array([0xd2, 0x83, 0x40, 0xa0, 0x40]), new Uint8Array([0xd3, 0x84, 0x40, 0xa0, 0x40, 0x40]), new Uint8Array([0x84, 0x40, 0x80, 0x40, 0x40]), new Uint8Array([0xd2, 0x84, 0x40])]) {
      assert.throws(() => stripUnprotectedCertificates(bad), { code: 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE' });
    }
  });

  it('a MASA voucher with an unprotected x5chain reaches the pledge over CoAPs without them, verifies, and the pledge enrolls', async () => {
    const dir = await world.mint('RELAY-2');
    const result = await runCoapsPledge({ idevidDir: dir, registrarUrl: `coaps://127.0.0.1:${server.address.port}` });
    assert.ok(fromMasa !== undefined);
    const sent = partsOf(fromMasa);
    assert.ok(sent.unprotected.has(X5CHAIN), 'the MASA did add them');
    const got = partsOf(result.voucher.der);
    assert.equal(got.unprotected.size, 0, 'no unprotected certificates reach the pledge');
    assert.ok(same(got.protectedBytes, sent.protectedBytes) && same(got.payload, sent.payload) && same(got.signature, sent.signature));
    const verified = await verifyConstrainedVoucher(result.voucher.der, { masaTrustAnchors: [world.t.factory.masaCaCertificate], serialNumber: 'RELAY-2' });
    assert.ok(same(verified.pinnedDomainCertificate, domain.ca.certificate.der));
    assert.equal((await domain.store.devices.get(result.endpoint!))?.ownershipState, 'RFPRO');
  });
});
