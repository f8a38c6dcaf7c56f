/**
 * The DTLS 1.2 client over node:dgram: `connectDtls()` resolves with an established session or
 * rejects with the typed error that ended the handshake.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ClientSession, type ClientSessionOptions } from './client-session.js';
import { DtlsHandshakeFailureError } from './errors.js';
import { literalLookup } from './server.js';
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

const SEND_QUEUE_WAIT_MS = 4;
const SEND_QUEUE_WAIT_TRIES = 250;

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
  // The peer is always the IP literal resolved above: answer dgram's lookup in place (node's
  // default dns.lookup answers an IP literal on the next tick, once per datagram sent).
  const socket = opts.socket ?? createSocket({ type: family, lookup: literalLookup });
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
  // Datagrams go without a completion callback (node would schedule one per datagram). A socket
  // closed with sends still queued in libuv (a full socket buffer) cancels them, and the last one
  // is the close_notify: an owned socket closes once its send queue is empty (checked every few
  // ms, at most ~1 s; libuv sends in order, so every earlier datagram is out by then too).
  const closeSocket = (): void => {
    let tries = 0;
    const attempt = (): void => {
      if (socket.getSendQueueCount() === 0 || ++tries > SEND_QUEUE_WAIT_TRIES) socket.close();
      else setTimeout(attempt, SEND_QUEUE_WAIT_MS);
    };
    attempt();
  };
  const transmit = (d: Uint8Array): void => {
    try {
      socket.send(d, opts.port, address);
    } catch {
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
