/**
 * Bootstrap configurations keep management-server secrets (PSK keys, device private keys) that
 * the bootstrap server writes into a device. They are sealed before they reach the store, with
 * the same KeyStore AES-256 key as device PSKs ('credentials-seal') but their own associated
 * data: ['rootline-bootstrap-v1', endpoint, shortServerId, field]. A sealed secret copied into
 * another device's configuration (or another account or field) then fails to open instead of
 * being written into the wrong device.
 *
 * The bootstrap server opens them through its `unsealSecret` hook, which is told whose secret it
 * is (endpoint, Short Server ID, field): `open()` is that hook, and the binding is the
 * associated data the blob was sealed with.
 */
import { randomBytes } from 'node:crypto';
import type { KeyStore } from '../crypto/keystore/types.js';
import type { BootstrapSecretContext } from '../lwm2m/server/index.js';
import { CREDENTIAL_SEAL_LABEL } from './credential-seal.js';
import { SealedCredentialError } from './errors.js';

/** Fields of a server account that are secrets. */
export const BOOTSTRAP_SECRET_FIELDS = ['pskKey', 'clientPrivateKey'] as const;
/** Marks a stored configuration whose secret fields hold sealed blobs (hex). */
export const SEALED_MARKER = 'sealedSecrets';
const VERSION = 0x01;
const NONCE_BYTES = 12;

function associatedData(endpoint: string, ssid: unknown, field: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(['rootline-bootstrap-v1', endpoint, ssid, field]));
}

type Account = Record<string, unknown>;

function accounts(config: Record<string, unknown>): Account[] {
  return Array.isArray(config.servers) ? (config.servers as Account[]) : [];
}

export class BootstrapSecrets {
  readonly #keystore: KeyStore;
  readonly #label: string;

  constructor(keystore: KeyStore, label = CREDENTIAL_SEAL_LABEL) {
    this.#keystore = keystore;
    this.#label = label;
  }

  /** A copy of a validated configuration with every secret field sealed, marked as such. */
  async seal(endpoint: string, config: Record<string, unknown>): Promise<Record<string, unknown>> {
    const servers: Account[] = [];
    for (const account of accounts(config)) {
      const out: Account = { ...account };
      for (const field of BOOTSTRAP_SECRET_FIELDS) {
        const value = account[field];
        if (typeof value !== 'string') continue;
        const nonce = randomBytes(NONCE_BYTES);
        const sealed = await this.#keystore.seal(this.#label, 'AES-256-GCM', nonce, Buffer.from(value, 'hex'), associatedData(endpoint, account.shortServerId, field));
        out[field] = Buffer.concat([Buffer.of(VERSION), nonce, sealed]).toString('hex');
      }
      servers.push(out);
    }
    return { ...config, servers, [SEALED_MARKER]: true };
  }

  /**
   * The bootstrap server's `unsealSecret` hook: opens one sealed secret of `endpoint`'s account
   * `shortServerId`; a blob sealed for another endpoint, account or field does not open.
   */
  async open(sealed: Uint8Array, context: BootstrapSecretContext): Promise<Uint8Array> {
    const { endpoint, shortServerId, field } = context;
    const blob = Buffer.from(sealed);
    if (blob.length < 1 + NONCE_BYTES + 16 + 1 || blob[0] !== VERSION) throw new SealedCredentialError(`sealed ${field} in the bootstrap configuration of ${endpoint} is malformed`);
    return this.#keystore.open(this.#label, 'AES-256-GCM', blob.subarray(1, 1 + NONCE_BYTES), blob.subarray(1 + NONCE_BYTES), associatedData(endpoint, shortServerId, field));
  }
}

/** A stored configuration as the API shows it: secret fields replaced by whether they are set. */
export function redactBootstrapConfig(config: Record<string, unknown>): { delete: string[]; servers: Account[] } {
  const servers = accounts(config).map((account) => {
    const out: Account = {};
    for (const [k, v] of Object.entries(account)) {
      if ((BOOTSTRAP_SECRET_FIELDS as readonly string[]).includes(k)) continue;
      out[k] = v;
    }
    out.hasPskKey = typeof account.pskKey === 'string';
    out.hasClientPrivateKey = typeof account.clientPrivateKey === 'string';
    return out;
  });
  const del = Array.isArray(config.delete) ? (config.delete as string[]) : ['/0', '/1'];
  return { delete: del, servers };
}
