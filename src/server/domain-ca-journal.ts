/**
 * Where serve keeps its domain CA's state (serials issued, revocations, CRL number): a snapshot
 * `<dir>/domain-ca.json` plus an append-only journal `<dir>/domain-ca.journal` of the changes
 * made since (one JSON CaChange per line, src/pki/ca-state.ts).
 *
 * Why: the snapshot alone was rewritten after every LDevID (temporary file + rename), so each
 * issuance cost O(number of devices ever enrolled) — 8 % of serve's CPU at 500 devices and
 * growing. Now an issuance appends one line; the journal is folded into a new snapshot once it
 * holds as many records as the snapshot has serials (at least 1,024), so the cost per change
 * stays constant on average.
 *
 * Crash safety:
 * - a snapshot is written to a temporary file, fsync'ed, renamed over the old one, and the
 *   directory fsync'ed; only then is the journal emptied. A crash in between leaves a journal
 *   whose changes the new snapshot already holds: replaying them changes nothing (applying a
 *   change is idempotent);
 * - a journal append is one write of whole lines; a crash during it can leave a last line
 *   without its newline, which was never acknowledged (the registrar answers only after the
 *   append returned) and is dropped on open. Any other unreadable line, an unknown record or a
 *   state that does not check out refuses the start (ERR_SERVER_CA_STATE_DAMAGED): every
 *   LDevID issued under the CA depends on it, the operator decides;
 * - appends are not fsync'ed one by one (neither were the snapshot rewrites before): a process
 *   crash loses nothing, a power loss can lose the last records the kernel had not written.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, appendFileSync, writeSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { RootlineError } from '../errors.js';
import { applyCaChange, assertCaChange, assertCaState, type CaChange, type CaState } from '../pki/ca-state.js';

export const DOMAIN_CA_STATE_FILE = 'domain-ca.json';
export const DOMAIN_CA_JOURNAL_FILE = 'domain-ca.journal';
/** The journal is folded into the snapshot once it has max(this, serials in the snapshot) records. */
export const MIN_COMPACTION_RECORDS = 1024;

/** The domain CA's snapshot or journal cannot be read back as a valid state. */
export class CaStateDamagedError extends RootlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SERVER_CA_STATE_DAMAGED', message, options);
  }
}

export class DomainCaStateFiles {
  readonly #snapshot: string;
  readonly #journal: string;
  /** Records in the journal file now. */
  #records = 0;
  /** Serials in the last snapshot (the compaction threshold grows with it). */
  #snapshotSerials = 0;

  constructor(readonly directory: string) {
    this.#snapshot = join(directory, DOMAIN_CA_STATE_FILE);
    this.#journal = join(directory, DOMAIN_CA_JOURNAL_FILE);
  }

  /** Records in the journal since the last snapshot. */
  get journalRecords(): number {
    return this.#records;
  }

  /**
   * The persisted state: the snapshot with the journal replayed over it, checked; `undefined`
   * when there is no snapshot (a journal without one is damage).
   */
  read(): CaState | undefined {
    if (!existsSync(this.#snapshot)) {
      if (existsSync(this.#journal) && readFileSync(this.#journal).length > 0) throw new CaStateDamagedError(`${this.#journal} exists without ${this.#snapshot}`);
      return undefined;
    }
    let state: CaState;
    try {
      state = JSON.parse(readFileSync(this.#snapshot, 'utf8')) as CaState;
      assertCaState(state, DOMAIN_CA_STATE_FILE);
    } catch (err) {
      throw new CaStateDamagedError(`${this.#snapshot} is not a valid CA state: ${(err as Error).message}`, { cause: err });
    }
    this.#snapshotSerials = Object.keys(state.issued).length;
    if (!existsSync(this.#journal)) return state;
    const text = readFileSync(this.#journal, 'utf8');
    const lines = text.split('\n');
    // The part after the last newline: empty, or a torn append that was never acknowledged.
    lines.pop();
    lines.forEach((line, i) => {
      const where = `${DOMAIN_CA_JOURNAL_FILE} line ${i + 1}`;
      try {
        const change: unknown = JSON.parse(line);
        assertCaChange(change, where);
        applyCaChange(state, change);
      } catch (err) {
        throw new CaStateDamagedError(`${this.#journal}: line ${i + 1} is not a valid CA change: ${(err as Error).message}`, { cause: err });
      }
    });
    try {
      assertCaState(state, `${DOMAIN_CA_STATE_FILE} + ${DOMAIN_CA_JOURNAL_FILE}`);
    } catch (err) {
      throw new CaStateDamagedError(`the journal ${this.#journal} does not apply to ${this.#snapshot}: ${(err as Error).message}`, { cause: err });
    }
    this.#records = lines.length;
    return state;
  }

  /** Writes `state` as the new snapshot (durably, see the file header), then empties the journal. */
  writeSnapshot(state: CaState): void {
    const tmp = `${this.#snapshot}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(state)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#snapshot);
    const dirFd = openSync(this.directory, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    if (existsSync(this.#journal)) truncateSync(this.#journal, 0);
    this.#records = 0;
    this.#snapshotSerials = Object.keys(state.issued).length;
  }

  /**
   * Appends `changes` (one write); then, when the journal has grown to the snapshot's size, folds
   * it into a new snapshot of `current()` (which must hold every change appended so far).
   */
  append(changes: readonly CaChange[], current: () => CaState): void {
    if (changes.length > 0) {
      let lines = '';
      for (const c of changes) lines += `${JSON.stringify(c)}\n`;
      appendFileSync(this.#journal, lines, { mode: 0o600 });
      this.#records += changes.length;
    }
    if (this.#records >= Math.max(MIN_COMPACTION_RECORDS, this.#snapshotSerials)) this.writeSnapshot(current());
  }
}
