/**
 * Real peers for interop tests (libcoap, openssl, SoftHSM2, PostgreSQL). A suite whose peer is
 * missing is SKIPPED with the install command, except under CI (CI=true), where a missing peer
 * fails the run: .ci/run installs every peer, so a skip there would hide a broken install step.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface PeerCheck {
  /** Empty when present; otherwise the reason it is missing. */
  missing: string;
  skip: string | false;
}

/** Finds an executable on PATH or at an absolute path. */
export function findExecutable(name: string): string | undefined {
  if (name.startsWith('/')) return existsSync(name) ? name : undefined;
  const r = spawnSync('sh', ['-c', `command -v ${JSON.stringify(name)}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

/**
 * Returns the value for node:test's `skip` option: false when every path/executable exists;
 * otherwise a SKIPPED message with the install command (and it throws under CI).
 */
export function requirePeer(what: string, candidates: string[], installCommand: string): string | false {
  const found = candidates.some((c) => findExecutable(c) !== undefined);
  if (found) return false;
  const msg = `SKIPPED: ${what} not found (${candidates.join(', ')}); install with: ${installCommand}`;
  if (process.env.CI === 'true') {
    throw new Error(`${msg} — CI must install every peer`);
  }
  process.stderr.write(`${msg}\n`);
  return msg;
}

/**
 * For a capability of the host rather than a peer (e.g. IPv6 loopback): the message to skip
 * with outside CI; under CI it throws, like a missing peer, so a skip never hides a gap there.
 */
export function missingCapability(what: string, howToGet: string): string {
  const msg = `SKIPPED: ${what}; ${howToGet}`;
  if (process.env.CI === 'true') throw new Error(`${msg} — CI must have it`);
  process.stderr.write(`${msg}\n`);
  return msg;
}
