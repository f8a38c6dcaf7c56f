/**
 * The package a device downloads (the device reads it in src/client/firmware-update-package.ts,
 * where the layout is documented): "RLFP", version 1, kind (0 full, 1 delta), manifest length
 * and payload length (big-endian u32), the signed SUIT envelope, then the payload. Served block
 * by block: the header and manifest are held in memory, a full image is read from its blob file
 * per block, a delta (small) is held.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { BlockSource } from '../../coap/router.js';

export const PACKAGE_KIND = { full: 0, delta: 1 } as const;

export function encodePackageHeader(kind: 'full' | 'delta', manifest: Uint8Array, payloadLength: number): Uint8Array {
  const out = new Uint8Array(14 + manifest.length);
  out.set([0x52, 0x4c, 0x46, 0x50, 1, PACKAGE_KIND[kind]]);
  const view = new DataView(out.buffer);
  view.setUint32(6, manifest.length);
  view.setUint32(10, payloadLength);
  out.set(manifest, 14);
  return out;
}

export interface FirmwarePackage extends BlockSource {
  readonly kind: 'full' | 'delta';
  /** RFC 7959 §2.4: the same ETag on every block lets the device detect a changed package. */
  readonly etag: Uint8Array;
}

/** A package whose payload is `payload` bytes, or `payloadSize` bytes of the file at `payloadFile`. */
export function firmwarePackage(kind: 'full' | 'delta', manifest: Uint8Array, payload: { bytes: Uint8Array } | { file: string; size: number }): FirmwarePackage {
  const payloadSize = 'bytes' in payload ? payload.bytes.length : payload.size;
  const head = encodePackageHeader(kind, manifest, payloadSize);
  const etag = new Uint8Array(createHash('sha256').update(head).digest().subarray(0, 8));
  const readPayload = async (offset: number, length: number): Promise<Uint8Array> => {
    if ('bytes' in payload) return payload.bytes.subarray(offset, offset + length);
    const fh = await open(payload.file, 'r');
    try {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`firmware blob ${payload.file} is shorter than its record`);
        done += bytesRead;
      }
      return out;
    } finally {
      await fh.close();
    }
  };
  return {
    kind,
    etag,
    size: head.length + payloadSize,
    async read(offset, length) {
      const end = Math.min(offset + length, head.length + payloadSize);
      const parts: Uint8Array[] = [];
      if (offset < head.length) parts.push(head.subarray(offset, Math.min(end, head.length)));
      const from = Math.max(offset, head.length);
      if (end > from) parts.push(await readPayload(from - head.length, end - from));
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    },
  };
}
