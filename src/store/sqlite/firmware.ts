/** FirmwareRepository on SQLite (migration 4). */
import { assertSha256Hex, assertVendorModel, firmwareConflictError, firmwareFromRow, normalizeFirmwareQuery, normalizeNewFirmwareImage, type FirmwareRow } from '../firmware-rows.js';
import type { FirmwareImageQuery, FirmwareImageRecord, FirmwareRepository, NewFirmwareImage } from '../firmware-types.js';
import { toSafeInteger } from '../rows.js';
import { assertLabel } from '../validate.js';
import { sqliteCode, type SqliteContext } from './context.js';

export class SqliteFirmwareRepository implements FirmwareRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async nextSequence(vendor: string, model: string): Promise<number> {
    assertVendorModel(vendor, model);
    this.#ctx.check();
    // One statement: the upsert takes SQLite's write lock, so two writers never get the same number.
    const row = this.#ctx.prepare(
      `INSERT INTO firmware_sequences (vendor, model, last_sequence) VALUES (?, ?, 1)
       ON CONFLICT (vendor, model) DO UPDATE SET last_sequence = firmware_sequences.last_sequence + 1
       RETURNING last_sequence`,
    ).get(vendor, model) as { last_sequence: number };
    return toSafeInteger(row.last_sequence, 'firmware_sequences last_sequence');
  }

  async create(image: NewFirmwareImage): Promise<FirmwareImageRecord> {
    const i = normalizeNewFirmwareImage(image);
    this.#ctx.check();
    const now = new Date().toISOString();
    try {
      this.#ctx.prepare(
        `INSERT INTO firmware_images (id, vendor, model, version, sequence, size, sha256, manifest, attributes, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(i.id, i.vendor, i.model, i.version, i.sequence, i.size, i.sha256, Buffer.from(i.manifest), JSON.stringify(i.attributes), now);
    } catch (err) {
      const code = sqliteCode(err);
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw firmwareConflictError(i, err);
      }
      throw err;
    }
    return { ...i, createdAt: now };
  }

  async get(id: string): Promise<FirmwareImageRecord | undefined> {
    assertLabel(id, 'id');
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT * FROM firmware_images WHERE id = ?').get(id) as FirmwareRow | undefined;
    return row === undefined ? undefined : firmwareFromRow(row);
  }

  async findByVersion(vendor: string, model: string, version: string): Promise<FirmwareImageRecord | undefined> {
    assertVendorModel(vendor, model);
    assertLabel(version, 'version');
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT * FROM firmware_images WHERE vendor = ? AND model = ? AND version = ?').get(vendor, model, version) as FirmwareRow | undefined;
    return row === undefined ? undefined : firmwareFromRow(row);
  }

  async list(query?: FirmwareImageQuery): Promise<FirmwareImageRecord[]> {
    const q = normalizeFirmwareQuery(query);
    this.#ctx.checkOpen();
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.vendor !== undefined) {
      where.push('vendor = ?');
      params.push(q.vendor);
    }
    if (q.model !== undefined) {
      where.push('model = ?');
      params.push(q.model);
    }
    const sql = `SELECT * FROM firmware_images ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY vendor, model, sequence LIMIT ? OFFSET ?`;
    return (this.#ctx.prepare(sql).all(...params, q.limit, q.offset) as FirmwareRow[]).map(firmwareFromRow);
  }

  async countBySha256(sha256: string): Promise<number> {
    assertSha256Hex(sha256, 'sha256');
    this.#ctx.checkOpen();
    return (this.#ctx.prepare('SELECT count(*) AS n FROM firmware_images WHERE sha256 = ?').get(sha256) as { n: number }).n;
  }

  async delete(id: string): Promise<boolean> {
    assertLabel(id, 'id');
    this.#ctx.check();
    return this.#ctx.prepare('DELETE FROM firmware_images WHERE id = ?').run(id).changes > 0;
  }
}
