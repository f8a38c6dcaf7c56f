/**
 * Encrypted packages for a device class: the stored image encrypted under the class key
 * (suit/encryption.ts) and a manifest that carries the encryption info, signed like the plain
 * one and with the same sequence number. The key stays with the caller (a KeyStore ContentKey
 * for AES keeps it in the store or token); nothing here persists or logs it.
 */
import type { ContentKey } from '../../cose/content-key.js';
import { encodeManifest } from '../suit/encode.js';
import { encryptPayload, type PayloadEncryptionAlgorithm } from '../suit/encryption.js';
import { signManifest } from '../suit/authenticate.js';
import { classIdFor, vendorIdFor } from '../suit/uuid.js';
import type { FirmwareImageRecord } from '../../store/firmware-types.js';
import type { FirmwareService } from './firmware-service.js';

export interface EncryptedPackage {
  image: FirmwareImageRecord;
  ciphertext: Uint8Array;
  manifest: Uint8Array;
}

export async function buildEncryptedPackage(
  service: FirmwareService,
  id: string,
  options: { key: Uint8Array | ContentKey; algorithm: PayloadEncryptionAlgorithm },
): Promise<EncryptedPackage> {
  const image = await service.get(id);
  const vendorId = vendorIdFor(image.vendor);
  const classId = classIdFor(vendorId, image.model);
  // The class ID names the class key: a device looks its key up by it.
  const { ciphertext, encryptionInfo } = await encryptPayload({ plaintext: await service.readImage(id), key: options.key, algorithm: options.algorithm, kid: classId });
  const manifest = encodeManifest({
    sequenceNumber: image.sequence,
    vendorId,
    classId,
    imageDigest: new Uint8Array(Buffer.from(image.sha256, 'hex')),
    imageSize: image.size,
    encryptionInfo,
    text: { vendorName: image.vendor, modelName: image.model, version: image.version },
  });
  return { image, ciphertext, manifest: await signManifest(manifest, service.signer, { kid: service.signingKeyId }) };
}
