/**
 * The config file's `onboarding` section: every field checked where it enters, relative paths
 * taken from the file's directory, masa-ca.pem found beside the manufacturer CA by default, and
 * onboarding absent (off) without the section.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa } from '../../src/pki/index.js';
import { loadConfig } from '../../src/server/config.js';
import { ConfigError } from '../../src/server/errors.js';

async function setup(t: { after(fn: () => void): void }): Promise<{ dir: string; load(onboarding: unknown): ReturnType<typeof loadConfig> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-onboarding-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'acme'));
  for (const name of ['manufacturer-ca.pem', 'masa-ca.pem']) {
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), subject: `CN=${name}`, validityDays: 30 });
    writeFileSync(join(dir, 'acme', name), ca.chainPem);
  }
  writeFileSync(join(dir, 'not-a-cert.pem'), 'hello');
  writeFileSync(join(dir, 'public-key.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
  return {
    dir,
    load(onboarding) {
      const file = join(dir, 'rootline.json');
      writeFileSync(file, JSON.stringify(onboarding === undefined ? {} : { onboarding }));
      return loadConfig({ configFile: file, env: {}, cwd: '/' });
    },
  };
}

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ConfigError && e.code === 'ERR_CONFIG_INVALID' && e.setting === 'onboarding' && message.test(e.message));
}

test('no section: onboarding is off', async (t) => {
  const { load } = await setup(t);
  assert.equal(load(undefined).config.onboarding, undefined);
});

test('a valid section: paths from the file directory, masa-ca.pem beside the CA, manual approval by default', async (t) => {
  const { dir, load } = await setup(t);
  const { config } = load({ masa: true, manufacturers: [{ caFile: 'acme/manufacturer-ca.pem', masaUrl: 'https://masa.acme.example' }], serials: ['SN-1'], retryAfterSeconds: 5, lwm2mUri: 'coaps://lwm2m.example:5684' });
  assert.deepEqual(config.onboarding, {
    masa: true,
    approval: 'manual',
    manufacturers: [{ caFile: join(dir, 'acme', 'manufacturer-ca.pem'), masaCaFile: join(dir, 'acme', 'masa-ca.pem'), masaUrl: 'https://masa.acme.example' }],
    serials: ['SN-1'],
    retryAfterSeconds: 5,
    lwm2mUri: 'coaps://lwm2m.example:5684',
  });
  assert.equal(load({ approval: 'automatic' }).config.onboarding?.approval, 'automatic');
});

test('every field is checked', async (t) => {
  const { load } = await setup(t);
  refused(() => load([]), /expected an object/);
  refused(() => load({ nonsense: 1 }), /onboarding\.nonsense.*unknown setting/);
  refused(() => load({ masa: 'yes' }), /onboarding\.masa/);
  refused(() => load({ approval: 'sometimes' }), /onboarding\.approval/);
  refused(() => load({ manufacturers: {} }), /onboarding\.manufacturers/);
  refused(() => load({ manufacturers: [{}] }), /manufacturers\[0\]\.caFile.*expected a file path/);
  refused(() => load({ manufacturers: [{ caFile: 'missing.pem' }] }), /manufacturers\[0\]\.caFile.*not a readable PEM/);
  refused(() => load({ manufacturers: [{ caFile: 'not-a-cert.pem' }] }), /manufacturers\[0\]\.caFile.*not a readable PEM/);
  refused(() => load({ manufacturers: [{ caFile: 'public-key.pem' }] }), /manufacturers\[0\]\.caFile.*holds no certificate/);
  refused(() => load({ manufacturers: [{ caFile: 'acme/manufacturer-ca.pem', masaUrl: 'http://masa.example' }] }), /masaUrl.*expected an https/);
  refused(() => load({ manufacturers: [{ caFile: 'acme/manufacturer-ca.pem', extra: true }] }), /manufacturers\[0\]\.extra.*unknown setting/);
  refused(() => load({ manufacturers: [{ caFile: 'not-a-cert.pem', masaCaFile: 'acme/masa-ca.pem' }] }), /caFile/);
  refused(() => load({ serials: ['ok', ''] }), /onboarding\.serials/);
  refused(() => load({ models: 'Thermo' }), /onboarding\.models/);
  refused(() => load({ retryAfterSeconds: 0 }), /retryAfterSeconds/);
  refused(() => load({ lwm2mUri: 'coap://x:5683' }), /lwm2mUri/);
});

test('masaCaFile is required when no masa-ca.pem sits beside the CA', async (t) => {
  const { dir, load } = await setup(t);
  // Any certificate will do for the CA file itself.
  writeFileSync(join(dir, 'lonely.pem'), readFileSync(join(dir, 'acme', 'manufacturer-ca.pem')));
  refused(() => load({ manufacturers: [{ caFile: 'lonely.pem' }] }), /masaCaFile.*does not exist/);
  assert.equal(load({ manufacturers: [{ caFile: 'lonely.pem', masaCaFile: 'acme/masa-ca.pem' }] }).config.onboarding?.manufacturers[0]?.masaCaFile, join(dir, 'acme', 'masa-ca.pem'));
});
