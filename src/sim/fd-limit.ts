/**
 * File descriptors: every simulated device owns one UDP socket. Node raises the soft
 * RLIMIT_NOFILE to the hard limit at start-up, so what /proc reports here is what we get; a
 * fleet that needs more must be told before it half-starts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { SimResourceLimitError } from './errors.js';

export interface OpenFileLimit {
  soft: number;
  hard: number;
}

/** RLIMIT_NOFILE of this process (Linux /proc); undefined where that cannot be read. */
export function openFileLimit(): OpenFileLimit | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  const m = line?.match(/^Max open files\s+(\S+)\s+(\S+)/);
  if (m === undefined || m === null) return undefined;
  const num = (s: string): number => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: num(m[1]!), hard: num(m[2]!) };
}

/** Descriptors in use by this process right now (Linux), else undefined. */
export function openFileCount(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** Headroom for the process's own descriptors (stdio, the event loop, HTTP keep-alive sockets). */
const RESERVED_FDS = 64;

/** Throws SimResourceLimitError when `devices` sockets would not fit under the soft limit. */
export function assertFileDescriptors(devices: number, limit: OpenFileLimit | undefined = openFileLimit()): void {
  if (limit === undefined) return;
  const needed = devices + RESERVED_FDS;
  if (needed <= limit.soft) return;
  const how = limit.hard >= needed ? `run 'ulimit -n ${needed}' (hard limit ${limit.hard}) in the shell first` : `the hard limit is ${limit.hard}: raise it (limits.conf nofile, or LimitNOFILE= for a service) to at least ${needed}`;
  throw new SimResourceLimitError(`${devices} devices need about ${needed} open files (one UDP socket each) but the limit is ${limit.soft}; ${how}`);
}
