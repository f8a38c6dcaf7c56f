import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { isRootlineError } from '../../../src/errors.js';
import { loadMasterKey, parseMasterKey } from '../../../src/crypto/keystore/index.js';

const dir = mkdtempSync(join(tmpdir(), 'rootline-mk-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function throwsCode(fn: () => unknown, code: string, mustNotMention?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isRootlineError(e, code), `expected ${code}, got ${String(e)}`);
    if (mustNotMention !== undefined) assert.ok(!(e as Error).message.includes(mustNotMention), 'the error quotes the key');
    return true;
  });
}

describe('master key parsing and loading', () => {
  const key = randomBytes(32);

  it('accepts hex (either case), base64 and base64url, with surrounding whitespace', () => {
    for (const text of [
      key.toString('hex'),
      key.toString('hex').toUpperCase(),
      key.toString('base64'),
      key.toString('base64').replace(/=$/, ''),
      key.toString('base64url'),
      `  ${key.toString('hex')}\n`,
    ]) {
      assert.deepEqual(Buffer.from(parseMasterKey(text, 'test')), key, text);
    }
  });

  it('refuses wrong lengths and malformed text with ERR_KEYSTORE_MASTER_KEY_INVALID, without quoting it', () => {
    const hex31 = randomBytes(31).toString('hex');
    for (const text of ['', hex31, randomBytes(33).toString('hex'), randomBytes(16).toString('base64'), `${key.toString('hex').slice(0, 63)}g`]) {
      throwsCode(() => parseMasterKey(text, 'test'), 'ERR_KEYSTORE_MASTER_KEY_INVALID', text === '' ? undefined : text);
    }
    // Non-canonical base64 (the padding bits of the last character set) is a typo, not a key.
    const b64 = key.toString('base64');
    const last = b64[42]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const tweaked = `${b64.slice(0, 42)}${alphabet[alphabet.indexOf(last) ^ 1]}=`;
    throwsCode(() => parseMasterKey(tweaked, 'test'), 'ERR_KEYSTORE_MASTER_KEY_INVALID');
  });

  it('loads from the environment variable first, then the file', () => {
    const other = randomBytes(32);
    const file = join(dir, 'master.key');
    writeFileSync(file, `${other.toString('base64')}\n`, { mode: 0o600 });
    process.env.ROOTLINE_TEST_MASTER_KEY = key.toString('hex');
    assert.deepEqual(Buffer.from(loadMasterKey({ env: 'ROOTLINE_TEST_MASTER_KEY', file })!), key);
    process.env.ROOTLINE_TEST_MASTER_KEY = '';
    assert.deepEqual(Buffer.from(loadMasterKey({ env: 'ROOTLINE_TEST_MASTER_KEY', file })!), other);
    delete process.env.ROOTLINE_TEST_MASTER_KEY;
    assert.deepEqual(Buffer.from(loadMasterKey({ file })!), other);
    assert.equal(loadMasterKey({ env: 'ROOTLINE_TEST_MASTER_KEY' }), undefined);
    assert.equal(loadMasterKey({}), undefined);
  });

  it('a missing file is ERR_KEYSTORE_MASTER_KEY_MISSING; a bad one ERR_KEYSTORE_MASTER_KEY_INVALID', () => {
    throwsCode(() => loadMasterKey({ file: join(dir, 'nope.key') }), 'ERR_KEYSTORE_MASTER_KEY_MISSING');
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, 'not a key');
    throwsCode(() => loadMasterKey({ file: bad }), 'ERR_KEYSTORE_MASTER_KEY_INVALID', 'not a key');
    process.env.ROOTLINE_TEST_BAD_KEY = 'abcd';
    throwsCode(() => loadMasterKey({ env: 'ROOTLINE_TEST_BAD_KEY' }), 'ERR_KEYSTORE_MASTER_KEY_INVALID', 'abcd');
    delete process.env.ROOTLINE_TEST_BAD_KEY;
  });

  it('validates its options', () => {
    throwsCode(() => loadMasterKey(null as never), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => loadMasterKey({ env: 'bad name' }), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => loadMasterKey({ file: 42 as never }), 'ERR_INVALID_ARGUMENT');
  });

  it('fuzz: any text gives a 32-byte key or a typed error', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.stringMatching(/^[0-9a-fA-F]{60,68}$/),
      fc.stringMatching(/^[A-Za-z0-9+/_-]{40,46}={0,2}$/),
      fc.uint8Array({ minLength: 30, maxLength: 34 }).map((b) => Buffer.from(b).toString('base64')),
    );
    fc.assert(
      fc.property(text, (t) => {
        try {
          assert.equal(parseMasterKey(t, 'fuzz').length, 32);
        } catch (e) {
          assert.ok(isRootlineError(e, 'ERR_KEYSTORE_MASTER_KEY_INVALID'), String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
