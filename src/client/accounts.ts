/**
 * Writing server and bootstrap-server accounts into a device's tree (what a factory or the
 * bootstrap server does): a Security instance with the URI and credentials, and for a management
 * server the Server instance with the same Short Server ID.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { pkcs8Der } from '../crypto/p256-key-encoding.js';
import { noteExportedKey } from './connection.js';
import type { ObjectTree } from './object-tree.js';
import { addSecurityInstance, addServerInstance, SecurityMode } from './standard-objects.js';

export type ClientSecurity =
  | { mode: 'psk'; identity: string; key: Uint8Array }
  /** Our key pair; the server is pinned to its SubjectPublicKeyInfo (DER). */
  | { mode: 'rpk'; privateKey: KeyObject; serverPublicKey: Uint8Array }
  /** Our certificate (DER) and key; the server is pinned to its certificate (DER). */
  | { mode: 'x509'; privateKey: KeyObject; certificate: Uint8Array; serverCertificate: Uint8Array }
  | { mode: 'nosec' };

function securityFields(s: ClientSecurity): { securityMode: number; publicKeyOrIdentity?: Uint8Array; serverPublicKey?: Uint8Array; secretKey?: Uint8Array } {
  const der = (k: KeyObject): Uint8Array => {
    // The bytes of k.export({ format: 'der', type: 'pkcs8' }), built from the numbers for P-256 (src/crypto/p256-key-encoding.ts).
    const bytes = new Uint8Array(pkcs8Der(k));
    // The connection then uses `k` for this value instead of importing it again.
    noteExportedKey(bytes, k);
    return bytes;
  };
  switch (s.mode) {
    case 'psk':
      return { securityMode: SecurityMode.PreSharedKey, publicKeyOrIdentity: new TextEncoder().encode(s.identity), secretKey: s.key };
    case 'rpk':
      return { securityMode: SecurityMode.RawPublicKey, publicKeyOrIdentity: new Uint8Array(createPublicKey(s.privateKey).export({ format: 'der', type: 'spki' })), serverPublicKey: s.serverPublicKey, secretKey: der(s.privateKey) };
    case 'x509':
      return { securityMode: SecurityMode.Certificate, publicKeyOrIdentity: s.certificate, serverPublicKey: s.serverCertificate, secretKey: der(s.privateKey) };
    case 'nosec':
      return { securityMode: SecurityMode.NoSec };
  }
}

export interface ServerAccountInit {
  uri: string;
  security: ClientSecurity;
  shortServerId?: number;
  /** Registration lifetime in seconds (default 300). */
  lifetime?: number;
  binding?: string;
  securityInstanceId?: number;
  serverInstanceId?: number;
}

/** Adds a management server account (Security + Server instances). */
export function addServerAccount(tree: ObjectTree, init: ServerAccountInit): void {
  const ssid = init.shortServerId ?? 1;
  addSecurityInstance(tree, init.securityInstanceId ?? 1, { serverUri: init.uri, bootstrapServer: false, shortServerId: ssid, ...securityFields(init.security) });
  addServerInstance(tree, init.serverInstanceId ?? 0, { shortServerId: ssid, lifetime: init.lifetime ?? 300, binding: init.binding ?? 'U' });
}

/** Adds the bootstrap server account (Security instance 0 with Bootstrap-Server = true). */
export function addBootstrapAccount(tree: ObjectTree, init: { uri: string; security: ClientSecurity; instanceId?: number }): void {
  addSecurityInstance(tree, init.instanceId ?? 0, { serverUri: init.uri, bootstrapServer: true, ...securityFields(init.security) });
}
