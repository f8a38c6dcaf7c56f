import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import * as cose from '../../src/cose/index.js';
import { RootlineError } from '../../src/errors.js';

const readme = readFileSync(resolve(import.meta.dirname, '../../src/cose/README.md'), 'utf8');

describe('rootline/cose public surface', () => {
  it('exports the operations by name', () => {
    for (const name of [
      'encodeCbor', 'decodeCbor', 'sign1', 'verifySign1', 'mac0', 'verifyMac0', 'rawMacKey', 'keyStoreMacKey', 'encrypt0', 'decrypt0',
      'keyStoreContentKey', 'encodeCoseKey', 'decodeCoseKey', 'decodeCoseKeySet', 'coseKeyToKeyObject', 'coseKeyFromKeyObject',
      'coseKeyToSpki', 'coseKeyFromSpki', 'createCwt', 'verifyCwt', 'encodeCwtClaims', 'decodeCwtClaims',
    ]) {
      assert.equal(typeof (cose as Record<string, unknown>)[name], 'function', name);
    }
  });

  it('every error class has a stable code, and README documents exactly those codes', () => {
    const codes = new Set<string>();
    for (const [name, value] of Object.entries(cose)) {
      if (typeof value !== 'function' || !(value.prototype instanceof RootlineError)) continue;
      // Construct with placeholder arguments only to read the fixed code.
      const instance = new (value as new (...args: unknown[]) => RootlineError)('x', 'y');
      if (name === 'CoseError' || name === 'CwtError') continue;
      codes.add(instance.code);
    }
    assert.ok(codes.size >= 20);
    const documented = new Set(readme.match(/ERR_(COSE|CWT)_[A-Z_]+/g));
    assert.deepEqual([...codes].sort(), [...documented].sort());
  });

  it('every algorithm identifier in CoseAlgorithm appears in the README table', () => {
    for (const [name, id] of Object.entries(cose.CoseAlgorithm)) {
      const pattern = id < -65546 ? /-65547 … -65556/ : new RegExp(`(^|[ |/])${id}( |$)`, 'm');
      assert.match(readme, pattern, `${name} (${id})`);
    }
  });
});
