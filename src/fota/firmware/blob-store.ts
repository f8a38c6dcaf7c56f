/**
 * Firmware blobs on disk, content-addressed by SHA-256: <dir>/sha256/<2 hex>/<64 hex>. A blob
 * is written to <dir>/tmp first, flushed, then renamed into place, so a crash never leaves a
 * half-written file under a digest name; identical images share one file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { assertInteger, assertString } from '../../util/assert.js';
import { FirmwareBlobCorruptError, FirmwareBlobMissingError, FirmwareTooLargeError } from './errors.js';

export type BlobSource = Uint8Array | AsyncIterable<Uint8Array | string>;

export interface StoredBlob {
  sha256: string;
  size: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class BlobStore {
  readonly directory: string;
  readonly #maxSize: number;

  constructor(directory: string, maxSize: number) {
    assertString(directory, 'directory', { max: 4096 });
    assertInteger(maxSize, 'maxSize', 1);
    this.directory = directory;
    this.#maxSize = maxSize;
  }

  pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new InvalidArgumentError('sha256', 'expected 64 lower-case hex characters');
    return join(this.directory, 'sha256', sha256.slice(0, 2), sha256);
  }

  /** Stores the bytes (hashing while writing) and returns their digest and size. */
  async put(source: BlobSource): Promise<StoredBlob> {
    const tmpDir = join(this.directory, 'tmp');
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const tmp = join(tmpDir, `${randomBytes(12).toString('hex')}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const file = await open(tmp, 'wx', 0o600);
    try {
      const write = async (chunk: Uint8Array): Promise<void> => {
        size += chunk.length;
        if (size > this.#maxSize) throw new FirmwareTooLargeError(this.#maxSize);
        hash.update(chunk);
        await file.write(chunk);
      };
      if (source instanceof Uint8Array) await write(source);
      else if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) {
        for await (const chunk of source) {
          if (typeof chunk === 'string' || !(chunk instanceof Uint8Array)) throw new InvalidArgumentError('stream', 'expected a stream of bytes (no encoding set)');
          await write(chunk);
        }
      } else throw new InvalidArgumentError('bytes', 'expected a Uint8Array or an async iterable of Uint8Array');
      // Flushed before the rename: after a crash the digest name must never point at torn data.
      await file.sync();
    } catch (err) {
      await file.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
    await file.close();
    const sha256 = hash.digest('hex');
    const final = this.pathOf(sha256);
    await mkdir(join(this.directory, 'sha256', sha256.slice(0, 2)), { recursive: true, mode: 0o700 });
    // rename() replaces atomically; an existing blob of the same digest has the same bytes.
    await rename(tmp, final);
    await syncDirectory(join(this.directory, 'sha256', sha256.slice(0, 2)));
    return { sha256, size };
  }

  async exists(sha256: string): Promise<boolean> {
    try {
      await stat(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  /** Reads a whole blob and checks it still has its digest. */
  async read(sha256: string): Promise<Uint8Array> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(sha256));
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') throw new FirmwareBlobMissingError(sha256);
      throw err;
    }
    if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new FirmwareBlobCorruptError(sha256);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** A read stream of the blob; fails with ERR_FIRMWARE_BLOB_MISSING when absent. */
  async openRead(sha256: string): Promise<ReadStream> {
    const path = this.pathOf(sha256);
    try {
      await stat(path);
    } catch {
      throw new FirmwareBlobMissingError(sha256);
    }
    return createReadStream(path);
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic there.
  } finally {
    await dir.close();
  }
}
