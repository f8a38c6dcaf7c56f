/**
 * Running the real openssl binary for interop tests: files go to a fresh temp dir that the
 * caller removes (`dir.cleanup()` in an `after` hook).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from '../helpers/peers.js';

export const opensslSkip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');

export interface OpensslResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface TempDir {
  path: string;
  write(name: string, data: string | Uint8Array): string;
  read(name: string): Buffer;
  cleanup(): void;
}

export function tempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'rootline-pki-'));
  return {
    path,
    write(name, data) {
      const p = join(path, name);
      writeFileSync(p, data);
      return p;
    },
    read(name) {
      return readFileSync(join(path, name));
    },
    cleanup() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export function openssl(args: string[], cwd: string, input?: string): OpensslResult {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
