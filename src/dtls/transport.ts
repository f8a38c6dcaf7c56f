/**
 * Peer-keyed datagram transports over DTLS, for the CoAP endpoint: application data of every
 * established session comes out of `onDatagram(cb)` tagged with the session's stable peer key,
 * and `send(peer, data)` protects and sends on that peer's session. Structurally compatible
 * with `DatagramTransport` of src/coap (which this room does not import).
 */
import type { ClientSession } from './client-session.js';
import type { DtlsConnection } from './connection.js';
import { DtlsSessionClosedError } from './errors.js';
import type { DtlsServer } from './server.js';

export type DatagramListener = (peer: string, data: Uint8Array) => void;

export interface DtlsDatagramTransport {
  /** Sends `data` as one application-data record to `peer` (a session's `peerKey`). */
  send(peer: string, data: Uint8Array): void;
  /** Registers the single receiver of application data from any peer; a later call replaces it. */
  onDatagram(cb: DatagramListener): void;
  /** Registers the single receiver told when a session is established with a peer (a new association there). */
  onNewSession(cb: (peer: string) => void): void;
  close(): Promise<void>;
}

interface Receiver {
  cb: DatagramListener | undefined;
}

function forward(session: DtlsConnection, receiver: Receiver): void {
  session.on('data', (data: Uint8Array) => receiver.cb?.(session.peerKey, data));
}

/** The server side: one transport over every session of `server`. */
export function dtlsServerTransport(server: DtlsServer): DtlsDatagramTransport {
  const receiver: Receiver = { cb: undefined };
  // One receiver on the server rather than a listener per session (idle sessions stay small).
  server.setDataReceiver((s, data) => receiver.cb?.(s.peerKey, data));
  let newSession: ((peer: string) => void) | undefined;
  server.on('session', (s: DtlsConnection) => newSession?.(s.peerKey));
  return {
    send(peer, data) {
      const s = server.getSession(peer);
      if (s === undefined) throw new DtlsSessionClosedError(`no established DTLS session with ${peer}`);
      s.send(data);
    },
    onDatagram(cb) {
      receiver.cb = cb;
    },
    onNewSession(cb) {
      newSession = cb;
    },
    close: () => server.close(),
  };
}

/** The device side: one transport over one client session; its only peer is `session.peerKey`. */
export function dtlsClientTransport(session: ClientSession): DtlsDatagramTransport {
  const receiver: Receiver = { cb: undefined };
  forward(session, receiver);
  return {
    send(peer, data) {
      if (peer !== session.peerKey) throw new DtlsSessionClosedError(`no DTLS session with ${peer} (this transport talks to ${session.peerKey})`);
      session.send(data);
    },
    onDatagram(cb) {
      receiver.cb = cb;
    },
    // One session for the transport's whole life: it never starts another.
    onNewSession() {},
    close: async () => session.close(),
  };
}
