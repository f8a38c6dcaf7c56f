/**
 * A free port below the kernel's ephemeral range, for a server that a test restarts on the same
 * port. A port from `listen(0)` comes out of the ephemeral range, and in the gap between the old
 * server closing and the new one binding, any client socket the devices open (they reconnect
 * exactly then) may be given that very port: EADDRINUSE. Ports below the range are only ever
 * taken by an explicit bind.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low) && low > 2048) return low;
  } catch {
    // not Linux: IANA's dynamic range starts at 49152
  }
  return 49152;
}

async function udpFree(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise<boolean>((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function tcpFree(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port free on loopback for both UDP and TCP, in [low/2, low) of the ephemeral range. */
export async function stablePort(): Promise<number> {
  const high = ephemeralLow();
  const low = Math.max(1024, Math.floor(high / 2));
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if ((await udpFree(port)) && (await tcpFree(port))) return port;
  }
  throw new Error('no free port below the ephemeral range');
}
