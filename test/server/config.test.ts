import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/server/config.js';
import { ConfigError } from '../../src/server/errors.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function configError(fn: () => unknown, check: { setting: string; source: string; message: RegExp }): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'ERR_CONFIG_INVALID');
    assert.equal(e.setting, check.setting);
    assert.equal(e.source, check.source);
    assert.match(e.message, check.message);
    return true;
  });
}

test('defaults: data dir ./data, loopback API, standard ports, info, SQLite and master key in the data dir', () => {
  const { config, sources } = loadConfig({ env: {}, cwd: '/srv/rl' });
  assert.deepEqual(config, {
    dataDir: '/srv/rl/data',
    host: '127.0.0.1',
    deviceHost: '0.0.0.0',
    httpPort: 8080,
    coapPort: 5683,
    coapsPort: 5684,
    estPort: 8443,
    logLevel: 'info',
    storeUrl: 'sqlite:/srv/rl/data/rootline.db',
    masterKeyFile: '/srv/rl/data/master.key',
    firmwareMaxBytes: 64 * 1024 * 1024,
    campaignTickMs: 1000,
  });
  assert.ok(Object.values(sources).every((s) => s === 'default'));
});

test('precedence: file < env < flag, and data-dir defaults follow the data dir', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'rootline.json');
  writeFileSync(file, JSON.stringify({ data: 'state', httpPort: 9000, coapPort: 6000, logLevel: 'warn', host: '0.0.0.0' }));
  const { config, sources, configFile } = loadConfig({
    configFile: file,
    env: { ROOTLINE_HTTP_PORT: '9001', ROOTLINE_COAP_PORT: '6001', ROOTLINE_LOG_LEVEL: 'debug' },
    flags: { httpPort: '9002' },
    cwd: '/elsewhere',
  });
  assert.equal(configFile, file);
  // Relative paths in the file resolve against the file's directory, not the cwd.
  assert.equal(config.dataDir, join(dir, 'state'));
  assert.equal(config.storeUrl, `sqlite:${join(dir, 'state', 'rootline.db')}`);
  assert.equal(config.masterKeyFile, join(dir, 'state', 'master.key'));
  assert.equal(config.httpPort, 9002);
  assert.equal(sources.httpPort, 'flag');
  assert.equal(config.coapPort, 6001);
  assert.equal(sources.coapPort, 'env');
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.host, '0.0.0.0');
  assert.equal(sources.host, 'file');
  assert.equal(config.estPort, 8443);
  assert.equal(sources.estPort, 'default');
});

test('ROOTLINE_CONFIG names the file when --config is absent; empty env values count as unset', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ estPort: 9443 }));
  const { config } = loadConfig({ env: { ROOTLINE_CONFIG: file, ROOTLINE_HTTP_PORT: '' } });
  assert.equal(config.estPort, 9443);
  assert.equal(config.httpPort, 8080);
});

test('a bad flag value names the setting and the flag', () => {
  configError(() => loadConfig({ env: {}, flags: { httpPort: 'abc' } }), {
    setting: 'httpPort',
    source: 'flag',
    message: /httpPort from flag --http-port: expected an integer port 0\.\.65535, got "abc"/,
  });
  configError(() => loadConfig({ env: {}, flags: { coapsPort: '65536' } }), { setting: 'coapsPort', source: 'flag', message: /--coaps-port.*65536/ });
  configError(() => loadConfig({ env: {}, flags: { logLevel: 'loud' } }), { setting: 'logLevel', source: 'flag', message: /--log-level: expected one of fatal, error, warn, info, debug, trace, silent/ });
  configError(() => loadConfig({ env: {}, flags: { host: 'not a host!' } }), { setting: 'host', source: 'flag', message: /--host: expected an IP address or host name/ });
  configError(() => loadConfig({ env: {}, flags: { dataDir: '' } }), { setting: 'dataDir', source: 'flag', message: /--data: expected a non-empty path/ });
});

test('a bad environment value names the variable', () => {
  configError(() => loadConfig({ env: { ROOTLINE_EST_PORT: '-1' } }), { setting: 'estPort', source: 'env', message: /environment variable ROOTLINE_EST_PORT/ });
  configError(() => loadConfig({ env: { ROOTLINE_HTTP_PORT: '80.5' } }), { setting: 'httpPort', source: 'env', message: /ROOTLINE_HTTP_PORT.*"80\.5"/ });
  configError(() => loadConfig({ env: { ROOTLINE_STORE_URL: 'mysql://u:hunter2@db/x' } }), { setting: 'storeUrl', source: 'env', message: /ROOTLINE_STORE_URL: unsupported store scheme "mysql"/ });
});

test('a store URL with a password is never echoed in the error', () => {
  assert.throws(() => loadConfig({ env: { ROOTLINE_STORE_URL: 'mysql://u:hunter2@db/x' } }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.doesNotMatch(e.message, /hunter2/);
    return true;
  });
});

test('config file errors: unknown key, wrong type, bad JSON, not an object, unreadable', (t) => {
  const dir = tempDir(t);
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  configError(() => loadConfig({ env: {}, configFile: write('a.json', '{"httpPort": 1, "htpPort": 2}') }), {
    setting: 'htpPort',
    source: 'file',
    message: /htpPort in config file .*a\.json: unknown setting; known settings are data, host/,
  });
  // Ports in a JSON file are numbers; "8080" is a mistake worth pointing out.
  configError(() => loadConfig({ env: {}, configFile: write('b.json', '{"httpPort": "8080"}') }), { setting: 'httpPort', source: 'file', message: /httpPort in config file .*b\.json: expected an integer port/ });
  configError(() => loadConfig({ env: {}, configFile: write('c.json', '{"coapPort": 5683.5}') }), { setting: 'coapPort', source: 'file', message: /5683\.5/ });
  configError(() => loadConfig({ env: {}, configFile: write('d.json', '{nope') }), { setting: 'config', source: 'file', message: /is not valid JSON/ });
  configError(() => loadConfig({ env: {}, configFile: write('e.json', '[1]') }), { setting: 'config', source: 'file', message: /one JSON object/ });
  configError(() => loadConfig({ env: {}, configFile: join(dir, 'missing.json') }), { setting: 'config', source: 'flag', message: /cannot read config file .*missing\.json: ENOENT/ });
});

test('two listeners on one transport and port are refused; port 0 twice is fine', () => {
  configError(() => loadConfig({ env: {}, flags: { httpPort: '9000', estPort: '9000' } }), { setting: 'estPort', source: 'flag', message: /port 9000 is also used by httpPort/ });
  configError(() => loadConfig({ env: { ROOTLINE_COAPS_PORT: '5683' } }), { setting: 'coapsPort', source: 'env', message: /also used by coapPort/ });
  const { config } = loadConfig({ env: {}, flags: { httpPort: '0', estPort: '0', coapPort: '0', coapsPort: '0' } });
  assert.equal(config.httpPort, 0);
  // TCP and UDP are separate port spaces: HTTP and CoAP on one number is allowed.
  assert.equal(loadConfig({ env: {}, flags: { httpPort: '5683' } }).config.httpPort, 5683);
});

test('store URLs: relative sqlite paths are made absolute, postgres URLs pass', () => {
  assert.equal(loadConfig({ env: {}, flags: { storeUrl: 'sqlite:db/x.sqlite' }, cwd: '/srv' }).config.storeUrl, 'sqlite:/srv/db/x.sqlite');
  assert.equal(loadConfig({ env: {}, flags: { storeUrl: 'postgres://rl@localhost/rootline' } }).config.storeUrl, 'postgres://rl@localhost/rootline');
  configError(() => loadConfig({ env: {}, flags: { storeUrl: 'sqlite:' } }), { setting: 'storeUrl', source: 'flag', message: /--store: sqlite: needs a file path/ });
  // A plain path is a SQLite file, as openStore() takes it.
  assert.equal(loadConfig({ env: {}, flags: { storeUrl: 'state.db' }, cwd: '/srv' }).config.storeUrl, 'sqlite:/srv/state.db');
  assert.equal(loadConfig({ env: {}, flags: { storeUrl: 'sqlite:///var/db/x.db' } }).config.storeUrl, 'sqlite:/var/db/x.db');
});
