/**
 * Delta packages cached per (from, to) pair on disk beside the blobs:
 * <blobDirectory>/deltas/<from sha256>-<to sha256>.{rldt,suit}. Building one takes a while for
 * large images, so campaigns ask for it ahead (`prepare`) and it is built in the background,
 * one build per pair at a time; until it is ready the full image is served. The cache is
 * derived data: deleting the directory only costs rebuilds.
 *
 * It also implements the campaign engine's FirmwareCatalog shape (describe, packageKindFor)
 * structurally, so server/ can hand it to the engine without this room importing campaign code.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { channel } from 'node:diagnostics_channel';
import { decodeHeader, HEADER_SIZE } from '../delta/index.js';
import type { FirmwareImageRecord } from '../../store/firmware-types.js';
import { InvalidArgumentError } from '../../errors.js';
import { assertString } from '../../util/assert.js';
import { createDeltaPackage, type DeltaPackage } from './delta-package.js';
import { FirmwareNotFoundError } from './errors.js';
import type { FirmwareService } from './firmware-service.js';

/** Background build failures are published here (the server logs them); the full image stays the fallback. */
export const deltaBuildErrorChannel = channel('rootline:fota:delta-build-error');

export interface DeltaCache {
  /** The cached package from `fromVersion` (same vendor/model) to image `toId`, if built. */
  get(toId: string, fromVersion: string): Promise<DeltaPackage | undefined>;
  /** Starts building the packages that are not cached yet; resolves when all builds settled. */
  prepare(toId: string, fromVersions: readonly string[]): Promise<void>;
  /** FirmwareCatalog.describe for the campaign engine. */
  describe(firmwareId: string): Promise<{ id: string; version: string; model: string | null } | undefined>;
  /** FirmwareCatalog.packageKindFor: 'delta' when cached, else 'full' (and a build is started). */
  packageKindFor(firmwareId: string, fromVersion: string | null): Promise<'delta' | 'full'>;
}

export function createDeltaCache(service: FirmwareService): DeltaCache {
  const dir = join(service.blobs.directory, 'deltas');
  const building = new Map<string, Promise<void>>();
  const pathsOf = (from: FirmwareImageRecord, to: FirmwareImageRecord): { delta: string; manifest: string; key: string } => {
    const key = `${from.sha256}-${to.sha256}`;
    return { key, delta: join(dir, `${key}.rldt`), manifest: join(dir, `${key}.suit`) };
  };

  const pair = async (toId: string, fromVersion: string): Promise<{ from: FirmwareImageRecord; to: FirmwareImageRecord } | undefined> => {
    assertString(fromVersion, 'fromVersion', { max: 128 });
    const to = await service.get(toId);
    const from = await service.findByVersion(to.vendor, to.model, fromVersion);
    return from === undefined || from.id === to.id ? undefined : { from, to };
  };

  const read = async (from: FirmwareImageRecord, to: FirmwareImageRecord): Promise<DeltaPackage | undefined> => {
    const p = pathsOf(from, to);
    let delta: Uint8Array;
    let manifest: Uint8Array;
    try {
      [delta, manifest] = [new Uint8Array(await readFile(p.delta)), new Uint8Array(await readFile(p.manifest))];
    } catch {
      return undefined;
    }
    // A damaged cache entry is dropped and rebuilt rather than served.
    try {
      const h = decodeHeader(delta.subarray(0, HEADER_SIZE));
      if (Buffer.from(h.oldDigest).toString('hex') === from.sha256 && Buffer.from(h.newDigest).toString('hex') === to.sha256) return { from, to, delta, manifest };
    } catch {
      // fall through
    }
    await Promise.all([rm(p.delta, { force: true }), rm(p.manifest, { force: true })]);
    return undefined;
  };

  const build = (from: FirmwareImageRecord, to: FirmwareImageRecord): Promise<void> => {
    const p = pathsOf(from, to);
    const running = building.get(p.key);
    if (running !== undefined) return running;
    const job = (async () => {
      const pkg = await createDeltaPackage(service, from.id, to.id);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const suffix = randomBytes(8).toString('hex');
      // Manifest first, delta last: read() needs both, so a crash in between leaves no entry.
      await writeFile(`${p.manifest}.${suffix}`, pkg.manifest, { mode: 0o600 });
      await rename(`${p.manifest}.${suffix}`, p.manifest);
      await writeFile(`${p.delta}.${suffix}`, pkg.delta, { mode: 0o600 });
      await rename(`${p.delta}.${suffix}`, p.delta);
    })()
      .catch((error: unknown) => {
        if (deltaBuildErrorChannel.hasSubscribers) deltaBuildErrorChannel.publish({ fromId: from.id, toId: to.id, error });
      })
      .finally(() => building.delete(p.key));
    building.set(p.key, job);
    return job;
  };

  const cache: DeltaCache = {
    async get(toId, fromVersion) {
      const found = await pair(toId, fromVersion);
      return found === undefined ? undefined : read(found.from, found.to);
    },
    async prepare(toId, fromVersions) {
      if (!Array.isArray(fromVersions)) throw new InvalidArgumentError('fromVersions', 'expected an array of versions');
      const jobs: Promise<void>[] = [];
      for (const v of new Set(fromVersions)) {
        const found = await pair(toId, v);
        if (found !== undefined && (await read(found.from, found.to)) === undefined) jobs.push(build(found.from, found.to));
      }
      await Promise.all(jobs);
    },
    async describe(firmwareId) {
      try {
        const image = await service.get(firmwareId);
        return { id: image.id, version: image.version, model: image.model };
      } catch (err) {
        if (err instanceof FirmwareNotFoundError) return undefined;
        throw err;
      }
    },
    async packageKindFor(firmwareId, fromVersion) {
      if (fromVersion === null) return 'full';
      const found = await pair(firmwareId, fromVersion);
      if (found === undefined) return 'full';
      if ((await read(found.from, found.to)) !== undefined) return 'delta';
      void build(found.from, found.to);
      return 'full';
    },
  };
  return cache;
}
