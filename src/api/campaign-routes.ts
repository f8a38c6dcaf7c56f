/**
 * Handlers of the campaign routes. The campaign engine (src/fota/campaign) validates, records,
 * audits (`campaign.create`, `campaign.approve`, `campaign.start`, ...) and emits events; this
 * file translates HTTP to its calls, adds the all-waves device totals to each view, and maps its
 * typed errors to API codes.
 */
import { isRootlineError } from '../errors.js';
import type { CampaignDeviceRecord, CampaignDeviceStatus, CampaignState } from '../store/campaign-types.js';
import { ApiError, type ApiErrorCode } from './errors.js';

/** Per-wave device counts, as the engine reports them. */
export interface WaveCounts {
  wave: number;
  total: number;
  pending: number;
  inFlight: number;
  retryWait: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
}

/** A campaign as the engine returns it (CampaignView). */
export interface CampaignViewLike {
  id: string;
  name: string;
  firmwareId: string;
  state: string;
  stateReason: string | null;
  revision: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  spec: object;
  progress: object;
  waves: WaveCounts[];
}


/** What the API needs of the campaign engine; server/ hands in the engine behind its driver guard. */
export interface CampaignOperations {
  create(input: unknown, options: { actor: string }): Promise<CampaignViewLike>;
  get(id: string): Promise<CampaignViewLike>;
  list(options?: { state?: CampaignState; after?: string; limit?: number }): Promise<CampaignViewLike[]>;
  devices(id: string, query?: { status?: CampaignDeviceStatus; after?: number; limit?: number }): Promise<CampaignDeviceRecord[]>;
  approve(id: string, options: { actor: string }): Promise<CampaignViewLike>;
  start(id: string, options: { actor: string }): Promise<CampaignViewLike>;
  pause(id: string, options: { actor: string; reason?: string }): Promise<CampaignViewLike>;
  resume(id: string, options: { actor: string }): Promise<CampaignViewLike>;
  cancel(id: string, options: { actor: string; reason?: string }): Promise<CampaignViewLike>;
}

export type CampaignAction = 'approve' | 'start' | 'pause' | 'resume' | 'cancel';

export type CampaignApiView = CampaignViewLike & { devices: Omit<WaveCounts, 'wave'> };

const CODES: Readonly<Record<string, ApiErrorCode>> = {
  ERR_CAMPAIGN_INVALID_SPEC: 'ERR_API_CAMPAIGN_INVALID',
  ERR_CAMPAIGN_NOT_FOUND: 'ERR_API_CAMPAIGN_NOT_FOUND',
  ERR_CAMPAIGN_UNKNOWN_FIRMWARE: 'ERR_API_CAMPAIGN_UNKNOWN_FIRMWARE',
  ERR_CAMPAIGN_ILLEGAL_TRANSITION: 'ERR_API_CAMPAIGN_ILLEGAL_TRANSITION',
  ERR_CAMPAIGN_APPROVAL_REQUIRED: 'ERR_API_CAMPAIGN_APPROVAL_REQUIRED',
  ERR_CAMPAIGN_CONFLICT: 'ERR_API_CAMPAIGN_CONFLICT',
  ERR_CAMPAIGN_NO_DRIVER: 'ERR_API_CAMPAIGN_NO_DRIVER',
  ERR_CAMPAIGN_ENGINE_CLOSED: 'ERR_API_NOT_READY',
};

function translate(err: unknown): never {
  if (isRootlineError(err)) {
    // The engine reports a duplicate id as a spec error on field `id`; to a client it is a conflict.
    if (err.code === 'ERR_CAMPAIGN_INVALID_SPEC' && (err as { field?: unknown }).field === 'id' && /already exists/.test(err.message)) {
      throw new ApiError('ERR_API_CAMPAIGN_EXISTS', err.message, { cause: err });
    }
    const code = CODES[err.code];
    if (code !== undefined) throw new ApiError(code, err.message, { cause: err });
  }
  throw err;
}

async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return translate(err);
  }
}

export function withTotals(c: CampaignViewLike): CampaignApiView {
  const devices = { total: 0, pending: 0, inFlight: 0, retryWait: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 };
  for (const w of c.waves) for (const k of Object.keys(devices) as (keyof typeof devices)[]) devices[k] += w[k];
  return { ...c, devices };
}

const DEFAULT_PAGE = 100;

export function createCampaignHandlers(deps: { campaigns: CampaignOperations; actor: string }) {
  const { campaigns, actor } = deps;
  return {
    create: (body: unknown) => mapped(async () => withTotals(await campaigns.create(body, { actor }))),
    get: (id: string) => mapped(async () => withTotals(await campaigns.get(id))),
    async list(query: { state?: CampaignState; after?: string; limit?: number }): Promise<{ campaigns: CampaignApiView[]; next: string | null }> {
      const limit = query.limit ?? DEFAULT_PAGE;
      const page = await mapped(() => campaigns.list({ ...query, limit }));
      return { campaigns: page.map(withTotals), next: page.length === limit ? page[page.length - 1]!.id : null };
    },
    async devices(id: string, query: { status?: CampaignDeviceStatus; after?: number; limit?: number }): Promise<{ devices: CampaignDeviceRecord[]; next: number | null }> {
      const limit = query.limit ?? DEFAULT_PAGE;
      const page = await mapped(() => campaigns.devices(id, { ...query, limit }));
      return { devices: page, next: page.length === limit ? page[page.length - 1]!.position : null };
    },
    act(id: string, action: CampaignAction, reason: string | undefined): Promise<CampaignApiView> {
      return mapped(async () => {
        const withReason = { actor, ...(reason !== undefined ? { reason } : {}) };
        switch (action) {
          case 'approve':
            return withTotals(await campaigns.approve(id, { actor }));
          case 'start':
            return withTotals(await campaigns.start(id, { actor }));
          case 'resume':
            return withTotals(await campaigns.resume(id, { actor }));
          case 'pause':
            return withTotals(await campaigns.pause(id, withReason));
          case 'cancel':
            return withTotals(await campaigns.cancel(id, withReason));
        }
      });
    },
  };
}
