/**
 * The DTLS 1.2 client over node:dgram: `connectDtls()` resolves with an established session or
 * rejects with the typed error that ended the handshake.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ClientSession, type ClientSessionOptions } from './client-session.js';
import { DtlsHandshakeFailureError } from './errors.js';
import { assertInteger, assertString } from '../util/assert.js';

export interface DtlsClientOptions extends ClientSessionOptions {
  host: string;
  port: number;
  /** A bound UDP socket to use (its other traffic is left alone); otherwise one is created and closed with the session. */
  socket?: Socket;
  /**
   * Aborts the handshake: `connectDtls` rejects with `signal.reason`, the session is destroyed
   * (no retransmission timer left) and an owned socket is closed. No effect once connected.
   */
  signal?: AbortSignal;
}

/** Performs a DTLS handshake with `host:port`. */
export async function connectDtls(opts: DtlsClientOptions): Promise<ClientSession> {
  assertString(opts.host, 'host');
  assertInteger(opts.port, 'port', 1, 65535);
  const signal = opts.signal;
  signal?.throwIfAborted();
  const address = isIP(opts.host) !== 0 ? opts.host : (await lookup(opts.host)).address;
  signal?.throwIfAborted();
  const family = isIP(address) === 6 ? 'udp6' : 'udp4';
  const owns = opts.socket === undefined;
  const socket = opts.socket ?? createSocket(family);
  if (owns) {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }
  // A socket closed with sends still queued cancels them; the final close_notify must go out,
  // so an owned socket closes only once every send has completed.
  let inFlight = 0;
  let closeWhenIdle = false;
  const closeSocket = (): void => {
    if (inFlight === 0) socket.close();
    else closeWhenIdle = true;
  };
  const transmit = (d: Uint8Array): void => {
    try {
      inFlight++;
      socket.send(d, opts.port, address, () => {
        inFlight--;
        if (closeWhenIdle && inFlight === 0) {
          closeWhenIdle = false;
          socket.close();
        }
      });
    } catch {
      inFlight--;
      // Closed socket: the datagram is lost.
    }
  };
  let session: ClientSession;
  try {
    session = new ClientSession(transmit, address, opts.port, opts);
  } catch (err) {
    if (owns) socket.close();
    throw err;
  }
  const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.address === address && rinfo.port === opts.port) session.handleDatagram(msg);
  };
  socket.on('message', onMessage);
  session.once('close', () => {
    socket.off('message', onMessage);
    if (owns) closeSocket();
  });
  return new Promise<ClientSession>((resolve, reject) => {
    const onAbort = (): void => {
      const reason: unknown = signal!.reason;
      session.destroy(reason instanceof Error ? reason : new DtlsHandshakeFailureError('handshake aborted'));
    };
    const onClose = (err?: Error): void => {
      signal?.removeEventListener('abort', onAbort);
      reject(err ?? new DtlsHandshakeFailureError('session closed during the handshake'));
    };
    session.once('close', onClose);
    session.once('established', () => {
      session.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      resolve(session);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    session.start();
  });
}
