/**
 * Loading the software store's master key from where operators keep it: an environment variable
 * (systemd credentials, container secrets) or a file. The key is 32 random bytes written as hex
 * (64 characters) or base64 (44 characters, standard or URL-safe alphabet).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../../errors.js';
import { assertString } from '../../util/assert.js';
import { MasterKeyInvalidError, MasterKeyMissingError } from './errors.js';

export interface LoadMasterKeyOptions {
  /** Path of a file holding the key (surrounding whitespace is ignored). */
  file?: string;
  /** Name of an environment variable holding the key, e.g. 'ROOTLINE_MASTER_KEY'. */
  env?: string;
}

/** Largest master key file we read: a key plus a generous amount of whitespace. */
const MAX_FILE_BYTES = 4096;

/**
 * Parses a master key written as hex or base64. Throws MasterKeyInvalidError (naming `source`,
 * never quoting the text) unless it decodes to exactly 32 bytes.
 */
export function parseMasterKey(text: string, source: string): Uint8Array {
  if (typeof text !== 'string') throw new InvalidArgumentError('text', 'expected a string');
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return new Uint8Array(Buffer.from(t, 'hex'));
  // Base64 of 32 bytes is 43 characters plus one '=' (optional here), in either alphabet.
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t) || /^[A-Za-z0-9_-]{43}=?$/.test(t)) {
    const unpadded = t.replace(/=$/, '');
    const asUrlSafe = unpadded.replace(/\+/g, '-').replace(/\//g, '_');
    const bytes = Buffer.from(asUrlSafe, 'base64url');
    // The 43rd character carries 2 padding bits; insisting on the canonical form catches typos.
    if (bytes.length === 32 && bytes.toString('base64url') === asUrlSafe) return new Uint8Array(bytes);
  }
  throw new MasterKeyInvalidError(`${source}: expected a 32-byte key as 64 hex digits or 44 base64 characters`);
}

/**
 * Returns the master key from `env` if that variable is set and non-empty, else from `file` if
 * one is given, else undefined (no key configured: openSoftwareKeyStore decides whether that is
 * acceptable). A named file that cannot be read is ERR_KEYSTORE_MASTER_KEY_MISSING; contents that
 * are not a valid key are ERR_KEYSTORE_MASTER_KEY_INVALID.
 */
export function loadMasterKey(options: LoadMasterKeyOptions): Uint8Array | undefined {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const { file, env } = options;
  if (env !== undefined) assertString(env, 'env', { max: 256, pattern: /^[A-Za-z_][A-Za-z0-9_]*$/ });
  if (file !== undefined) assertString(file, 'file', { max: 4096 });
  if (env !== undefined) {
    const value = process.env[env];
    if (value !== undefined && value.trim() !== '') return parseMasterKey(value, `environment variable ${env}`);
  }
  if (file === undefined) return undefined;
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new MasterKeyMissingError(`master key file ${JSON.stringify(file)} cannot be read (${code})`);
  }
  try {
    if (content.length > MAX_FILE_BYTES) throw new MasterKeyInvalidError(`master key file ${JSON.stringify(file)} is too large`);
    return parseMasterKey(content.toString('latin1'), `master key file ${JSON.stringify(file)}`);
  } finally {
    content.fill(0);
  }
}
