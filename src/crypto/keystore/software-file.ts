/**
 * The software store's file, `keystore.json`: its JSON shape, a strict parser (anything off is
 * ERR_KEYSTORE_CORRUPT), the at-rest encryption of each key, and atomic writes.
 *
 * Every secret is sealed with AES-256-GCM under a key-encryption key (KEK) derived from the master
 * key with HKDF-SHA-256 and the store's random salt. The record's label, type, creation time and
 * public key are the GCM associated data, so moving a sealed secret to another label or type, or
 * swapping in another public key, fails authentication. A sealed check value lets a wrong master
 * key be told apart from a damaged key record. Internal: not exported from index.ts.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KeyStoreCorruptError } from './errors.js';
import { KEY_TYPES, type KeyType } from './types.js';
import { LABEL_PATTERN } from './validate.js';

export const FILE_FORMAT = 'rootline-keystore';
export const FILE_VERSION = 1;
const SALT_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Refuse to parse absurdly large files (a store holds a few thousand keys at most). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

export interface SealedValue {
  nonce: string;
  sealed: string;
}

export interface KeyRecord extends SealedValue {
  label: string;
  type: KeyType;
  createdAt: string;
  /** SPKI DER, base64, for asymmetric keys. */
  publicKey?: string;
}

export interface StoreFile {
  format: typeof FILE_FORMAT;
  version: typeof FILE_VERSION;
  kdf: 'HKDF-SHA-256';
  salt: string;
  check: SealedValue;
  keys: KeyRecord[];
}

/** 32 zero bytes: what the check value seals. Its authenticity, not its content, is the test. */
const CHECK_PLAINTEXT = Buffer.alloc(32);

function corrupt(why: string): never {
  throw new KeyStoreCorruptError(`key store file is corrupt: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decodes canonical base64 of a length within [min, max]; corrupt otherwise. */
export function decodeB64(value: unknown, what: string, min: number, max: number): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) corrupt(`${what} is not base64`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) corrupt(`${what} is not canonical base64`);
  if (bytes.length < min || bytes.length > max) corrupt(`${what} has a bad length`);
  return bytes;
}

function parseSealed(v: unknown, what: string): SealedValue {
  if (!isObject(v)) corrupt(`${what} is not an object`);
  decodeB64(v.nonce, `${what}.nonce`, NONCE_BYTES, NONCE_BYTES);
  decodeB64(v.sealed, `${what}.sealed`, TAG_BYTES, 1 << 20);
  return { nonce: v.nonce as string, sealed: v.sealed as string };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** Parses and checks the file's structure (not its cryptography). */
export function parseStoreFile(text: string): StoreFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    corrupt('not JSON');
  }
  if (!isObject(doc)) corrupt('not a JSON object');
  if (doc.format !== FILE_FORMAT) corrupt('not a rootline key store');
  if (doc.version !== FILE_VERSION) corrupt(`unsupported version ${JSON.stringify(doc.version)}`);
  if (doc.kdf !== 'HKDF-SHA-256') corrupt('unsupported kdf');
  decodeB64(doc.salt, 'salt', SALT_BYTES, SALT_BYTES);
  const check = parseSealed(doc.check, 'check');
  if (!Array.isArray(doc.keys)) corrupt('keys is not an array');
  const seen = new Set<string>();
  const keys: KeyRecord[] = doc.keys.map((k: unknown, i: number): KeyRecord => {
    if (!isObject(k)) corrupt(`keys[${i}] is not an object`);
    const { label, type, createdAt, publicKey } = k;
    if (typeof label !== 'string' || !LABEL_PATTERN.test(label)) corrupt(`keys[${i}].label is invalid`);
    if (seen.has(label)) corrupt(`label ${JSON.stringify(label)} appears twice`);
    seen.add(label);
    if (!KEY_TYPES.includes(type as KeyType)) corrupt(`keys[${i}].type is invalid`);
    if (typeof createdAt !== 'string' || !ISO_TIME.test(createdAt)) corrupt(`keys[${i}].createdAt is invalid`);
    const asymmetric = type === 'ec-p256' || type === 'ed25519';
    if (asymmetric !== (publicKey !== undefined)) corrupt(`keys[${i}].publicKey is ${asymmetric ? 'missing' : 'unexpected'}`);
    if (publicKey !== undefined) decodeB64(publicKey, `keys[${i}].publicKey`, 32, 256);
    const sealed = parseSealed(k, `keys[${i}]`);
    const rec: KeyRecord = { label, type: type as KeyType, createdAt, ...sealed };
    if (publicKey !== undefined) rec.publicKey = publicKey as string;
    return rec;
  });
  return { format: FILE_FORMAT, version: FILE_VERSION, kdf: 'HKDF-SHA-256', salt: doc.salt as string, check, keys };
}

/** The key-encryption key: HKDF-SHA-256(master key, store salt). */
export function deriveKek(masterKey: Uint8Array, salt: Uint8Array): KeyObject {
  const okm = Buffer.from(hkdfSync('sha256', masterKey, salt, 'rootline keystore v1 key-encryption key', 32));
  const kek = createSecretKey(okm);
  okm.fill(0);
  return kek;
}

/** The associated data binding a sealed secret to its record (JSON array: unambiguous). */
function recordAad(rec: Pick<KeyRecord, 'label' | 'type' | 'createdAt' | 'publicKey'>): Buffer {
  return Buffer.from(JSON.stringify([`${FILE_FORMAT}/${FILE_VERSION}`, 'key', rec.label, rec.type, rec.createdAt, rec.publicKey ?? '']));
}

function checkAad(salt: string): Buffer {
  return Buffer.from(JSON.stringify([`${FILE_FORMAT}/${FILE_VERSION}`, 'check', salt]));
}

function seal(kek: KeyObject, aad: Buffer, plaintext: Uint8Array): SealedValue {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(aad);
  const sealed = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return { nonce: nonce.toString('base64'), sealed: sealed.toString('base64') };
}

/** Returns the plaintext, or undefined when authentication fails. */
function unseal(kek: KeyObject, aad: Buffer, value: SealedValue): Buffer | undefined {
  const nonce = Buffer.from(value.nonce, 'base64');
  const sealed = Buffer.from(value.sealed, 'base64');
  const d = createDecipheriv('aes-256-gcm', kek, nonce);
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const out = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
  try {
    d.final();
    return out;
  } catch {
    out.fill(0);
    return undefined;
  }
}

/** A fresh, empty store file sealed under a new salt; returns it with its KEK. */
export function newStoreFile(masterKey: Uint8Array): { file: StoreFile; kek: KeyObject } {
  const salt = randomBytes(SALT_BYTES).toString('base64');
  const kek = deriveKek(masterKey, Buffer.from(salt, 'base64'));
  const check = seal(kek, checkAad(salt), CHECK_PLAINTEXT);
  return { file: { format: FILE_FORMAT, version: FILE_VERSION, kdf: 'HKDF-SHA-256', salt, check, keys: [] }, kek };
}

/** True when `kek` opens the file's check value, i.e. it was derived from the right master key. */
export function checkKek(file: StoreFile, kek: KeyObject): boolean {
  const out = unseal(kek, checkAad(file.salt), file.check);
  return out !== undefined && out.equals(CHECK_PLAINTEXT);
}

export function sealRecord(kek: KeyObject, meta: Pick<KeyRecord, 'label' | 'type' | 'createdAt' | 'publicKey'>, secret: Uint8Array): KeyRecord {
  const rec: KeyRecord = { label: meta.label, type: meta.type, createdAt: meta.createdAt, nonce: '', sealed: '' };
  if (meta.publicKey !== undefined) rec.publicKey = meta.publicKey;
  return { ...rec, ...seal(kek, recordAad(rec), secret) };
}

/** The record's secret; ERR_KEYSTORE_CORRUPT when it fails authentication. Caller zeroes it. */
export function unsealRecord(kek: KeyObject, rec: KeyRecord): Buffer {
  const out = unseal(kek, recordAad(rec), rec);
  if (out === undefined) corrupt(`key ${JSON.stringify(rec.label)} fails authentication`);
  return out;
}

/** Writes `file` to `path` atomically (temporary file, fsync, rename) with mode 0600. */
export async function writeStoreFile(path: string, file: StoreFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(file, null, 1)}\n`);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // Make the rename itself durable; not every platform lets a directory be fsynced.
  const dir = await open(dirname(path), 'r').catch(() => undefined);
  if (dir !== undefined) {
    await dir.sync().catch(() => undefined);
    await dir.close();
  }
}
