/** What the CoAPs resources know about the peer behind a request: its DTLS credential. */
export interface CoapsPeerContext {
  /** The DTLS client certificate chain, leaf first, DER; empty when the client sent none. */
  clientCertificates: Uint8Array[];
  /** The certificate this server presented in that DTLS session (the registrar's). */
  serverCertificate?: Uint8Array;
  /** For audit records. */
  remoteAddress?: string;
}

/** Resolves a CoAP peer key (a DTLS session) to its context; unknown peers have no certificates. */
export type CoapsPeerLookup = (peer: string) => CoapsPeerContext;
