/**
 * `onboarding.coapsPort` in the config file: the registrar's CoAPs listener is opt-in, takes a
 * port 0..65535 (0 = any free one) and refuses anything else with the setting named.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa } from '../../src/pki/index.js';
import { parseOnboardingConfig } from '../../src/server/onboarding-config.js';
import { ConfigError } from '../../src/server/errors.js';

test('onboarding.coapsPort: absent = off, 0..65535 accepted, anything else refused naming the setting', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-coaps-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ['manufacturer-ca.pem', 'masa-ca.pem']) {
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), subject: `CN=${name}`, validityDays: 1 });
    writeFileSync(join(dir, name), ca.chainPem);
  }
  const base = { manufacturers: [{ caFile: 'manufacturer-ca.pem' }] };
  assert.equal(parseOnboardingConfig(base, dir).coapsPort, undefined);
  for (const port of [0, 5685, 65535]) assert.equal(parseOnboardingConfig({ ...base, coapsPort: port }, dir).coapsPort, port);
  for (const bad of [-1, 65536, 1.5, '5685', null, true]) {
    assert.throws(
      () => parseOnboardingConfig({ ...base, coapsPort: bad }, dir),
      (e: unknown) => e instanceof ConfigError && e.code === 'ERR_CONFIG_INVALID' && /onboarding\.coapsPort/.test(e.message),
      String(bad),
    );
  }
});
