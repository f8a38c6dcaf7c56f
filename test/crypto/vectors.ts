// Helpers for the vector tests: load a JSON vector file from test/vectors/<source>/ and decode hex.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function loadVectors<T>(source: string, file: string): T {
  const path = fileURLToPath(new URL(`../vectors/${source}/${file}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Hex (any case, spaces allowed) → bytes. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex in vector: ${s.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
