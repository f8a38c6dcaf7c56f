/**
 * A throw-away SoftHSM2 token for tests: its own softhsm2.conf and token directory under a temp
 * directory, selected through SOFTHSM2_CONF (read by the library at C_Initialize, so this must
 * run before the first store is opened in the process).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { openPkcs11KeyStore } from '../../../src/crypto/keystore/pkcs11.js';
import type { KeyStore } from '../../../src/crypto/keystore/types.js';
import { requirePeer } from '../../helpers/peers.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const TOKEN_LABEL = 'rootline-test';
export const USER_PIN = '1234';

/** node:test `skip` value: SKIPPED (or a CI failure) when SoftHSM2 is not installed. */
export function softHsmSkip(): string | false {
  return requirePeer('SoftHSM2', ['softhsm2-util'], 'apt-get install softhsm2') || requirePeer('SoftHSM2 module', [SOFTHSM_MODULE], 'apt-get install softhsm2');
}

export interface TestToken {
  module: string;
  tokenLabel: string;
  pin: string;
  directory: string;
  cleanup(): void;
}

export function createSoftHsmToken(): TestToken {
  const directory = mkdtempSync(join(tmpdir(), 'rootline-softhsm-'));
  const tokens = join(directory, 'tokens');
  mkdirSync(tokens);
  const conf = join(directory, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const r = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', TOKEN_LABEL, '--pin', USER_PIN, '--so-pin', '5678'], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`softhsm2-util --init-token failed: ${r.stderr || r.stdout}`);
  }
  return {
    module: SOFTHSM_MODULE,
    tokenLabel: TOKEN_LABEL,
    pin: USER_PIN,
    directory,
    cleanup: () => rmSync(directory, { recursive: true, force: true }),
  };
}

/** A PKCS#11 KeyStore on `token`, logged in with its user PIN. */
export function openTokenKeyStore(token: TestToken): Promise<KeyStore> {
  return openPkcs11KeyStore({ module: token.module, tokenLabel: token.tokenLabel, pin: token.pin });
}

/**
 * For a describe() block: a fresh token and a KeyStore open on it before the block's tests, both
 * closed and removed after them. Read `store` (and `token`) inside the tests, not before.
 */
export function useTokenKeyStore(): { readonly token: TestToken; readonly store: KeyStore } {
  let token: TestToken | undefined;
  let store: KeyStore | undefined;
  before(async () => {
    token = createSoftHsmToken();
    store = await openTokenKeyStore(token);
  });
  after(async () => {
    await store?.close();
    token?.cleanup();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the SoftHSM2 token is opened by a before() hook: use it inside the tests');
    return value;
  };
  return {
    get token() {
      return ready(token);
    },
    get store() {
      return ready(store);
    },
  };
}
