/**
 * The Send operation (OMA LwM2M Core 1.1 §6.4.5, Transport §6.6): the device POSTs /dp with
 * SenML JSON, SenML CBOR or LwM2M CBOR values. The sender is the registration bound to the
 * peer's credential (or, for NoSec, to the peer key it registered from).
 */
import { CoapCode } from '../../coap/codec.js';
import { ContentFormat } from '../../coap/content-format.js';
import type { CoapRequest, CoapResponseInit } from '../../coap/router.js';
import type { Store, RegistrationRecord } from '../../store/types.js';
import { COMPOSITE_FORMATS, decodeComposite } from '../codec/content-format.js';
import type { Lwm2mCodecOptions } from '../codec/common.js';
import type { Lwm2mEntry } from '../codec/senml.js';
import { Lwm2mError } from '../model/errors.js';
import type { IdentityResolver } from './identity.js';
import type { RegistrationRegistry } from './registration-registry.js';

export interface SendEvent {
  endpoint: string;
  registrationId: string;
  entries: Lwm2mEntry[];
  format: number;
}

export interface SendHandlerOptions {
  store: Store;
  registry: RegistrationRegistry;
  identityOf: IdentityResolver;
  codec: Lwm2mCodecOptions;
  /** NoSec peers: peer key → endpoint, as registered. */
  endpointOfPeer(peer: string): string | undefined;
  received(r: RegistrationRecord, event: SendEvent): void;
}

function text(code: number, message: string): CoapResponseInit {
  return { code, payload: message, contentFormat: ContentFormat.TextPlain };
}

export async function handleSend(o: SendHandlerOptions, req: CoapRequest): Promise<CoapResponseInit> {
  const identity = await o.identityOf(req.peer);
  let endpoint: string | undefined;
  if (identity !== undefined && identity.kind !== 'nosec') {
    endpoint = (await o.store.devices.findCredential(identity.kind, identity.lookup).catch(() => undefined))?.endpoint;
  } else if (identity !== undefined) {
    endpoint = o.endpointOfPeer(req.peer);
  }
  const r = endpoint === undefined ? undefined : await o.registry.byEndpoint(endpoint);
  // Core §6.4.5: Send is only meaningful from a registered client.
  if (r === undefined) return text(CoapCode.NotFound, 'not registered');
  const format = req.contentFormat;
  if (format === undefined || !COMPOSITE_FORMATS.includes(format)) return text(CoapCode.UnsupportedContentFormat, 'Send takes SenML JSON, SenML CBOR or LwM2M CBOR');
  let entries: Lwm2mEntry[];
  try {
    entries = decodeComposite(format, req.payload, true, o.codec);
  } catch (err) {
    if (err instanceof Lwm2mError) return text(CoapCode.BadRequest, err.message);
    throw err;
  }
  o.received(r, { endpoint: r.endpoint, registrationId: r.id, entries, format });
  return { code: CoapCode.Changed };
}
