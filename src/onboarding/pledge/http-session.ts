/**
 * Several HTTP requests over one TLS connection (keep-alive), for the pledge: RFC 8995 §5.1
 * expects the pledge to keep its TLS connection to the registrar, which "is no longer
 * provisional" once the voucher pins the registrar's certificate (§5.6.2). Reusing it for
 * voucher_status (and the LDevID connection for enrollstatus and the bootstrap-server question)
 * spares the registrar a TLS handshake with client-certificate checks per request.
 *
 * The connection is opened by the caller (transport.ts `openTls`, so the caller can look at the
 * server certificate first); when the server has closed it meanwhile, the next request opens a
 * fresh one through `reopen` (which must apply the trust the caller decided on by then).
 */
import { Agent, request as httpRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { PledgeProtocolError } from '../registrar/errors.js';
import type { Exchange } from './transport.js';

export interface HttpSession {
  request(method: 'GET' | 'POST', path: string, body: Uint8Array | undefined, headers: Record<string, string>, maxBytes: number): Promise<Exchange>;
  /** Replaces how a lost connection is reopened (e.g. with the pinned trust anchor once the voucher checked out). */
  setReopen(reopen: () => Promise<TLSSocket>): void;
  /**
   * Hands the open connection over to another client (the pledge's EST client, RFC 8995 §5.1
   * keeps one connection) and ends the session; `undefined` when there is none idle and open.
   * The connection keeps every check made on it; the new owner closes it.
   */
  detach(): TLSSocket | undefined;
  close(): void;
}

/** A keep-alive session over `socket` for requests to `host` (the Host header). */
export function httpSession(socket: TLSSocket, host: string, reopen: () => Promise<TLSSocket>): HttpSession {
  let first: TLSSocket | undefined = socket;
  let reopenFn = reopen;
  let current: TLSSocket = socket;
  // One socket at a time; the agent keeps it between requests and asks createConnection only
  // when it has none (first request, or the server closed the last one).
  const agent = new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  (agent as unknown as { createConnection: (o: unknown, cb: (err: Error | null, s?: Duplex) => void) => Duplex | undefined }).createConnection = (_o, cb) => {
    if (first !== undefined && !first.destroyed) {
      const s = first;
      first = undefined;
      return s;
    }
    first = undefined;
    reopenFn().then(
      (s) => {
        current = s;
        cb(null, s);
      },
      (err: unknown) => cb(err as Error),
    );
    return undefined;
  };
  return {
    request(method, path, body, headers, maxBytes) {
      return new Promise<Exchange>((resolve, reject) => {
        const req = httpRequest(
          { method, path, agent, headers: { host, connection: 'keep-alive', ...(body !== undefined ? { 'content-length': String(body.length) } : {}), ...headers } },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > maxBytes) {
                res.destroy();
                reject(new PledgeProtocolError(`${path}: response larger than ${maxBytes} bytes`));
              } else chunks.push(c);
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on('error', (err) => reject(new PledgeProtocolError(`${path}: ${err.message}`, {}, { cause: err })));
          },
        );
        req.on('error', (err) => reject(err instanceof PledgeProtocolError ? err : new PledgeProtocolError(`${path}: ${err.message}`, {}, { cause: err })));
        req.end(body !== undefined ? Buffer.from(body) : undefined);
      });
    },
    setReopen(r) {
      reopenFn = r;
    },
    detach() {
      const s = first ?? current;
      // Idle in the agent's pool (not mid-request): taken out of it (the documented
      // 'agentRemove'), referenced again (the pool unrefs idle sockets).
      let idle = false;
      for (const list of Object.values(agent.freeSockets)) {
        const at = list?.indexOf(s as never) ?? -1;
        if (at >= 0) {
          // The agent drops only unwritable sockets from its free list on 'agentRemove'.
          list!.splice(at, 1);
          idle = true;
        }
      }
      const usable = !s.destroyed && s.writable && (s === first || idle);
      if (idle) s.emit('agentRemove');
      first = undefined;
      agent.destroy();
      if (!usable) {
        s.destroy();
        return undefined;
      }
      s.ref();
      return s;
    },
    close() {
      agent.destroy();
      first?.destroy();
      current.destroy();
    },
  };
}
