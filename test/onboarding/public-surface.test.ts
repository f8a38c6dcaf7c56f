import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';

it('every onboarding error code is documented in src/onboarding/README.md', () => {
  const readme = readFileSync(new URL('../../src/onboarding/README.md', import.meta.url), 'utf8');
  const sources = ['errors.ts', 'http/masa-routes.ts'].map((f) => readFileSync(new URL(`../../src/onboarding/${f}`, import.meta.url), 'utf8')).join('\n');
  const codes = new Set(sources.match(/ERR_(?:ONBOARDING|VOUCHER)_[A-Z_]+/g) ?? []);
  assert.ok(codes.size >= 20, `found ${codes.size} codes`);
  for (const code of codes) assert.ok(readme.includes(code), `${code} missing from README`);
});

it('the room index exports the public operations', async () => {
  const room = await import('../../src/onboarding/index.js');
  for (const name of ['initFactory', 'openFactory', 'settingsMasaRegistry', 'parseVoucher', 'signVoucher', 'verifyVoucher', 'signConstrainedVoucher', 'verifyConstrainedVoucher', 'createPledgeVoucherRequest', 'createRegistrarVoucherRequest', 'createMasa', 'nextOwnershipState', 'createOwnershipService', 'masaRoutes', 'verifyCms', 'signCms']) {
    assert.equal(typeof (room as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(room.ID_CT_ANIMA_JSON_VOUCHER, '1.2.840.113549.1.9.16.1.40');
});

it('the room index carries the registrar and the pledge, with no name lost to an export * clash', async () => {
  const room = (await import('../../src/onboarding/index.js')) as Record<string, unknown>;
  const registrar = (await import('../../src/onboarding/registrar/index.js')) as Record<string, unknown>;
  const pledge = (await import('../../src/onboarding/pledge/index.js')) as Record<string, unknown>;
  for (const [from, names] of [['registrar', registrar], ['pledge', pledge]] as const) {
    for (const name of Object.keys(names)) assert.equal(room[name], names[name], `${from}: ${name}`);
  }
  for (const name of ['createRegistrar', 'registrarRoutes', 'inProcessMasaClient', 'httpsMasaClient', 'runPledge', 'pledgeResultJson']) {
    assert.equal(typeof room[name], 'function', name);
  }
});
