import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertBytes, assertInteger, assertOneOf, assertString } from '../../src/util/assert.js';
import { InvalidArgumentError, isRootlineError } from '../../src/errors.js';

test('assertBytes names the argument and the expected length', () => {
  assert.throws(() => assertBytes(new Uint8Array(3), 'key', { len: 16 }), (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError);
    assert.equal(e.code, 'ERR_INVALID_ARGUMENT');
    assert.equal(e.argument, 'key');
    assert.match(e.message, /key: expected 16 bytes, got 3/);
    return true;
  });
  assert.throws(() => assertBytes('abc', 'nonce'), /nonce: expected a Uint8Array, got "abc"/);
  assert.throws(() => assertBytes(new Uint8Array(5), 'tag', { len: [8, 16] }), /one of 8, 16/);
  assertBytes(Buffer.alloc(16), 'key', { len: 16 });
  assertBytes(new Uint8Array(2), 'x', { min: 1, max: 2 });
});

test('assertInteger, assertString, assertOneOf', () => {
  assert.throws(() => assertInteger(1.5, 'port'), /port: expected an integer/);
  assert.throws(() => assertInteger(70000, 'port', 0, 65535), /0\.\.65535, got 70000/);
  assertInteger(0, 'port', 0, 65535);
  assert.throws(() => assertString('', 'label'), /at least 1/);
  assert.throws(() => assertString('a b', 'label', { pattern: /^\S+$/ }), /does not match/);
  assert.throws(() => assertOneOf('DES', 'alg', ['AES', 'LEA']), (e: unknown) => isRootlineError(e, 'ERR_INVALID_ARGUMENT'));
  assertOneOf('LEA', 'alg', ['AES', 'LEA']);
});
