/**
 * One-shot client API over a CoAP URI (RFC 7252 §6): what the `rootline coap` command wraps.
 * `coap://` runs on a fresh UDP socket; `coaps://` needs a DTLS transport passed in (the DTLS
 * room provides it), as does any other transport.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { CoapEndpoint, type CoapEndpointOptions } from './endpoint.js';
import { CoapBadUriError } from './errors.js';
import type { ClientRequest, CoapResponse, Observation } from './client.js';
import { UdpTransport, udpPeerKey, type DatagramTransport, type PeerKey } from './transport.js';

export interface CoapUri {
  scheme: 'coap' | 'coaps';
  /** Host as written, without IPv6 brackets. */
  host: string;
  port: number;
  path: string[];
  query: string[];
}

/**
 * RFC 7252 §6.4 "Decomposing URIs into Options": fragment rejected, path and query split and
 * percent-decoded, a lone empty path segment dropped.
 */
export function parseCoapUri(uri: string): CoapUri {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new CoapBadUriError(`not an absolute URI: ${JSON.stringify(uri)}`);
  }
  const scheme = u.protocol.slice(0, -1);
  if (scheme !== 'coap' && scheme !== 'coaps') throw new CoapBadUriError(`scheme ${scheme} is not coap or coaps`);
  // §6.4 step 4: "If |url| has a <fragment> component, then fail."
  if (u.hash !== '' || uri.includes('#')) throw new CoapBadUriError('a CoAP URI has no fragment');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new CoapBadUriError('missing host');
  const port = u.port === '' ? (scheme === 'coap' ? 5683 : 5684) : Number(u.port);
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new CoapBadUriError(`bad percent-encoding in ${JSON.stringify(s)}`);
    }
  };
  const rawPath = u.pathname === '' || u.pathname === '/' ? [] : u.pathname.slice(1).split('/');
  const query = u.search.length > 1 ? u.search.slice(1).split('&').map(decode) : [];
  return { scheme, host, port, path: rawPath.map(decode), query };
}

export interface CoapRequestOptions extends Omit<ClientRequest, 'path' | 'query'> {
  uri: string;
  /** A transport to use instead of a fresh UDP socket (required for coaps://). */
  transport?: DatagramTransport;
  /** The peer key on `transport`; default `host:port` from the URI. */
  peer?: PeerKey;
  endpoint?: CoapEndpointOptions;
}

async function open(opts: CoapRequestOptions): Promise<{ endpoint: CoapEndpoint; peer: PeerKey; req: ClientRequest }> {
  const u = parseCoapUri(opts.uri);
  const ipHost = isIP(u.host) !== 0;
  const req: ClientRequest = { ...opts, path: u.path, query: u.query };
  // RFC 7252 §6.4: Uri-Host only when the host is not an IP literal.
  if (!ipHost && req.uriHost === undefined) req.uriHost = u.host;
  if (opts.transport !== undefined) {
    const peer = opts.peer ?? udpPeerKey(u.host, u.port);
    return { endpoint: new CoapEndpoint(opts.transport, { ...opts.endpoint }), peer, req };
  }
  if (u.scheme === 'coaps') throw new CoapBadUriError('coaps:// needs a DTLS transport (pass `transport`)');
  const address = ipHost ? u.host : (await lookup(u.host)).address;
  const transport = await UdpTransport.bind({ address: isIP(address) === 6 ? '::' : '0.0.0.0' });
  return { endpoint: new CoapEndpoint(transport, opts.endpoint), peer: udpPeerKey(address, u.port), req };
}

/** One request to a CoAP URI, with Block1/Block2 handled; closes its socket afterwards. */
export async function coapRequest(opts: CoapRequestOptions): Promise<CoapResponse> {
  const { endpoint, peer, req } = await open(opts);
  try {
    return await endpoint.request(peer, req);
  } finally {
    await endpoint.close();
  }
}

/** Observes a CoAP URI; cancelling the observation also closes the socket. */
export async function coapObserve(
  opts: CoapRequestOptions,
  onNotify: (res: CoapResponse) => void,
  onEnd?: (err?: Error) => void,
): Promise<Observation> {
  const { endpoint, peer, req } = await open(opts);
  try {
    const obs = await endpoint.observe(peer, req, onNotify, (err) => {
      onEnd?.(err);
      void endpoint.close();
    });
    return {
      response: obs.response,
      active: obs.active,
      cancel: async () => {
        try {
          await obs.cancel();
        } finally {
          await endpoint.close();
        }
      },
    };
  } catch (err) {
    await endpoint.close();
    throw err;
  }
}
