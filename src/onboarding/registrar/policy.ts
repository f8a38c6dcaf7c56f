/**
 * Which pledges the registrar accepts (RFC 8995 §5.3: "the registrar ... determines if it will
 * accept the pledge", by whatever policy the domain has): by manufacturer CA (implied: only
 * IDevIDs under a trusted manufacturer get this far), by serial list, by model, or by an operator
 * approving a pending request. Pending requests and decisions live in the store's settings so
 * that an approval survives a restart and the API on any node sees the same list.
 */
import { InvalidArgumentError } from '../../errors.js';
import { findAttribute, type ParsedCertificate } from '../../pki/index.js';
import type { SettingsRepository } from '../../store/types.js';
import { auditText } from '../masa-registry.js';
import { NoPendingRequestError } from './errors.js';

export interface RegistrarPolicy {
  /** Serials accepted without asking anyone. */
  serials?: readonly string[];
  /** Models accepted without asking anyone. */
  models?: readonly string[];
  /**
   * 'automatic' (default): a pledge of a trusted manufacturer that no list names is accepted
   * when no list is configured, refused otherwise. 'manual': it waits for an operator (202).
   */
  approval?: 'automatic' | 'manual';
  /** Retry-After for pending answers (default 30 s). */
  retryAfterSeconds?: number;
  /** Model of a pledge. Default: the IDevID CN without its trailing " <serial>" (the factory writes "<model> <serial>"). */
  modelOf?: (idevid: ParsedCertificate, serial: string) => string | undefined;
  /** Registry endpoint of a pledge. Default `urn:dev:ops:<manufacturer>-<model>-<serial>` (RFC 8141 dev URN, spaces as '_'). */
  endpointFor?: (pledge: PledgeIdentity) => string;
  /** Longest pending list kept (default 10,000); beyond it new pledges are refused. */
  maxPending?: number;
}

export interface PledgeIdentity {
  serial: string;
  model: string;
  manufacturer: string;
  /** SHA-256 of the IDevID DER, hex. */
  idevidFingerprint: string;
}

export type PolicyDecision =
  | { decision: 'accept'; basis: 'serial-list' | 'model-list' | 'manufacturer' | 'operator' }
  | { decision: 'pending'; retryAfterSeconds: number }
  | { decision: 'reject'; reason: string };

export interface PendingRequest extends PledgeIdentity {
  status: 'pending' | 'approved' | 'rejected';
  firstSeen: string;
  lastSeen: string;
  decidedBy?: string;
  decidedAt?: string;
}

const SETTINGS_KEY = 'onboarding.registrar.approvals';

export function defaultModelOf(idevid: ParsedCertificate, serial: string): string | undefined {
  const cn = findAttribute(idevid.subjectRdns, 'CN');
  if (cn === undefined) return undefined;
  return cn.endsWith(` ${serial}`) ? cn.slice(0, -serial.length - 1) : cn;
}

function urnPart(s: string): string {
  // RFC 8141 NSS characters; anything else (spaces, slashes, '%') becomes '_' so the endpoint
  // is one token in CoAP Uri-Query and in a certificate CN.
  return s.replace(/[^A-Za-z0-9._~-]/g, '_');
}

export function defaultEndpointFor(p: PledgeIdentity): string {
  return `urn:dev:ops:${urnPart(p.manufacturer)}-${urnPart(p.model)}-${urnPart(p.serial)}`;
}

export interface ApprovalBook {
  decide(pledge: PledgeIdentity): Promise<PolicyDecision>;
  list(): Promise<PendingRequest[]>;
  approve(serial: string, actor: string): Promise<PendingRequest>;
  reject(serial: string, actor: string): Promise<PendingRequest>;
}

/** The policy over a settings table. Writes are serialised in this process. */
export function approvalBook(settings: SettingsRepository, policy: RegistrarPolicy): ApprovalBook {
  const approval = policy.approval ?? 'automatic';
  if (approval !== 'automatic' && approval !== 'manual') throw new InvalidArgumentError('policy.approval', "expected 'automatic' or 'manual'");
  const serials = new Set(policy.serials ?? []);
  const models = new Set(policy.models ?? []);
  const retryAfterSeconds = policy.retryAfterSeconds ?? 30;
  const maxPending = policy.maxPending ?? 10_000;
  let queue: Promise<unknown> = Promise.resolve();

  async function load(): Promise<Record<string, PendingRequest>> {
    const raw = await settings.get(SETTINGS_KEY);
    if (raw === undefined) return {};
    const parsed = JSON.parse(raw) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, PendingRequest>) : {};
  }

  function serialised<T>(fn: (book: Record<string, PendingRequest>) => Promise<T>): Promise<T> {
    const run = queue.then(async () => fn(await load()));
    queue = run.catch(() => undefined);
    return run;
  }

  async function save(book: Record<string, PendingRequest>): Promise<void> {
    await settings.set(SETTINGS_KEY, JSON.stringify(book));
  }

  async function setStatus(serial: string, actor: string, status: 'approved' | 'rejected'): Promise<PendingRequest> {
    if (typeof serial !== 'string' || serial.length === 0) throw new InvalidArgumentError('serial', 'expected a serial number');
    if (typeof actor !== 'string' || actor.length === 0) throw new InvalidArgumentError('actor', 'expected who decides');
    return serialised(async (book) => {
      const entry = Object.hasOwn(book, serial) ? book[serial] : undefined;
      if (entry === undefined) throw new NoPendingRequestError(serial);
      const updated: PendingRequest = { ...entry, status, decidedBy: auditText(actor), decidedAt: new Date().toISOString() };
      book[serial] = updated;
      await save(book);
      return updated;
    });
  }

  return {
    async decide(pledge) {
      if (serials.has(pledge.serial)) return { decision: 'accept', basis: 'serial-list' };
      if (models.has(pledge.model)) return { decision: 'accept', basis: 'model-list' };
      if (approval === 'automatic') {
        return serials.size === 0 && models.size === 0 ? { decision: 'accept', basis: 'manufacturer' } : { decision: 'reject', reason: `serial ${pledge.serial} / model ${pledge.model} is on no accepted list` };
      }
      return serialised(async (book) => {
        const now = new Date().toISOString();
        const entry = Object.hasOwn(book, pledge.serial) ? book[pledge.serial] : undefined;
        // An approval is for the certificate the operator saw: a second IDevID claiming the same
        // serial starts over as pending rather than inheriting it.
        if (entry !== undefined && entry.idevidFingerprint === pledge.idevidFingerprint) {
          if (entry.status === 'approved') return { decision: 'accept', basis: 'operator' };
          if (entry.status === 'rejected') return { decision: 'reject', reason: `an operator (${entry.decidedBy ?? 'unknown'}) rejected ${pledge.serial}` };
          book[pledge.serial] = { ...entry, lastSeen: now };
        } else {
          if (entry === undefined && Object.keys(book).length >= maxPending) return { decision: 'reject', reason: 'the pending list is full' };
          // Model and manufacturer come from certificate text the pledge chose: shown to
          // operators, so made safe like audit text.
          book[pledge.serial] = { ...pledge, model: auditText(pledge.model, 128), manufacturer: auditText(pledge.manufacturer, 128), status: 'pending', firstSeen: now, lastSeen: now };
        }
        await save(book);
        return { decision: 'pending', retryAfterSeconds };
      });
    },
    list: () => serialised(async (book) => Object.values(book).sort((a, b) => a.firstSeen.localeCompare(b.firstSeen))),
    approve: (serial, actor) => setStatus(serial, actor, 'approved'),
    reject: (serial, actor) => setStatus(serial, actor, 'rejected'),
  };
}
