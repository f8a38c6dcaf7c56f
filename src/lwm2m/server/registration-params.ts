/**
 * The Uri-Query parameters of Register and Update (OMA LwM2M Core 1.1 §6.2.1 / §6.2.2, Transport
 * §6.4 / Table 6.4.3-1) and of Bootstrap-Request (§6.1). Pure: strings in, a checked record out,
 * or a Lwm2mBadRegistrationError carrying the CoAP code the spec names.
 */
import { CoapCode } from '../../coap/codec.js';
import { Lwm2mBadRegistrationError } from './errors.js';

/** LwM2M enabler versions this server speaks (Core §6.2.1 "lwm2m" parameter). */
export const SUPPORTED_LWM2M_VERSIONS: readonly string[] = ['1.0', '1.1', '1.2'];

export interface RegistrationLimits {
  /** Largest lifetime accepted, in seconds (default one year); more is refused with 4.00. */
  maxLifetime?: number;
  /** Longest endpoint client name (default 255, the store's limit). */
  maxEndpointLength?: number;
  /** Most Uri-Query parameters in one request (default 16). */
  maxQueryParameters?: number;
}

export interface RegisterParams {
  endpoint: string;
  lifetime: number;
  lwm2mVersion: string;
  binding: string;
  queueMode: boolean;
  smsNumber: string | null;
}

export type UpdateParams = Partial<Pick<RegisterParams, 'lifetime' | 'binding' | 'queueMode' | 'smsNumber'>>;

/** Core §6.2.1: "Lifetime ... If Lifetime Resource is not set, default 86400". */
export const DEFAULT_LIFETIME = 86400;

/** C0 and C1 control characters (never part of a name a device sends or an operator reads). */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

function bad(message: string): never {
  throw new Lwm2mBadRegistrationError(CoapCode.BadRequest, message);
}

function splitQuery(query: readonly string[], limits: RegistrationLimits): Map<string, string | undefined> {
  const max = limits.maxQueryParameters ?? 16;
  if (query.length > max) bad(`more than ${max} query parameters`);
  const out = new Map<string, string | undefined>();
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = eq < 0 ? q : q.slice(0, eq);
    if (out.has(name)) bad(`query parameter ${JSON.stringify(name.slice(0, 16))} given twice`);
    out.set(name, eq < 0 ? undefined : q.slice(eq + 1));
  }
  return out;
}

function parseLifetime(text: string | undefined, limits: RegistrationLimits): number {
  const max = limits.maxLifetime ?? 365 * 86400;
  if (text === undefined || !/^[0-9]{1,10}$/.test(text)) bad('lt must be an unsigned integer (seconds)');
  const lt = Number(text);
  // A lifetime of 0 would expire the registration as it is made; Leshan and the spec's
  // registration semantics treat it as invalid.
  if (lt === 0) bad('lt must be at least 1 second');
  if (lt > max) bad(`lt ${lt} exceeds the largest lifetime this server accepts (${max} s)`);
  return lt;
}

/**
 * Core 1.1 §6.2.1 / Transport §6.4: binding letters U (UDP), T (TCP), S (SMS), N (Non-IP), and
 * in 1.2 also M (MQTT) and H (HTTP); LwM2M 1.0 wrote queue mode as a Q after a transport (UQ,
 * SQ, UQS). Anything else is an unknown binding: 4.00 Bad Request.
 */
function parseBinding(text: string | undefined): { binding: string; queueMode: boolean } {
  if (text === undefined || text.length === 0 || text.length > 8) bad('b must be a binding mode such as U or UQ');
  const seen = new Set<string>();
  for (const c of text) {
    if (!'UTSNMHQ'.includes(c)) bad(`unknown binding ${JSON.stringify(text)}`);
    if (seen.has(c)) bad(`binding ${JSON.stringify(text)} repeats ${c}`);
    seen.add(c);
  }
  if (text[0] === 'Q') bad(`binding ${JSON.stringify(text)}: Q must follow a transport`);
  if (!/[UTSNMH]/.test(text)) bad(`binding ${JSON.stringify(text)} names no transport`);
  return { binding: text, queueMode: seen.has('Q') };
}

function parseSms(text: string | undefined): string {
  // MSISDN: E.164 digits, optionally with a leading '+'.
  if (text === undefined || !/^\+?[0-9]{1,20}$/.test(text)) bad('sms must be an MSISDN');
  return text;
}

/** Register: `ep` mandatory, `lt` default 86400, `lwm2m` default 1.0, `b` default U. */
export function parseRegisterQuery(query: readonly string[], limits: RegistrationLimits = {}): RegisterParams {
  const q = splitQuery(query, limits);
  const ep = q.get('ep');
  const maxEp = limits.maxEndpointLength ?? 255;
  if (ep === undefined || ep.length === 0) bad('ep (Endpoint Client Name) is missing');
  if (ep.length > maxEp) bad(`ep longer than ${maxEp} characters`);
  // The name becomes a store key and a log subject: no control characters.
  if (hasControl(ep)) bad('ep contains control characters');
  const lifetime = q.has('lt') ? parseLifetime(q.get('lt'), limits) : DEFAULT_LIFETIME;
  // LwM2M 1.0 clients may omit the parameter: "1.0" is meant (Core 1.0 §5.3.1 default).
  const version = q.has('lwm2m') ? q.get('lwm2m') : '1.0';
  if (version === undefined || !/^[0-9]{1,3}\.[0-9]{1,3}$/.test(version)) bad('lwm2m must be a version like 1.1');
  // Core 1.1 §6.2.1: "If the LwM2M Server does not support the LwM2M Version ... the LwM2M
  // Server MUST respond with 4.12 Precondition Failed".
  if (!SUPPORTED_LWM2M_VERSIONS.includes(version)) {
    throw new Lwm2mBadRegistrationError(CoapCode.PreconditionFailed, `LwM2M version ${version} is not supported (${SUPPORTED_LWM2M_VERSIONS.join(', ')})`);
  }
  const b = q.has('b') ? parseBinding(q.get('b')) : { binding: 'U', queueMode: false };
  // LwM2M 1.1 moved queue mode from the binding (UQ) to the Q parameter; clients still send UQ
  // with lwm2m=1.1, and refusing it would strand them, so both spellings mean queue mode.
  if (q.has('Q')) {
    if (q.get('Q') !== undefined) bad('Q takes no value');
    b.queueMode = true;
  }
  const smsNumber = q.has('sms') ? parseSms(q.get('sms')) : null;
  return { endpoint: ep, lifetime, lwm2mVersion: version, binding: b.binding, queueMode: b.queueMode, smsNumber };
}

/** Update (Core §6.2.2): only lt, b, sms and Q may change; the endpoint name and version may not. */
export function parseUpdateQuery(query: readonly string[], limits: RegistrationLimits = {}): UpdateParams {
  const q = splitQuery(query, limits);
  for (const name of q.keys()) {
    if (!['lt', 'b', 'sms', 'Q'].includes(name)) bad(`${JSON.stringify(name.slice(0, 16))} cannot be changed by an Update`);
  }
  const out: UpdateParams = {};
  if (q.has('lt')) out.lifetime = parseLifetime(q.get('lt'), limits);
  if (q.has('b')) {
    const b = parseBinding(q.get('b'));
    out.binding = b.binding;
    out.queueMode = b.queueMode;
  }
  if (q.has('Q')) {
    if (q.get('Q') !== undefined) bad('Q takes no value');
    out.queueMode = true;
  }
  if (q.has('sms')) out.smsNumber = parseSms(q.get('sms'));
  return out;
}

export interface BootstrapRequestParams {
  endpoint: string;
  /** Preferred content format (Core 1.1 §6.1.5.1 `pct`), if given. */
  preferredContentFormat?: number;
}

/** Bootstrap-Request (Core §6.1.5.1): POST /bs?ep={Endpoint Client Name}[&pct=...]. */
export function parseBootstrapQuery(query: readonly string[], limits: RegistrationLimits = {}): BootstrapRequestParams {
  const q = splitQuery(query, limits);
  const ep = q.get('ep');
  const maxEp = limits.maxEndpointLength ?? 255;
  if (ep === undefined || ep.length === 0) bad('ep (Endpoint Client Name) is missing');
  if (ep.length > maxEp) bad(`ep longer than ${maxEp} characters`);
  if (hasControl(ep)) bad('ep contains control characters');
  const out: BootstrapRequestParams = { endpoint: ep };
  if (q.has('pct')) {
    const pct = q.get('pct');
    if (pct === undefined || !/^[0-9]{1,5}$/.test(pct) || Number(pct) > 65535) bad('pct must be a content-format number');
    out.preferredContentFormat = Number(pct);
  }
  return out;
}
