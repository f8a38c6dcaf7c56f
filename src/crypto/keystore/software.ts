/**
 * The software KeyStore: keys in one file in the data directory, each secret sealed at rest under
 * a key derived from the operator's master key (see software-file.ts). Symmetric secrets are
 * decrypted for the duration of one operation and the plaintext buffers are zeroed afterwards.
 * An asymmetric key is decrypted and imported once, at its first use, and kept as a native
 * KeyObject (OpenSSL memory, never exported, never printed) until the key is deleted or the
 * store closed: `createPrivateKey` from PKCS#8 cost ~0.34 ms per signature (a third of an
 * onboarding's domain-CA, registrar and MASA signing).
 *
 * One process owns a store directory at a time: the file is read once at open and rewritten
 * atomically on every change.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { InvalidArgumentError } from '../../errors.js';
import { assertBytes, assertString } from '../../util/assert.js';
import {
  AeadAuthFailedError,
  KeyNotFoundError,
  KeyStoreClosedError,
  KeyStoreCorruptError,
  LabelExistsError,
  MasterKeyMissingError,
  MasterKeyWrongError,
} from './errors.js';
import { parsePeerP256, parsePkcs8, spkiOf } from './key-material.js';
import {
  MAX_FILE_BYTES,
  checkKek,
  deriveKek,
  newStoreFile,
  parseStoreFile,
  sealRecord,
  unsealRecord,
  writeStoreFile,
  type KeyRecord,
  type StoreFile,
} from './software-file.js';
import type { KeyInfo, KeyStore, KeyStoreAeadAlgorithm, KeyType } from './types.js';
import { assertKeyType, assertLabel, checkAeadArgs, isAsymmetric, requireKeyType, secretLengthRule, type AeadParams } from './validate.js';

export interface SoftwareKeyStoreOptions {
  /** Data directory; the store lives in `<directory>/keystore.json` (created 0700 / 0600). */
  directory: string;
  /**
   * The 32-byte master key (see loadMasterKey). May be left out only while the store holds no
   * keys; creating a key then fails with ERR_KEYSTORE_MASTER_KEY_MISSING.
   */
  masterKey?: Uint8Array;
}

export const KEYSTORE_FILE_NAME = 'keystore.json';

/**
 * Opens (or creates) the software key store in `directory`.
 * - keys present but no master key: ERR_KEYSTORE_MASTER_KEY_MISSING;
 * - a master key that is not the store's: ERR_KEYSTORE_MASTER_KEY_WRONG;
 * - a malformed file or a key record failing authentication: ERR_KEYSTORE_CORRUPT.
 */
export async function openSoftwareKeyStore(options: SoftwareKeyStoreOptions): Promise<KeyStore> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  assertString(options.directory, 'directory', { max: 4096 });
  if (options.masterKey !== undefined) assertBytes(options.masterKey, 'masterKey', { len: 32 });
  const path = join(options.directory, KEYSTORE_FILE_NAME);

  let text: string | undefined;
  try {
    const st = await stat(path);
    if (st.size > MAX_FILE_BYTES) throw new KeyStoreCorruptError(`key store file ${path} is implausibly large`);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }

  if (text === undefined) {
    if (options.masterKey === undefined) return new SoftwareKeyStore(path, undefined, undefined);
    const { file, kek } = newStoreFile(options.masterKey);
    await writeStoreFile(path, file);
    return new SoftwareKeyStore(path, file, kek);
  }

  const file = parseStoreFile(text);
  if (options.masterKey === undefined) {
    if (file.keys.length > 0) {
      throw new MasterKeyMissingError(`key store ${path} holds ${file.keys.length} key(s) but no master key was given`);
    }
    return new SoftwareKeyStore(path, file, undefined);
  }
  const kek = deriveKek(options.masterKey, Buffer.from(file.salt, 'base64'));
  if (!checkKek(file, kek)) throw new MasterKeyWrongError(`the master key does not open key store ${path}`);
  // Authenticate every record now, so damage shows at start-up rather than at first use.
  for (const rec of file.keys) unsealRecord(kek, rec).fill(0);
  return new SoftwareKeyStore(path, file, kek);
}

function info(rec: KeyRecord): KeyInfo {
  return { label: rec.label, type: rec.type, createdAt: rec.createdAt, backend: 'software' };
}

class SoftwareKeyStore implements KeyStore {
  readonly backend = 'software' as const;
  readonly #path: string;
  #file: StoreFile | undefined;
  #kek: KeyObject | undefined;
  #closed = false;
  /** Imported private keys by record (records are immutable; a deleted label drops its entry). */
  readonly #keyObjects = new Map<KeyRecord, KeyObject>();
  /** Serialises changes so that two concurrent writes cannot lose one another. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, file: StoreFile | undefined, kek: KeyObject | undefined) {
    this.#path = path;
    this.#file = file;
    this.#kek = kek;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #records(): KeyRecord[] {
    if (this.#closed) throw new KeyStoreClosedError();
    return this.#file?.keys ?? [];
  }

  #record(label: string): KeyRecord {
    const rec = this.#records().find((r) => r.label === label);
    if (rec === undefined) throw new KeyNotFoundError(label);
    return rec;
  }

  /** Runs `fn` with the record's decrypted secret and zeroes it afterwards. */
  #withSecret<T>(rec: KeyRecord, fn: (secret: Buffer) => T): T {
    if (this.#kek === undefined) throw new MasterKeyMissingError('no master key');
    const secret = unsealRecord(this.#kek, rec);
    try {
      return fn(secret);
    } finally {
      secret.fill(0);
    }
  }

  /** The record's private key, imported on first use (the decrypted PKCS#8 is zeroed right after). */
  #privateKey(rec: KeyRecord): KeyObject {
    let key = this.#keyObjects.get(rec);
    if (key === undefined) {
      key = this.#withSecret(rec, (secret) => createPrivateKey({ key: secret, format: 'der', type: 'pkcs8' }));
      this.#keyObjects.set(rec, key);
    }
    return key;
  }

  async #add(label: string, type: KeyType, secret: Buffer, publicKey: Uint8Array | undefined): Promise<KeyInfo> {
    try {
      return await this.#exclusive(async () => {
        this.#records();
        if (this.#kek === undefined) {
          throw new MasterKeyMissingError(`cannot store key ${JSON.stringify(label)}: the key store was opened without a master key`);
        }
        if (this.#file === undefined) throw new MasterKeyMissingError('no master key');
        if (this.#file.keys.some((r) => r.label === label)) throw new LabelExistsError(label);
        const meta = { label, type, createdAt: new Date().toISOString(), ...(publicKey ? { publicKey: Buffer.from(publicKey).toString('base64') } : {}) };
        const rec = sealRecord(this.#kek, meta, secret);
        const next: StoreFile = { ...this.#file, keys: [...this.#file.keys, rec] };
        await writeStoreFile(this.#path, next);
        this.#file = next;
        return info(rec);
      });
    } finally {
      secret.fill(0);
    }
  }

  async generateKey(label: string, type: KeyType): Promise<KeyInfo> {
    assertLabel(label);
    assertKeyType(type);
    if (isAsymmetric(type)) {
      const { privateKey } = type === 'ec-p256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      return this.#add(label, type, privateKey.export({ type: 'pkcs8', format: 'der' }), spkiOf(privateKey));
    }
    return this.#add(label, type, randomBytes(type === 'aes-128' ? 16 : 32), undefined);
  }

  async importKey(label: string, type: KeyType, material: Uint8Array): Promise<KeyInfo> {
    assertLabel(label);
    assertKeyType(type);
    if (isAsymmetric(type)) {
      const key = parsePkcs8(material, type);
      // Store node's re-encoding, not the caller's bytes: one canonical form, no trailing junk.
      return this.#add(label, type, key.export({ type: 'pkcs8', format: 'der' }), spkiOf(key));
    }
    assertBytes(material, 'material', secretLengthRule(type));
    return this.#add(label, type, Buffer.from(material), undefined);
  }

  async hasKey(label: string): Promise<boolean> {
    assertLabel(label);
    return this.#records().some((r) => r.label === label);
  }

  async getKeyInfo(label: string): Promise<KeyInfo> {
    assertLabel(label);
    return info(this.#record(label));
  }

  async listKeys(): Promise<KeyInfo[]> {
    return this.#records().map(info);
  }

  async deleteKey(label: string): Promise<void> {
    assertLabel(label);
    await this.#exclusive(async () => {
      this.#record(label);
      const file = this.#file!;
      const next: StoreFile = { ...file, keys: file.keys.filter((r) => r.label !== label) };
      await writeStoreFile(this.#path, next);
      this.#file = next;
      for (const rec of file.keys) if (rec.label === label) this.#keyObjects.delete(rec);
    });
  }

  async getPublicKey(label: string): Promise<Uint8Array> {
    assertLabel(label);
    const rec = this.#record(label);
    requireKeyType(label, rec.type, ['ec-p256', 'ed25519']);
    return new Uint8Array(Buffer.from(rec.publicKey!, 'base64'));
  }

  async sign(label: string, data: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    assertBytes(data, 'data');
    const rec = this.#record(label);
    requireKeyType(label, rec.type, ['ec-p256', 'ed25519']);
    const key = this.#privateKey(rec);
    return new Uint8Array(rec.type === 'ec-p256' ? nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) : nodeSign(null, data, key));
  }

  async deriveSharedSecret(label: string, peerPublicKey: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    const peer = parsePeerP256(peerPublicKey);
    const rec = this.#record(label);
    requireKeyType(label, rec.type, ['ec-p256']);
    return new Uint8Array(diffieHellman({ privateKey: this.#privateKey(rec), publicKey: peer.key }));
  }

  async hmac(label: string, data: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    assertBytes(data, 'data');
    const rec = this.#record(label);
    requireKeyType(label, rec.type, ['hmac-256']);
    return this.#withSecret(rec, (secret) => new Uint8Array(createHmac('sha256', secret).update(data).digest()));
  }

  async seal(label: string, alg: KeyStoreAeadAlgorithm, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    const params = checkAeadArgs(alg, nonce, plaintext, 'plaintext', aad);
    const rec = this.#record(label);
    requireKeyType(label, rec.type, [params.keyType]);
    return this.#withSecret(rec, (secret) => nodeSeal(params, secret, nonce, plaintext, aad ?? new Uint8Array(0)));
  }

  async open(label: string, alg: KeyStoreAeadAlgorithm, nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    const params = checkAeadArgs(alg, nonce, ciphertext, 'ciphertext', aad);
    const rec = this.#record(label);
    requireKeyType(label, rec.type, [params.keyType]);
    if (ciphertext.length < params.tagLength) throw new AeadAuthFailedError();
    return this.#withSecret(rec, (secret) => nodeOpen(params, secret, nonce, ciphertext, aad ?? new Uint8Array(0)));
  }

  async close(): Promise<void> {
    await this.#exclusive(async () => undefined);
    this.#closed = true;
    this.#file = undefined;
    this.#kek = undefined;
    this.#keyObjects.clear();
  }

  toString(): string {
    return `SoftwareKeyStore(${this.#path})`;
  }

  toJSON(): object {
    return { backend: this.backend, path: this.#path };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function cipherName(params: AeadParams): 'aes-128-gcm' | 'aes-256-gcm' | 'aes-128-ccm' | 'aes-256-ccm' {
  return `${params.keyType}-${params.mode}` as 'aes-128-gcm';
}

/**
 * OpenSSL 3's CCM fails ("tag not set") when handed an empty message through a non-NULL pointer
 * (e.g. a zero-length view into a larger buffer); a fresh empty array is passed as NULL and works.
 */
function ccmInput(data: Uint8Array): Uint8Array {
  return data.length === 0 ? new Uint8Array(0) : data;
}

function nodeSeal(params: AeadParams, key: Buffer, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (params.mode === 'gcm') {
    const c = createCipheriv(cipherName(params) as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
    c.setAAD(aad);
    return new Uint8Array(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
  }
  const c = createCipheriv(cipherName(params) as 'aes-128-ccm', key, nonce, { authTagLength: params.tagLength });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return new Uint8Array(Buffer.concat([c.update(ccmInput(plaintext)), c.final(), c.getAuthTag()]));
}

function nodeOpen(params: AeadParams, key: Buffer, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  const ct = sealed.subarray(0, sealed.length - params.tagLength);
  const tag = sealed.subarray(sealed.length - params.tagLength);
  let out: Buffer | undefined;
  try {
    if (params.mode === 'gcm') {
      const d = createDecipheriv(cipherName(params) as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
      d.setAuthTag(tag);
      d.setAAD(aad);
      out = d.update(ct);
      d.final();
    } else {
      const d = createDecipheriv(cipherName(params) as 'aes-128-ccm', key, nonce, { authTagLength: params.tagLength });
      d.setAuthTag(tag);
      d.setAAD(aad, { plaintextLength: ct.length });
      out = d.update(ccmInput(ct));
      d.final();
    }
    return new Uint8Array(out);
  } catch {
    // Never hand back (or leave lying around) plaintext that failed authentication.
    out?.fill(0);
    throw new AeadAuthFailedError();
  }
}
