/**
 * The Client Registration Interface (OMA LwM2M Core 1.1 §6.2, Transport §6.4): Register
 * (POST /rd?ep=..), Update (POST /rd/{id}) and De-register (DELETE /rd/{id}) as CoAP handlers.
 * Parameter checks are in registration-params.ts, the security binding in authorize.ts, storage
 * in registration-registry.ts; this file decides the answers.
 */
import { randomFillSync } from 'node:crypto';
import { CoapCode } from '../../coap/codec.js';
import { ContentFormat } from '../../coap/content-format.js';
import { OptionNumber, stringOption } from '../../coap/options.js';
import type { CoapRequest, CoapResponseInit } from '../../coap/router.js';
import { isRootlineError } from '../../errors.js';
import type { RegistrationRecord, Store } from '../../store/types.js';
import { parseRegistrationLinks } from '../codec/link-format.js';
import { authorizeEndpoint, identityDetails } from './authorize.js';
import { Lwm2mBadRegistrationError } from './errors.js';
import type { IdentityResolver, PeerIdentity } from './identity.js';
import { parseRegisterQuery, parseUpdateQuery, type RegistrationLimits } from './registration-params.js';
import type { DeregistrationReason, RegistrationRegistry } from './registration-registry.js';

export interface RegistrationInterfaceLimits extends RegistrationLimits {
  /** Largest Register/Update payload, in bytes (default 16 KiB); more is answered 4.13. */
  maxPayloadBytes?: number;
  /** Most object links in one Register/Update payload (default 512); more is answered 4.00. */
  maxObjectLinks?: number;
}

export interface RegistrationHooks {
  registered(r: RegistrationRecord, replaced: RegistrationRecord | undefined): void;
  updated(r: RegistrationRecord, previous: RegistrationRecord): void;
  deregistered(r: RegistrationRecord, reason: DeregistrationReason): void;
  /** The device sent something: queue-mode requests may go out now. */
  contact(r: RegistrationRecord): void;
}

export interface RegistrationInterfaceOptions {
  store: Store;
  registry: RegistrationRegistry;
  identityOf: IdentityResolver;
  hooks: RegistrationHooks;
  limits?: RegistrationInterfaceLimits;
}

const TEXT = ContentFormat.TextPlain;
/** How many distinct valid object lists #objectLinks remembers. */
const VALID_LINKS_MEMO = 64;

function reply(code: number, diagnostic?: string): CoapResponseInit {
  return diagnostic === undefined ? { code } : { code, payload: diagnostic, contentFormat: TEXT };
}

/** Bytes of one registration id: 80 random bits. */
const ID_BYTES = 10;
/** CSPRNG bytes for 400 ids, refilled (randomFillSync) when used up: one call instead of 400. */
const idPool = Buffer.alloc(ID_BYTES * 400);
let idPoolOffset = idPool.length;

/**
 * A registration id: 80 random bits from node:crypto's CSPRNG, URL-safe (it is a Location-Path
 * segment). Taken from a pool filled 4,000 bytes at a time; each byte is used once, and the ids
 * are public (the device is told its id), so holding the next ones in memory discloses nothing.
 */
export function newRegistrationId(): string {
  if (idPoolOffset + ID_BYTES > idPool.length) {
    randomFillSync(idPool);
    idPoolOffset = 0;
  }
  const id = idPool.toString('base64url', idPoolOffset, idPoolOffset + ID_BYTES);
  idPoolOffset += ID_BYTES;
  return id;
}

export class RegistrationInterface {
  readonly #o: RegistrationInterfaceOptions;
  readonly #maxPayload: number;
  readonly #maxLinks: number;
  /** Object-list payloads that passed #objectLinks recently (bounded, oldest dropped first). */
  readonly #validLinks = new Set<string>();

  constructor(options: RegistrationInterfaceOptions) {
    this.#o = options;
    this.#maxPayload = options.limits?.maxPayloadBytes ?? 16 * 1024;
    this.#maxLinks = options.limits?.maxObjectLinks ?? 512;
  }

  /** Checks the payload of Register/Update: link format, bounded; returns it as text. */
  #objectLinks(req: CoapRequest): string {
    // Core §6.2.1: the payload is CoRE link format; anything else is 4.15.
    if (req.contentFormat !== undefined && req.contentFormat !== ContentFormat.LinkFormat) {
      throw new Lwm2mBadRegistrationError(CoapCode.UnsupportedContentFormat, `content-format ${req.contentFormat} is not application/link-format`);
    }
    if (req.payload.length > this.#maxPayload) {
      throw new Lwm2mBadRegistrationError(CoapCode.RequestEntityTooLarge, `object list larger than ${this.#maxPayload} bytes`);
    }
    const text = Buffer.from(req.payload).toString('utf8');
    // A fleet registers with a handful of distinct object lists: one that passed these checks
    // a moment ago passes again (the parse is pure), so it is not parsed again.
    if (this.#validLinks.has(text)) return text;
    try {
      parseRegistrationLinks(req.payload, { maxLinks: this.#maxLinks, maxLength: this.#maxPayload });
    } catch (err) {
      throw new Lwm2mBadRegistrationError(CoapCode.BadRequest, `bad object list: ${(err as Error).message}`);
    }
    if (this.#validLinks.size >= VALID_LINKS_MEMO) this.#validLinks.delete(this.#validLinks.values().next().value!);
    this.#validLinks.add(text);
    return text;
  }

  async #audit(action: string, endpoint: string, outcome: 'allow' | 'deny', details: Record<string, unknown>): Promise<void> {
    await this.#o.store.audit.append({ actor: outcome === 'allow' ? `device:${endpoint}` : 'system', action, subject: endpoint, outcome, details });
  }

  async #deny(action: string, endpoint: string, identity: PeerIdentity | undefined, peer: string, reason: string): Promise<CoapResponseInit> {
    await this.#audit(action, endpoint, 'deny', { ...identityDetails(identity, peer), reason });
    return reply(CoapCode.Forbidden, 'forbidden');
  }

  /** POST /rd?ep=...: Core §6.2.1 Register. */
  async register(req: CoapRequest): Promise<CoapResponseInit> {
    let params;
    let objectLinks: string;
    try {
      params = parseRegisterQuery(req.query, this.#o.limits);
      objectLinks = this.#objectLinks(req);
    } catch (err) {
      if (err instanceof Lwm2mBadRegistrationError) return reply(err.coapCode, err.message);
      throw err;
    }
    const identity = await this.#o.identityOf(req.peer);
    const decision = await authorizeEndpoint(this.#o.store, identity, params.endpoint);
    if (!decision.allowed) return this.#deny('lwm2m.register', params.endpoint, identity, req.peer, decision.reason);
    const now = Date.now();
    const at = new Date(now).toISOString();
    const record: RegistrationRecord = {
      id: newRegistrationId(),
      endpoint: params.endpoint,
      lifetime: params.lifetime,
      lwm2mVersion: params.lwm2mVersion,
      binding: params.binding,
      queueMode: params.queueMode,
      smsNumber: params.smsNumber,
      objectLinks,
      security: identity!.kind,
      peer: req.peer,
      registeredAt: at,
      updatedAt: at,
      expiresAt: new Date(now + params.lifetime * 1000).toISOString(),
    };
    // Fail closed: a registration whose allow record cannot be written is not made (the
    // registry writes the audit record first, batched with other Registers of this moment).
    const audit = { actor: `device:${params.endpoint}`, action: 'lwm2m.register', subject: params.endpoint, outcome: 'allow' as const, details: { ...identityDetails(identity, req.peer), registration: record.id, lifetime: record.lifetime, binding: record.binding, lwm2m: record.lwm2mVersion } };
    let replaced: RegistrationRecord | undefined;
    try {
      replaced = await this.#o.registry.put(record, { audit });
    } catch (err) {
      // The device was deleted between the check and the write.
      if (isRootlineError(err, 'ERR_STORE_NOT_FOUND')) return reply(CoapCode.Forbidden, 'forbidden');
      throw err;
    }
    this.#o.hooks.registered(record, replaced);
    this.#o.hooks.contact(record);
    // Core §6.2.1 / Transport §6.4.3: "2.01 Created" with the Location-Path /rd/{location}.
    return { code: CoapCode.Created, options: [stringOption(OptionNumber.LocationPath, 'rd'), stringOption(OptionNumber.LocationPath, record.id)] };
  }

  /** Finds the registration `id` and checks that the requesting peer may act for it. */
  async #owned(req: CoapRequest, id: string, action: string): Promise<{ r: RegistrationRecord } | { res: CoapResponseInit }> {
    let r: RegistrationRecord | undefined;
    try {
      r = await this.#o.registry.get(id);
    } catch (err) {
      if (isRootlineError(err, 'ERR_INVALID_ARGUMENT')) r = undefined;
      else throw err;
    }
    // Core §6.2.2: an unknown registration is 4.04 Not Found (the client then registers again).
    if (r === undefined) return { res: reply(CoapCode.NotFound, 'no such registration') };
    const identity = await this.#o.identityOf(req.peer);
    const decision = await authorizeEndpoint(this.#o.store, identity, r.endpoint);
    if (!decision.allowed) return { res: await this.#deny(action, r.endpoint, identity, req.peer, decision.reason) };
    return { r };
  }

  /** POST /rd/{id}: Core §6.2.2 Update. Allowed updates are not audited one by one (they are periodic). */
  async update(req: CoapRequest, id: string): Promise<CoapResponseInit> {
    let params;
    let objectLinks: string | undefined;
    try {
      params = parseUpdateQuery(req.query, this.#o.limits);
      if (req.payload.length > 0) objectLinks = this.#objectLinks(req);
    } catch (err) {
      if (err instanceof Lwm2mBadRegistrationError) return reply(err.coapCode, err.message);
      throw err;
    }
    const found = await this.#owned(req, id, 'lwm2m.update');
    if ('res' in found) return found.res;
    const previous = found.r;
    const now = Date.now();
    const lifetime = params.lifetime ?? previous.lifetime;
    const next = await this.#o.registry.update(previous.id, {
      ...params,
      ...(objectLinks !== undefined ? { objectLinks } : {}),
      peer: req.peer,
      updatedAt: new Date(now).toISOString(),
      // Core §6.2.2: an Update renews the registration for its (possibly new) lifetime.
      expiresAt: new Date(now + lifetime * 1000).toISOString(),
    });
    if (next === undefined) return reply(CoapCode.NotFound, 'no such registration');
    this.#o.hooks.updated(next, previous);
    this.#o.hooks.contact(next);
    return { code: CoapCode.Changed };
  }

  /** DELETE /rd/{id}: Core §6.2.3 De-register. */
  async deregister(req: CoapRequest, id: string): Promise<CoapResponseInit> {
    if (req.query.length > 0 || req.payload.length > 0) return reply(CoapCode.BadRequest, 'De-register takes no parameters or payload');
    const found = await this.#owned(req, id, 'lwm2m.deregister');
    if ('res' in found) return found.res;
    const r = found.r;
    await this.#audit('lwm2m.deregister', r.endpoint, 'allow', { ...identityDetails(await this.#o.identityOf(req.peer), req.peer), registration: r.id });
    await this.#o.registry.remove(r);
    this.#o.hooks.deregistered(r, 'deregistered');
    return { code: CoapCode.Deleted };
  }
}
