/**
 * The security binding of the Registration and Bootstrap interfaces: a device may act only under
 * the endpoint name bound to the credential it authenticated with (Core 1.1 §7.3: "the LwM2M
 * Server MUST ... check that the Endpoint Client Name ... matches the credentials"), and NoSec is
 * refused unless the device record allows it. Every decision is written to the audit log.
 */
import type { Store } from '../../store/types.js';
import type { PeerIdentity } from './identity.js';

/** Device attribute that allows NoSec (plain CoAP) registration and bootstrap for that device. */
export const NOSEC_ATTRIBUTE = 'lwm2mNoSec';

export type AuthorizationResult = { allowed: true } | { allowed: false; reason: string };

/** Decides whether `identity` may act as `endpoint`. Reads the store; never throws for a refusal. */
export async function authorizeEndpoint(store: Store, identity: PeerIdentity | undefined, endpoint: string): Promise<AuthorizationResult> {
  if (identity === undefined) return { allowed: false, reason: 'the peer has no authenticated session' };
  if (identity.kind === 'nosec') {
    const device = await store.devices.get(endpoint);
    if (device === undefined) return { allowed: false, reason: 'unknown endpoint (NoSec)' };
    if (device.attributes[NOSEC_ATTRIBUTE] !== true) return { allowed: false, reason: `NoSec is not enabled for this device (attribute ${NOSEC_ATTRIBUTE})` };
    return { allowed: true };
  }
  let bound: string | undefined;
  try {
    bound = (await store.devices.findCredential(identity.kind, identity.lookup))?.endpoint;
  } catch {
    // A lookup the store refuses (too long, bad characters) matches no credential.
    bound = undefined;
  }
  if (bound === undefined) return { allowed: false, reason: `no device holds this ${identity.kind} credential` };
  if (bound !== endpoint) return { allowed: false, reason: `the ${identity.kind} credential is bound to another endpoint` };
  return { allowed: true };
}

/** Audit details that name the credential without any secret (a PSK identity is public). */
export function identityDetails(identity: PeerIdentity | undefined, peer: string): Record<string, unknown> {
  return identity === undefined ? { peer, security: 'none' } : { peer, security: identity.kind, credential: identity.lookup.slice(0, 256) };
}
