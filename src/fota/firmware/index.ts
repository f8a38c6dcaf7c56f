/** The firmware repository: stored images, their signed SUIT manifests, delta packages. */
export { createFirmwareService, type AddImageInput, type FirmwareService, type FirmwareServiceOptions } from './firmware-service.js';
export { buildDeltaManifest, createDeltaPackage, type DeltaPackage } from './delta-package.js';
export { createDeltaCache, deltaBuildErrorChannel, type DeltaCache } from './delta-cache.js';
export { buildEncryptedPackage, type EncryptedPackage } from './encrypted-package.js';
export { BlobStore, type BlobSource, type StoredBlob } from './blob-store.js';
export * from './errors.js';
