import assert from 'node:assert/strict';
import { it } from 'node:test';

it('rootline/onboarding carries the CoAPs onboarding API (registrar resources and pledge transport) and just-works', async () => {
  const room = (await import('../../src/onboarding/index.js')) as Record<string, unknown>;
  const coaps = (await import('../../src/onboarding/coaps/index.js')) as Record<string, unknown>;
  const transport = (await import('../../src/onboarding/pledge/coaps-transport.js')) as Record<string, unknown>;
  const justWorks = (await import('../../src/onboarding/just-works.js')) as Record<string, unknown>;
  for (const name of ['startRegistrarCoaps', 'mountEstCoaps', 'mountBrskiCoaps', 'inProcessConstrainedMasaClient', 'stripUnprotectedCertificates', 'CoapsNotAcceptableError', 'CoapsUnsupportedContentFormatError']) {
    assert.equal(typeof room[name], 'function', name);
    assert.equal(room[name], coaps[name], `${name} is the coaps room's own`);
  }
  for (const name of ['BRSKI_ROOT', 'LWM2M_BOOTSTRAP_COAP_PATH', 'BrskiCoapsFormat', 'EstCoapsFormat', 'BRSKI_SHORT_NAMES', 'EST_SHORT_NAMES']) assert.equal(room[name], coaps[name], name);
  assert.equal((room.BrskiCoapsFormat as Record<string, number>).VoucherCose, 836);
  for (const name of ['runCoapsPledge', 'openCoapsRegistrar', 'fetchCoapsBootstrapServer', 'parseCoapsRegistrarUrl']) assert.equal(room[name], transport[name], name);
  for (const name of ['createJustWorksService', 'JustWorksError']) assert.equal(room[name], justWorks[name], name);
  // Resource helpers stay inside the coaps room.
  assert.equal(room.coapErrorResponse, undefined);
  assert.equal(room.statusBodyAsJson, undefined);
});
