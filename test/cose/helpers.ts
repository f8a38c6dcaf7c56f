/**
 * Shared by the COSE tests: hex, vector files, cose-wg JSON inputs → our API, typed-error checks.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RootlineError } from '../../src/errors.js';

export const VECTORS = resolve(import.meta.dirname, '..', 'vectors');

export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

export function b64url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

export function readJson<T = Record<string, unknown>>(...path: string[]): T {
  return JSON.parse(readFileSync(join(VECTORS, ...path), 'utf8')) as T;
}

/** The vector files of one cose-wg/Examples directory, by file name. */
export function coseWgDir(dir: string): [string, CoseWgExample][] {
  return readdirSync(join(VECTORS, 'cose-wg', dir))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, readJson<CoseWgExample>('cose-wg', dir, f)]);
}

export interface CoseWgKey {
  kty: string;
  kid?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  k?: string;
}

export interface CoseWgLayer {
  protected?: Record<string, unknown>;
  unprotected?: Record<string, unknown>;
  external?: string;
  key?: CoseWgKey;
  alg?: string;
  recipients?: { key: CoseWgKey }[];
}

export interface CoseWgExample {
  title: string;
  fail?: boolean;
  input: {
    plaintext: string;
    sign0?: CoseWgLayer;
    mac0?: CoseWgLayer;
    encrypted?: CoseWgLayer;
    failures?: Record<string, unknown>;
    rng_stream?: string[] | string;
  };
  intermediates: { ToBeSign_hex?: string; ToMac_hex?: string; AAD_hex?: string; CEK_hex?: string };
  output: { cbor: string; cbor_diag: string };
}

/** cose-wg/Examples algorithm names → COSE identifiers (RFC 9053). */
export const COSE_WG_ALGS: Record<string, number> = {
  ES256: -7,
  EdDSA: -8,
  'HS256/64': 4,
  HS256: 5,
  HS384: 6,
  HS512: 7,
  'AES-MAC-128/64': 14,
  'AES-MAC-256/64': 15,
  'AES-MAC-128/128': 25,
  'AES-MAC-256/128': 26,
  A128GCM: 1,
  A192GCM: 2,
  A256GCM: 3,
  'AES-CCM-16-128/64': 10,
  'AES-CCM-16-256/64': 11,
  'AES-CCM-64-128/64': 12,
  'AES-CCM-64-256/64': 13,
  'AES-CCM-16-128/128': 30,
  'AES-CCM-16-256/128': 31,
  'AES-CCM-64-128/128': 32,
  'AES-CCM-64-256/128': 33,
};

/** A cose-wg JSON header bucket as a COSE header Map. */
export function coseWgHeader(json: Record<string, unknown> | undefined): Map<number, unknown> {
  const map = new Map<number, unknown>();
  for (const [name, value] of Object.entries(json ?? {})) {
    if (name === 'alg') map.set(1, COSE_WG_ALGS[value as string] ?? value);
    else if (name === 'ctyp') map.set(3, value);
    else if (name === 'kid') map.set(4, utf8(value as string));
    else throw new Error(`unmapped cose-wg header ${name}`);
  }
  return map;
}

export function coseWgPrivateKey(key: CoseWgKey): KeyObject {
  return createPrivateKey({ key: { kty: key.kty, crv: key.crv, x: key.x, y: key.y, d: key.d }, format: 'jwk' });
}

export function coseWgPublicKey(key: CoseWgKey): KeyObject {
  return createPublicKey(coseWgPrivateKey(key));
}

/** The layer's secret (direct recipient key). */
export function coseWgSecret(layer: CoseWgLayer): Uint8Array {
  const k = layer.recipients?.[0]?.key.k;
  assert.ok(k !== undefined, 'vector has no recipient key');
  return b64url(k);
}

export function rngStream(example: CoseWgExample): string {
  const s = example.input.rng_stream;
  assert.ok(s !== undefined, 'vector has no rng_stream');
  return Array.isArray(s) ? s[0]! : s;
}

/** Asserts that `promiseOrFn` fails with a RootlineError carrying `code`. */
export async function rejectsWithCode(promiseOrFn: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  await assert.rejects(
    async () => (typeof promiseOrFn === 'function' ? await promiseOrFn() : await promiseOrFn),
    (err: unknown) => {
      assert.ok(err instanceof RootlineError, `expected a RootlineError, got ${String(err)}`);
      assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
      return true;
    },
  );
}

export function throwsWithCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RootlineError, `expected a RootlineError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}
