/** Shared fixtures for the SUIT tests: the draft's example vectors and freshly made keys. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import type { Signer } from '../../../src/crypto/keystore/types.js';

export interface DraftExample {
  name: string;
  file: string;
  alg: number;
  hex: string;
  manifestDigest: string;
  sequenceNumber: number;
  components: string[][];
  vendorId: string;
  classId: string;
  imageDigest: string | null;
  imageSize: number | null;
  uri: string | null;
  tryEachBranches?: number;
  members: string[];
  referenceUri?: string;
  severed?: string[];
  severedDigests?: Record<string, string>;
  text?: { language: string; vendorDomain: string };
}

export interface DraftExamples {
  source: string;
  publicKeyPem: string;
  examples: DraftExample[];
}

export function readDraftExamples(): DraftExamples {
  const path = join(import.meta.dirname, '..', '..', 'vectors', 'suit-manifest', 'draft-examples.json');
  return JSON.parse(readFileSync(path, 'utf8')) as DraftExamples;
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export interface TestKey {
  signer: Signer;
  publicKey: KeyObject;
}

export function p256Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { signer: keyObjectSigner(privateKey), publicKey };
}

export function ed25519Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { signer: keyObjectSigner(privateKey), publicKey };
}

/** Asserts a rejection with the given error code (used with assert.rejects / assert.throws). */
export function hasCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    if ((err as { code?: unknown }).code !== code) throw new Error(`expected ${code}, got ${String((err as { code?: unknown }).code)}: ${String(err)}`);
    return true;
  };
}
