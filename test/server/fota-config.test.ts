/** The delivery settings of serve: fotaDelivery, fotaHttpsPort, fotaHttpsBaseUri — parsed, defaulted, refused with their source named. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_FOTA_HTTPS_PORT, loadConfig } from '../../src/server/config.js';
import { resolveHttpsBaseUri } from '../../src/server/fota-driver.js';

test('fota delivery settings: defaults, file, env and flag; https-pull brings the listener on its default port', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-fota-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const load = (env: Record<string, string> = {}, flags: Record<string, string> = {}, configFile?: string) => loadConfig({ env, flags: { dataDir: dir, ...flags }, ...(configFile !== undefined ? { configFile } : {}) });

  const d = load();
  // Absent means lwm2m-pull (the driver's default), so the defaults object stays as it was.
  assert.deepEqual([d.config.fotaDelivery, d.config.fotaHttpsPort, d.config.fotaHttpsBaseUri], [undefined, undefined, undefined]);
  assert.equal(d.sources.fotaDelivery, 'default');

  assert.equal(load({ ROOTLINE_FOTA_DELIVERY: 'lwm2m-push' }).config.fotaDelivery, 'lwm2m-push');
  const https = load({}, { fotaDelivery: 'https-pull' });
  assert.deepEqual([https.config.fotaDelivery, https.config.fotaHttpsPort], ['https-pull', DEFAULT_FOTA_HTTPS_PORT]);
  assert.equal(load({ ROOTLINE_FOTA_DELIVERY: 'https-pull', ROOTLINE_FOTA_HTTPS_PORT: '0' }).config.fotaHttpsPort, 0);
  // A listener for campaigns that ask for HTTPS, while the default stays LwM2M pull.
  const both = load({}, { fotaHttpsPort: '9443', fotaHttpsBaseUri: 'https://fw.example.com:9443/' });
  assert.deepEqual([both.config.fotaDelivery, both.config.fotaHttpsPort, both.config.fotaHttpsBaseUri], [undefined, 9443, 'https://fw.example.com:9443']);

  const file = join(dir, 'rootline.json');
  writeFileSync(file, JSON.stringify({ fotaDelivery: 'https-pull', fotaHttpsPort: 5999, fotaHttpsBaseUri: 'https://[2001:db8::1]:5999' }));
  const fromFile = load({}, {}, file);
  assert.deepEqual([fromFile.config.fotaDelivery, fromFile.config.fotaHttpsPort, fromFile.config.fotaHttpsBaseUri], ['https-pull', 5999, 'https://[2001:db8::1]:5999']);
  assert.equal(fromFile.sources.fotaHttpsPort, 'file');
});

test('fota delivery settings: every bad value is ERR_CONFIG_INVALID naming the setting and where it came from', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-fota-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const refuses = (pattern: RegExp, env: Record<string, string>, flags: Record<string, string> = {}, configFile?: string): void => {
    assert.throws(
      () => loadConfig({ env, flags: { dataDir: dir, ...flags }, ...(configFile !== undefined ? { configFile } : {}) }),
      (err: { code?: string; message?: string }) => err.code === 'ERR_CONFIG_INVALID' && pattern.test(err.message ?? ''),
      `${JSON.stringify({ env, flags })} should be refused with ${pattern}`,
    );
  };
  for (const bad of ['pull', 'HTTPS-PULL', 'coap', '']) refuses(/fotaDelivery from flag --fota-delivery: expected one of lwm2m-pull, lwm2m-push, https-pull/, {}, { fotaDelivery: bad });
  refuses(/fotaDelivery from environment variable ROOTLINE_FOTA_DELIVERY/, { ROOTLINE_FOTA_DELIVERY: 'push' });
  for (const bad of ['65536', '-1', 'abc', '1.5']) refuses(/fotaHttpsPort from flag --fota-https-port: expected an integer port/, {}, { fotaHttpsPort: bad });
  for (const bad of ['coaps://fw.example', 'http://fw.example', 'https://0.0.0.0:5685', 'https://[::]:5685', 'https://fw.example/fw', 'https://u:p@fw.example', 'https://fw.example?x=1', 'fw.example']) {
    refuses(/fotaHttpsBaseUri from flag --fota-https-base-uri/, {}, { fotaHttpsPort: '0', fotaHttpsBaseUri: bad });
  }
  refuses(/fotaHttpsBaseUri: there is no HTTPS package listener/, {}, { fotaHttpsBaseUri: 'https://fw.example.com' });
  refuses(/fotaHttpsPort: port 8080 is also used by httpPort/, { ROOTLINE_FOTA_HTTPS_PORT: '8080' });
  refuses(/fotaHttpsPort: port 8443 is also used by estPort/, {}, { fotaHttpsPort: '8443' });
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ fotaHttpsPort: '5685' }));
  refuses(/fotaHttpsPort in config file .*bad\.json: expected an integer port/, {}, {}, file);
  writeFileSync(file, JSON.stringify({ fotaDelivery: 7 }));
  refuses(/fotaDelivery in config file/, {}, {}, file);
});

test('the HTTPS base URI devices are given: configured, else the listener address, loopback for a wildcard bind', () => {
  assert.deepEqual(resolveHttpsBaseUri({ deviceHost: '0.0.0.0' }, { port: 5685 }), { uri: 'https://127.0.0.1:5685', source: 'loopback-fallback' });
  assert.deepEqual(resolveHttpsBaseUri({ deviceHost: '192.0.2.7' }, { port: 41000 }), { uri: 'https://192.0.2.7:41000', source: 'listener' });
  assert.deepEqual(resolveHttpsBaseUri({ deviceHost: 'fd00::1' }, { port: 5685 }), { uri: 'https://[fd00::1]:5685', source: 'listener' });
  assert.deepEqual(resolveHttpsBaseUri({ deviceHost: '0.0.0.0', fotaHttpsBaseUri: 'https://fw.example' }, { port: 1 }), { uri: 'https://fw.example', source: 'config' });
});
