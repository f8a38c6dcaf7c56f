/**
 * The firmware repository service: images in, signed SUIT manifests out.
 *
 * addImage stores the blob (content-addressed, atomic), takes the model's next sequence number
 * from the store (never reused), builds the image's SUIT manifest and signs it with the
 * firmware-signing key, then records the row. Every add and delete, allowed or refused, leaves
 * an audit record; key material never appears in one (only the label and key id).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import type { KeyStore, KeyType, Signer } from '../../crypto/keystore/types.js';
import { keyStoreSigner } from '../../crypto/signer.js';
import { InvalidArgumentError } from '../../errors.js';
import { StoreConflictError } from '../../store/errors.js';
import type { FirmwareImageQuery, FirmwareImageRecord } from '../../store/firmware-types.js';
import type { Store } from '../../store/types.js';
import { assertInteger, assertOneOf, assertString, describeType } from '../../util/assert.js';
import { encodeManifest } from '../suit/encode.js';
import { keyIdOf, signManifest } from '../suit/authenticate.js';
import { classIdFor, vendorIdFor } from '../suit/uuid.js';
import { BlobStore, type BlobSource } from './blob-store.js';
import { FirmwareBlobCorruptError, FirmwareInUseError, FirmwareNotFoundError, FirmwareVersionExistsError, FirmwareVersionNotNewerError } from './errors.js';
import { compareSemVer, parseSemverStrict } from '../semver.js';

export interface FirmwareServiceOptions {
  store: Store;
  keyStore: KeyStore;
  /** Where blobs live (usually <data>/firmware). */
  blobDirectory: string;
  /** KeyStore label of the firmware-signing key; created if absent. Default 'firmware-signing'. */
  signingKeyLabel?: string;
  /** Type of a newly created signing key. Default 'ec-p256' (ES256, what the SUIT examples use). */
  signingKeyType?: Extract<KeyType, 'ec-p256' | 'ed25519'>;
  /** Largest image accepted, bytes. Default 64 MiB. */
  maxImageSize?: number;
  /**
   * Deletion guard, for the campaign engine: true while something still needs the image
   * (a running or scheduled campaign, a cached delta being served).
   */
  isReferenced?: (image: FirmwareImageRecord) => boolean | Promise<boolean>;
}

export interface AddImageInput {
  /** The image: bytes, or a stream of bytes (e.g. an HTTP upload). */
  bytes?: Uint8Array;
  stream?: AsyncIterable<Uint8Array>;
  /** Vendor domain name, e.g. "example.com" (the SUIT vendor ID derives from it). */
  vendor: string;
  model: string;
  /** Semantic version; must be above every stored version of the model. */
  version: string;
  attributes?: Record<string, unknown>;
  /** Who adds it, for the audit log (default 'system'). */
  actor?: string;
}

export interface FirmwareService {
  /** SPKI DER of the firmware-signing key: what devices must trust. */
  readonly signingPublicKey: Uint8Array;
  /** Key id put in every manifest's signature block. */
  readonly signingKeyId: Uint8Array;
  readonly signer: Signer;
  readonly blobs: BlobStore;
  addImage(input: AddImageInput): Promise<FirmwareImageRecord>;
  get(id: string): Promise<FirmwareImageRecord>;
  findByVersion(vendor: string, model: string, version: string): Promise<FirmwareImageRecord | undefined>;
  list(query?: FirmwareImageQuery): Promise<FirmwareImageRecord[]>;
  /** The whole image, checked against its digest. */
  readImage(id: string): Promise<Uint8Array>;
  /** A stream of the image that fails with ERR_FIRMWARE_BLOB_CORRUPT at the end if the bytes changed on disk. */
  openDownload(id: string): Promise<{ image: FirmwareImageRecord; stream: Readable }>;
  /** Refuses with ERR_FIRMWARE_IN_USE while isReferenced says so. */
  deleteImage(id: string, options?: { actor?: string }): Promise<void>;
}

const DEFAULT_LABEL = 'firmware-signing';

export async function createFirmwareService(options: FirmwareServiceOptions): Promise<FirmwareService> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', `expected an object, got ${describeType(options)}`);
  if (typeof options.store !== 'object' || options.store === null || options.store.firmware === undefined) throw new InvalidArgumentError('options.store', 'expected a Store with a firmware repository');
  if (typeof options.keyStore !== 'object' || options.keyStore === null) throw new InvalidArgumentError('options.keyStore', 'expected a KeyStore');
  assertString(options.blobDirectory, 'options.blobDirectory', { max: 4096 });
  const label = options.signingKeyLabel ?? DEFAULT_LABEL;
  assertString(label, 'options.signingKeyLabel', { max: 128 });
  const keyType = options.signingKeyType ?? 'ec-p256';
  assertOneOf(keyType, 'options.signingKeyType', ['ec-p256', 'ed25519']);
  const maxImageSize = options.maxImageSize ?? 64 * 1024 * 1024;
  assertInteger(maxImageSize, 'options.maxImageSize', 1, 2 ** 31 - 2);
  if (options.isReferenced !== undefined && typeof options.isReferenced !== 'function') throw new InvalidArgumentError('options.isReferenced', 'expected a function');

  const { store, keyStore } = options;
  if (!(await keyStore.hasKey(label))) {
    await keyStore.generateKey(label, keyType);
    await store.audit.append({ actor: 'system', action: 'firmware.signing-key.create', subject: label, outcome: 'success', details: { type: keyType, backend: keyStore.backend } });
  }
  const signer = await keyStoreSigner(keyStore, label);
  return new Service(store, signer, new BlobStore(options.blobDirectory, maxImageSize), options.isReferenced);
}

class Service implements FirmwareService {
  readonly signingPublicKey: Uint8Array;
  readonly signingKeyId: Uint8Array;
  readonly signer: Signer;
  readonly blobs: BlobStore;
  readonly #store: Store;
  readonly #isReferenced: FirmwareServiceOptions['isReferenced'];

  constructor(store: Store, signer: Signer, blobs: BlobStore, isReferenced: FirmwareServiceOptions['isReferenced']) {
    this.#store = store;
    this.signer = signer;
    this.signingPublicKey = signer.publicKey;
    this.signingKeyId = keyIdOf(signer.publicKey);
    this.blobs = blobs;
    this.#isReferenced = isReferenced;
  }

  async addImage(input: AddImageInput): Promise<FirmwareImageRecord> {
    if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('input', `expected an object, got ${describeType(input)}`);
    if ((input.bytes === undefined) === (input.stream === undefined)) throw new InvalidArgumentError('input', 'give exactly one of bytes and stream');
    assertString(input.vendor, 'input.vendor', { max: 253, pattern: /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/ });
    assertString(input.model, 'input.model', { max: 128, pattern: /^[\x21-\x7e]+$/ });
    parseSemverStrict(input.version, 'input.version');
    const actor = input.actor ?? 'system';
    assertString(actor, 'input.actor', { max: 255 });
    const { vendor, model, version } = input;
    const subject = `${vendor}/${model}@${version}`;

    const refuse = async (err: Error): Promise<never> => {
      await this.#store.audit.append({ actor, action: 'firmware.add', subject, outcome: 'deny', details: { reason: (err as { code?: string }).code ?? err.message } });
      throw err;
    };
    if ((await this.#store.firmware.findByVersion(vendor, model, version)) !== undefined) return refuse(new FirmwareVersionExistsError(vendor, model, version));
    const newest = await this.#newestVersion(vendor, model);
    if (newest !== undefined && compareSemVer(version, newest) <= 0) return refuse(new FirmwareVersionNotNewerError(version, newest));

    const blob = await this.blobs.put((input.bytes ?? input.stream) as BlobSource);
    try {
      const sequence = await this.#store.firmware.nextSequence(vendor, model);
      const vendorId = vendorIdFor(vendor);
      const manifest = await signManifest(
        encodeManifest({
          sequenceNumber: sequence,
          vendorId,
          classId: classIdFor(vendorId, model),
          imageDigest: new Uint8Array(Buffer.from(blob.sha256, 'hex')),
          imageSize: blob.size,
          text: { vendorName: vendor, modelName: model, version },
        }),
        this.signer,
        { kid: this.signingKeyId },
      );
      const record = await this.#store.firmware.create({ id: randomUUID(), vendor, model, version, sequence, size: blob.size, sha256: blob.sha256, manifest, attributes: input.attributes ?? {} });
      await this.#store.audit.append({
        actor,
        action: 'firmware.add',
        subject,
        outcome: 'success',
        details: { id: record.id, sequence, size: blob.size, sha256: blob.sha256, signingKeyId: Buffer.from(this.signingKeyId).toString('hex') },
      });
      return record;
    } catch (err) {
      await this.#dropBlobIfUnused(blob.sha256);
      // Two adds of the same version raced past the first check: the store's unique rule decides.
      if (err instanceof StoreConflictError) return refuse(new FirmwareVersionExistsError(vendor, model, version, { cause: err }));
      throw err;
    }
  }

  async #newestVersion(vendor: string, model: string): Promise<string | undefined> {
    let newest: string | undefined;
    for (let offset = 0; ; offset += 1000) {
      const page = await this.#store.firmware.list({ vendor, model, limit: 1000, offset });
      for (const r of page) if (newest === undefined || compareSemVer(r.version, newest) > 0) newest = r.version;
      if (page.length < 1000) return newest;
    }
  }

  async get(id: string): Promise<FirmwareImageRecord> {
    const found = await this.#store.firmware.get(id);
    if (found === undefined) throw new FirmwareNotFoundError(id);
    return found;
  }

  findByVersion(vendor: string, model: string, version: string): Promise<FirmwareImageRecord | undefined> {
    return this.#store.firmware.findByVersion(vendor, model, version);
  }

  list(query?: FirmwareImageQuery): Promise<FirmwareImageRecord[]> {
    return this.#store.firmware.list(query);
  }

  async readImage(id: string): Promise<Uint8Array> {
    const image = await this.get(id);
    return this.blobs.read(image.sha256);
  }

  async openDownload(id: string): Promise<{ image: FirmwareImageRecord; stream: Readable }> {
    const image = await this.get(id);
    const source = await this.blobs.openRead(image.sha256);
    const hash = createHash('sha256');
    // The device checks the digest too; checking here as well keeps a damaged disk from turning
    // into a fleet of failed updates, and reports it where it can be repaired.
    const check = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        callback(hash.digest('hex') === image.sha256 ? null : new FirmwareBlobCorruptError(image.sha256));
      },
    });
    source.on('error', (err) => check.destroy(err));
    return { image, stream: source.pipe(check) };
  }

  async deleteImage(id: string, options: { actor?: string } = {}): Promise<void> {
    const actor = options.actor ?? 'system';
    assertString(actor, 'options.actor', { max: 255 });
    const image = await this.get(id);
    const subject = `${image.vendor}/${image.model}@${image.version}`;
    if (this.#isReferenced !== undefined && (await this.#isReferenced(image))) {
      await this.#store.audit.append({ actor, action: 'firmware.delete', subject, outcome: 'deny', details: { id, reason: 'ERR_FIRMWARE_IN_USE' } });
      throw new FirmwareInUseError(id);
    }
    if (!(await this.#store.firmware.delete(id))) throw new FirmwareNotFoundError(id);
    await this.#dropBlobIfUnused(image.sha256);
    await this.#store.audit.append({ actor, action: 'firmware.delete', subject, outcome: 'success', details: { id, sequence: image.sequence, sha256: image.sha256 } });
  }

  async #dropBlobIfUnused(sha256: string): Promise<void> {
    if ((await this.#store.firmware.countBySha256(sha256)) > 0) return;
    await this.blobs.remove(sha256);
    // Cached deltas from or to these bytes (delta-cache.ts) can no longer be served either.
    const deltas = join(this.blobs.directory, 'deltas');
    const names = await readdir(deltas).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.includes(sha256)).map((n) => rm(join(deltas, n), { force: true })));
  }
}
