/** FirmwareRepository on PostgreSQL (migration 4): each method is one statement. */
import { assertSha256Hex, assertVendorModel, firmwareConflictError, firmwareFromRow, normalizeFirmwareQuery, normalizeNewFirmwareImage, type FirmwareRow } from '../firmware-rows.js';
import type { FirmwareImageQuery, FirmwareImageRecord, FirmwareRepository, NewFirmwareImage } from '../firmware-types.js';
import { toSafeInteger } from '../rows.js';
import { assertLabel } from '../validate.js';
import { UNIQUE_VIOLATION, sqlState, type PostgresContext } from './context.js';

export class PostgresFirmwareRepository implements FirmwareRepository {
  readonly #ctx: PostgresContext;

  constructor(ctx: PostgresContext) {
    this.#ctx = ctx;
  }

  async nextSequence(vendor: string, model: string): Promise<number> {
    assertVendorModel(vendor, model);
    this.#ctx.check();
    // The upsert locks the counter row: concurrent nodes are serialised by PostgreSQL.
    const { rows } = await this.#ctx.pool.query<{ last_sequence: string }>(
      `INSERT INTO firmware_sequences (vendor, model, last_sequence) VALUES ($1, $2, 1)
       ON CONFLICT (vendor, model) DO UPDATE SET last_sequence = firmware_sequences.last_sequence + 1
       RETURNING last_sequence`,
      [vendor, model],
    );
    return toSafeInteger(rows[0]?.last_sequence, 'firmware_sequences last_sequence');
  }

  async create(image: NewFirmwareImage): Promise<FirmwareImageRecord> {
    const i = normalizeNewFirmwareImage(image);
    this.#ctx.check();
    const now = new Date().toISOString();
    try {
      await this.#ctx.pool.query(
        `INSERT INTO firmware_images (id, vendor, model, version, sequence, size, sha256, manifest, attributes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)`,
        [i.id, i.vendor, i.model, i.version, i.sequence, i.size, i.sha256, Buffer.from(i.manifest), JSON.stringify(i.attributes), now],
      );
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) {
        throw firmwareConflictError(i, err);
      }
      throw err;
    }
    return { ...i, createdAt: now };
  }

  async get(id: string): Promise<FirmwareImageRecord | undefined> {
    assertLabel(id, 'id');
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<FirmwareRow>('SELECT * FROM firmware_images WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : firmwareFromRow(rows[0]);
  }

  async findByVersion(vendor: string, model: string, version: string): Promise<FirmwareImageRecord | undefined> {
    assertVendorModel(vendor, model);
    assertLabel(version, 'version');
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<FirmwareRow>('SELECT * FROM firmware_images WHERE vendor = $1 AND model = $2 AND version = $3', [vendor, model, version]);
    return rows[0] === undefined ? undefined : firmwareFromRow(rows[0]);
  }

  async list(query?: FirmwareImageQuery): Promise<FirmwareImageRecord[]> {
    const q = normalizeFirmwareQuery(query);
    this.#ctx.check();
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.vendor !== undefined) {
      params.push(q.vendor);
      where.push(`vendor = $${params.length}`);
    }
    if (q.model !== undefined) {
      params.push(q.model);
      where.push(`model = $${params.length}`);
    }
    params.push(q.limit, q.offset);
    const sql = `SELECT * FROM firmware_images ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY vendor, model, sequence LIMIT $${params.length - 1} OFFSET $${params.length}`;
    const { rows } = await this.#ctx.pool.query<FirmwareRow>(sql, params);
    return rows.map(firmwareFromRow);
  }

  async countBySha256(sha256: string): Promise<number> {
    assertSha256Hex(sha256, 'sha256');
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<{ n: string }>('SELECT count(*) AS n FROM firmware_images WHERE sha256 = $1', [sha256]);
    return toSafeInteger(rows[0]?.n, 'firmware_images count');
  }

  async delete(id: string): Promise<boolean> {
    assertLabel(id, 'id');
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM firmware_images WHERE id = $1', [id]);
    return (r.rowCount ?? 0) > 0;
  }
}
