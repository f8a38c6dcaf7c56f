/**
 * The firmware package as it travels to the device (pull over CoAP Block2 or push to /5/0/0):
 * a 14-byte header, the signed SUIT envelope, then the payload (full image or rootline delta).
 * The manifest comes first so the device decides (signature, anti-rollback, class, base image,
 * slot size) before it writes a single payload byte to flash.
 *
 *   0  4  magic "RLFP" (52 4C 46 50)
 *   4  1  format version = 1
 *   5  1  payload kind: 0 full image, 1 rootline delta (RLDT v1)
 *   6  4  manifest length, big-endian (1 .. maxManifestSize)
 *  10  4  payload length, big-endian
 *  14  …  manifest (SUIT_Envelope_Tagged), then payload
 *
 * The server side (src/fota/drivers/package.ts) writes it; this file reads it, streaming, and
 * maps every failure of the device-side checks to its LwM2M Update Result (/5/0/5).
 */
import { RootlineError } from '../errors.js';
import { DeltaError } from '../fota/delta/errors.js';
import { SuitError } from '../fota/suit/errors.js';
import { FirmwareResult } from './standard-objects.js';

export const PACKAGE_MAGIC = new Uint8Array([0x52, 0x4c, 0x46, 0x50]);
export const PACKAGE_HEADER_SIZE = 14;
export const PACKAGE_FORMAT_VERSION = 1;
export const PackageKind = { Full: 0, Delta: 1 } as const;

/** A device-side refusal or failure, with the Update Result the device reports for it. */
export class FirmwareUpdateError extends RootlineError {
  readonly result: number;
  constructor(code: string, result: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.result = result;
  }
}

/**
 * Update Result (/5/0/5) for an error raised while downloading, verifying or applying. The OMA
 * codes are coarse; the mapping (documented in the README) is:
 * - signature, digest, size, base image, corrupt/truncated/oversize payload → 5 "Integrity check failure"
 * - rollback (sequence not above the installed one), wrong vendor/class, unknown format → 6 "Unsupported package type"
 * - image larger than the spare slot → 2 "Not enough flash memory"
 * - manifest larger than the device's buffer → 3 "Out of RAM during downloading process"
 */
export function updateResultFor(err: unknown): number {
  if (err instanceof FirmwareUpdateError) return err.result;
  if (err instanceof SuitError) {
    switch (err.code) {
      case 'ERR_SUIT_ROLLBACK':
      case 'ERR_SUIT_WRONG_CLASS':
      case 'ERR_SUIT_UNSUPPORTED':
      case 'ERR_SUIT_MALFORMED':
        return FirmwareResult.UnsupportedPackageType;
      default:
        return FirmwareResult.IntegrityCheckFailure;
    }
  }
  if (err instanceof DeltaError) {
    switch (err.code) {
      case 'ERR_DELTA_BAD_MAGIC':
      case 'ERR_DELTA_UNSUPPORTED_VERSION':
        return FirmwareResult.UnsupportedPackageType;
      case 'ERR_DELTA_LIMIT_EXCEEDED':
        return FirmwareResult.NotEnoughFlash;
      case 'ERR_DELTA_IO':
        // A slot write of ours failed inside the patcher: the cause says why (no space, ...).
        return err.cause !== undefined && err.cause !== err ? updateResultFor(err.cause) : FirmwareResult.UpdateFailed;
      default:
        return FirmwareResult.IntegrityCheckFailure;
    }
  }
  return FirmwareResult.UpdateFailed;
}

export interface PackageHeader {
  kind: number;
  manifestLength: number;
  payloadLength: number;
}

export interface PackageReaderHandlers {
  /** The whole manifest, before any payload byte; throw to refuse the package. */
  manifest(header: PackageHeader, manifest: Uint8Array): Promise<void>;
  /** Payload bytes in order (any chunking). */
  payload(chunk: Uint8Array): Promise<void>;
}

/**
 * Reads a package pushed in chunks of any size. Memory: the header and the manifest (at most
 * `maxManifestSize`); payload chunks are handed on, never kept.
 */
export class PackageReader {
  readonly #handlers: PackageReaderHandlers;
  readonly #maxManifestSize: number;
  readonly #header = new Uint8Array(PACKAGE_HEADER_SIZE);
  #headerFill = 0;
  #parsed: PackageHeader | undefined;
  #manifest: Uint8Array | undefined;
  #manifestFill = 0;
  #payloadSeen = 0;
  #received = 0;

  constructor(handlers: PackageReaderHandlers, options: { maxManifestSize?: number } = {}) {
    this.#handlers = handlers;
    this.#maxManifestSize = options.maxManifestSize ?? 16 * 1024;
  }

  /** Bytes consumed so far (where a resumed download continues). */
  get received(): number {
    return this.#received;
  }

  get header(): PackageHeader | undefined {
    return this.#parsed;
  }

  async push(chunk: Uint8Array): Promise<void> {
    let rest = chunk;
    this.#received += chunk.length;
    if (this.#headerFill < PACKAGE_HEADER_SIZE) {
      const n = Math.min(PACKAGE_HEADER_SIZE - this.#headerFill, rest.length);
      this.#header.set(rest.subarray(0, n), this.#headerFill);
      this.#headerFill += n;
      rest = rest.subarray(n);
      if (this.#headerFill < PACKAGE_HEADER_SIZE) return;
      this.#parsed = this.#parseHeader();
      this.#manifest = new Uint8Array(this.#parsed.manifestLength);
    }
    const header = this.#parsed!;
    if (this.#manifestFill < header.manifestLength) {
      const n = Math.min(header.manifestLength - this.#manifestFill, rest.length);
      this.#manifest!.set(rest.subarray(0, n), this.#manifestFill);
      this.#manifestFill += n;
      rest = rest.subarray(n);
      if (this.#manifestFill < header.manifestLength) return;
      const manifest = this.#manifest!;
      this.#manifest = undefined;
      await this.#handlers.manifest(header, manifest);
    }
    if (rest.length === 0) return;
    if (this.#payloadSeen + rest.length > header.payloadLength) {
      throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_OVERSIZE', FirmwareResult.IntegrityCheckFailure, `package carries more than the ${header.payloadLength} payload bytes its header declares`);
    }
    this.#payloadSeen += rest.length;
    await this.#handlers.payload(rest);
  }

  /** The transfer ended: the package must be exactly as long as its header says. */
  finish(): void {
    const h = this.#parsed;
    if (h === undefined || this.#manifestFill < h.manifestLength || this.#payloadSeen < h.payloadLength) {
      throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_TRUNCATED', FirmwareResult.IntegrityCheckFailure, 'the package ended early');
    }
  }

  #parseHeader(): PackageHeader {
    const h = this.#header;
    const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
    if (!PACKAGE_MAGIC.every((b, i) => h[i] === b) || h[4] !== PACKAGE_FORMAT_VERSION || (h[5] !== PackageKind.Full && h[5] !== PackageKind.Delta)) {
      throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_UNSUPPORTED', FirmwareResult.UnsupportedPackageType, 'not a rootline firmware package (magic, version or kind)');
    }
    const manifestLength = view.getUint32(6);
    const payloadLength = view.getUint32(10);
    if (manifestLength === 0) throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_UNSUPPORTED', FirmwareResult.UnsupportedPackageType, 'the package has no manifest');
    // Result 3, "Out of RAM during downloading process": the manifest must be held whole to be verified.
    if (manifestLength > this.#maxManifestSize) throw new FirmwareUpdateError('ERR_FIRMWARE_MANIFEST_TOO_LARGE', FirmwareResult.OutOfMemory, `manifest of ${manifestLength} bytes exceeds ${this.#maxManifestSize}`);
    return { kind: h[5]!, manifestLength, payloadLength };
  }
}
