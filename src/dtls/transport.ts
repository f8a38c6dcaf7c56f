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
  /** Registers a listener for application data from any peer. */
  onDatagram(cb: DatagramListener): void;
  close(): Promise<void>;
}

function forward(session: DtlsConnection, listeners: DatagramListener[]): void {
  session.on('data', (data: Uint8Array) => {
    for (const cb of listeners) cb(session.peerKey, data);
  });
}

/** The server side: one transport over every session of `server`. */
export function dtlsServerTransport(server: DtlsServer): DtlsDatagramTransport {
  const listeners: DatagramListener[] = [];
  for (const s of server.sessions.values()) if (s.established) forward(s, listeners);
  server.on('session', (s: DtlsConnection) => forward(s, listeners));
  return {
    send(peer, data) {
      const s = server.getSession(peer);
      if (s === undefined) throw new DtlsSessionClosedError(`no established DTLS session with ${peer}`);
      s.send(data);
    },
    onDatagram(cb) {
      listeners.push(cb);
    },
    close: () => server.close(),
  };
}

/** The device side: one transport over one client session; its only peer is `session.peerKey`. */
export function dtlsClientTransport(session: ClientSession): DtlsDatagramTransport {
  const listeners: DatagramListener[] = [];
  forward(session, listeners);
  return {
    send(peer, data) {
      if (peer !== session.peerKey) throw new DtlsSessionClosedError(`no DTLS session with ${peer} (this transport talks to ${session.peerKey})`);
      session.send(data);
    },
    onDatagram(cb) {
      listeners.push(cb);
    },
    close: async () => session.close(),
  };
}
