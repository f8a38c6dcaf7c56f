/**
 * Delta packages: a delta from one stored image to another plus its own SUIT manifest. The
 * manifest names the *target* image (digest, size, version, and the target's sequence number,
 * so a device accepts the full image or the delta for the same release alike) and, through
 * rootline's extension parameters (-24/-25/-26, see suit/labels.ts), the base image the delta
 * applies to; a device on any other image refuses it before downloading.
 */
import { createDelta, decodeHeader, HEADER_SIZE } from '../delta/index.js';
import type { FirmwareImageRecord } from '../../store/firmware-types.js';
import type { Signer } from '../../crypto/keystore/types.js';
import { assertBytes } from '../../util/assert.js';
import { InvalidArgumentError } from '../../errors.js';
import { encodeManifest } from '../suit/encode.js';
import { signManifest } from '../suit/authenticate.js';
import { classIdFor, vendorIdFor } from '../suit/uuid.js';
import { FirmwareDeltaMismatchError, FirmwareModelMismatchError } from './errors.js';
import type { FirmwareService } from './firmware-service.js';

export interface DeltaPackage {
  from: FirmwareImageRecord;
  to: FirmwareImageRecord;
  delta: Uint8Array;
  /** Signed SUIT envelope for the delta. */
  manifest: Uint8Array;
}

function assertRecord(value: unknown, name: string): asserts value is FirmwareImageRecord {
  if (typeof value !== 'object' || value === null || typeof (value as FirmwareImageRecord).sha256 !== 'string') throw new InvalidArgumentError(name, 'expected a firmware image record');
}

/**
 * Signs the manifest of an existing delta between `from` and `to`. The delta's header must name
 * exactly these two images (sizes and digests), so a delta for another pair cannot be packaged
 * under this manifest by mistake.
 */
export async function buildDeltaManifest(from: FirmwareImageRecord, to: FirmwareImageRecord, delta: Uint8Array, signer: Signer, options: { kid?: Uint8Array } = {}): Promise<Uint8Array> {
  assertRecord(from, 'from');
  assertRecord(to, 'to');
  assertBytes(delta, 'delta', { min: HEADER_SIZE });
  if (from.vendor !== to.vendor || from.model !== to.model) throw new FirmwareModelMismatchError();
  let header;
  try {
    header = decodeHeader(delta.subarray(0, HEADER_SIZE));
  } catch (err) {
    throw new FirmwareDeltaMismatchError('the delta header does not decode', { cause: err });
  }
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  if (header.oldSize !== from.size || hex(header.oldDigest) !== from.sha256) throw new FirmwareDeltaMismatchError('the delta does not apply to the "from" image');
  if (header.newSize !== to.size || hex(header.newDigest) !== to.sha256) throw new FirmwareDeltaMismatchError('the delta does not produce the "to" image');
  const vendorId = vendorIdFor(to.vendor);
  const manifest = encodeManifest({
    sequenceNumber: to.sequence,
    vendorId,
    classId: classIdFor(vendorId, to.model),
    imageDigest: new Uint8Array(Buffer.from(to.sha256, 'hex')),
    imageSize: to.size,
    delta: { baseImageDigest: new Uint8Array(Buffer.from(from.sha256, 'hex')), baseImageSize: from.size },
    text: { vendorName: to.vendor, modelName: to.model, version: to.version },
  });
  return signManifest(manifest, signer, options);
}

/** Builds the delta between two stored images (in memory) and its signed manifest. */
export async function createDeltaPackage(service: FirmwareService, fromId: string, toId: string): Promise<DeltaPackage> {
  const [from, to] = [await service.get(fromId), await service.get(toId)];
  if (from.vendor !== to.vendor || from.model !== to.model) throw new FirmwareModelMismatchError();
  const delta = createDelta(await service.blobs.read(from.sha256), await service.blobs.read(to.sha256));
  const manifest = await buildDeltaManifest(from, to, delta, service.signer, { kid: service.signingKeyId });
  return { from, to, delta, manifest };
}
