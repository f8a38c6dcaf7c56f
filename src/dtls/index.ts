/** DTLS 1.2 server and client (see README.md). */
export { createDtlsServer, DtlsServer, type DtlsServerOptions } from './server.js';
export { connectDtls, type DtlsClientOptions } from './client.js';
export { ServerSession, DEFAULT_CIPHER_SUITES, type ServerSessionOptions, type ServerPskOptions, type ServerCertificateOptions, type ClientAuthOptions, type PskLookup, type PeerVerifier } from './server-session.js';
export { ClientSession, type ClientSessionOptions, type ClientPskOptions, type ClientCertificateOptions } from './client-session.js';
export { DtlsConnection, type PeerIdentity, type ConnectionOptions, type RetransmitOptions } from './connection.js';
/** A session as applications see it: peerKey, remoteAddress, identity, send(), close(), 'data'/'close'/'alert' events. */
export type { DtlsConnection as DtlsSession } from './connection.js';
export { SessionCache, type ResumptionState, type SessionCacheOptions } from './session-cache.js';
export { dtlsServerTransport, dtlsClientTransport, type DtlsDatagramTransport, type DatagramListener } from './transport.js';
export { CipherSuite, CIPHER_SUITES, type CipherSuiteInfo } from './constants.js';
export * from './errors.js';
