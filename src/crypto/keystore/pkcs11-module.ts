/**
 * Loading a PKCS#11 module (through pkcs11js) and turning Cryptoki failures into typed errors.
 *
 * A module is one shared library with one global state per process: C_Initialize/C_Finalize are
 * process-wide. Stores opened on the same module path share one loaded instance, counted, so
 * closing one store does not finalize the library under another. Internal: not exported.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { Pkcs11Error } from './errors.js';

export type Pkcs11 = InstanceType<typeof pkcs11js.PKCS11>;
export type Handle = Buffer;
export { pkcs11js };

/** PKCS#11 3.0 constants that pkcs11js (a 2.40 binding) does not name. */
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

interface LoadedModule {
  lib: Pkcs11;
  refs: number;
  /** False when someone else in this process had already initialised the library. */
  finalizeOnRelease: boolean;
  /** Per slot: a keyed digest of the PIN that logged this process in (see checkPin). */
  logins: Map<bigint, Buffer>;
}

/** Per-process key for the PIN digests: they are only ever compared within this process. */
const PIN_DIGEST_KEY = randomBytes(32);

function pinDigest(pin: string): Buffer {
  return createHmac('sha256', PIN_DIGEST_KEY).update(pin, 'utf8').digest();
}

const loaded = new Map<string, LoadedModule>();

/** The CKR_* name of a pkcs11js error, or a short description for a non-Cryptoki failure. */
export function ckrName(e: unknown): string {
  if (e instanceof Error) {
    const m = /(CKR_[A-Z0-9_]+)/.exec(e.message);
    if (m !== null) return m[1]!;
    return e.name === 'TypeError' ? 'binding rejected the arguments' : 'native error';
  }
  return 'unknown error';
}

/** Wraps any failure from the binding as ERR_KEYSTORE_PKCS11 naming the operation and CKR. */
export function wrapPkcs11<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Pkcs11Error) throw e;
    throw new Pkcs11Error(operation, ckrName(e), { cause: e });
  }
}

export function acquireModule(path: string): Pkcs11 {
  const existing = loaded.get(path);
  if (existing !== undefined) {
    existing.refs++;
    return existing.lib;
  }
  const lib = new pkcs11js.PKCS11();
  wrapPkcs11('load', () => lib.load(path));
  let finalizeOnRelease = true;
  try {
    lib.C_Initialize();
  } catch (e) {
    if (ckrName(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      try {
        lib.close();
      } catch {
        // The library failed to initialise; unloading it is best effort.
      }
      throw new Pkcs11Error('C_Initialize', ckrName(e), { cause: e });
    }
    finalizeOnRelease = false;
  }
  loaded.set(path, { lib, refs: 1, finalizeOnRelease, logins: new Map() });
  return lib;
}

export function releaseModule(path: string): void {
  const m = loaded.get(path);
  if (m === undefined) return;
  if (--m.refs > 0) return;
  loaded.delete(path);
  try {
    if (m.finalizeOnRelease) m.lib.C_Finalize();
    m.lib.close();
  } catch {
    // Nothing useful can be done if finalising fails at shutdown.
  }
}

/** Slot handles are CK_SLOT_ID values in native byte order (little-endian on our targets). */
export function slotIdOf(handle: Handle): bigint {
  return handle.length >= 8 ? handle.readBigUInt64LE(0) : BigInt(handle.readUInt32LE(0));
}

/** Records the PIN with which C_Login succeeded for `slot`. */
export function rememberLogin(path: string, slot: bigint, pin: string): void {
  loaded.get(path)?.logins.set(slot, pinDigest(pin));
}

/**
 * Login state is per token and per process: once one store has logged in, C_Login from another
 * answers CKR_USER_ALREADY_LOGGED_IN without looking at the PIN. So that a second open with a
 * wrong PIN does not ride on the first one's login, compare against the remembered PIN (in
 * constant time). Returns undefined when the login was not ours (nothing to compare with).
 */
export function pinMatchesLogin(path: string, slot: bigint, pin: string): boolean | undefined {
  const known = loaded.get(path)?.logins.get(slot);
  if (known === undefined) return undefined;
  return timingSafeEqual(known, pinDigest(pin));
}
