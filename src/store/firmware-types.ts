/**
 * What the store keeps for the firmware repository (migration 4): one row per firmware image
 * (the blob itself lives on disk, content-addressed by its SHA-256) and a per-(vendor, model)
 * counter that hands out the SUIT sequence numbers.
 */

export interface FirmwareImageRecord {
  /** Opaque id (a UUID), what campaigns and the API refer to. */
  id: string;
  /** Vendor domain name (SUIT vendor ID = UUID5(DNS, vendor)). */
  vendor: string;
  /** Model / device class (SUIT class ID = UUID5(vendor ID, model)). */
  model: string;
  /** Semantic version, unique per (vendor, model). */
  version: string;
  /** SUIT manifest sequence number: unique, increasing per (vendor, model), never reused. */
  sequence: number;
  size: number;
  /** Lower-case hex SHA-256 of the image. */
  sha256: string;
  /** The signed SUIT envelope for the full image. */
  manifest: Uint8Array;
  /** Free-form JSON (description, release notes URL, ...). Never secrets. */
  attributes: Record<string, unknown>;
  createdAt: string;
}

export type NewFirmwareImage = Omit<FirmwareImageRecord, 'createdAt' | 'attributes'> & { attributes?: Record<string, unknown> };

export interface FirmwareImageQuery {
  vendor?: string;
  model?: string;
  /** Default 100, at most 1000. */
  limit?: number;
  /** Rows to skip (ordered by vendor, model, sequence). */
  offset?: number;
}

export interface FirmwareRepository {
  /**
   * Atomically takes the next sequence number for (vendor, model): 1, 2, 3, ... A number once
   * handed out is never handed out again, even if the image using it is deleted or never
   * stored, so a device can never be offered an older image under a newer number.
   */
  nextSequence(vendor: string, model: string): Promise<number>;
  /** Throws ERR_STORE_CONFLICT if the id, (vendor, model, version) or (vendor, model, sequence) exists. */
  create(image: NewFirmwareImage): Promise<FirmwareImageRecord>;
  get(id: string): Promise<FirmwareImageRecord | undefined>;
  findByVersion(vendor: string, model: string, version: string): Promise<FirmwareImageRecord | undefined>;
  list(query?: FirmwareImageQuery): Promise<FirmwareImageRecord[]>;
  /** How many images have this content (the same bytes may be registered for two models). */
  countBySha256(sha256: string): Promise<number>;
  /** Returns false if absent. */
  delete(id: string): Promise<boolean>;
}
