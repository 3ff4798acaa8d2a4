import type { EventStatus, PortalActivity } from '../store/types.js';

/*
 * What the console's API answers for the overview and the portals: types only, with no imports
 * but the store's types, so the page (ui/) reads these very types.
 */

/** A bot as its latest events show it: how its events came (posted, or fetched with Event.get). */
export interface BotSeen {
  id: number;
  code: string | null;
  /** `webhook` or `fetch`: what the bot reports, else how its events came (a form POST, or JSON). */
  eventMode: string;
  lastEventAt: number;
  lastEventId: number;
}

/** A portal as the console shows it: never a token, only whether there is one and when it expires. */
export interface PortalView extends PortalActivity {
  domain: string;
  status: string | null;
  scope: string | null;
  installedAt: number | null;
  uninstalledAt: number | null;
  hasApplicationToken: boolean;
  hasOAuth: boolean;
  tokenExpiresAt: number | null;
  /** The REST leaky bucket: requests counted and not yet drained, of `burst`. */
  rest: { level: number; burst: number; perSecond: number };
  bots: BotSeen[];
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface Overview {
  now: number;
  since: number;
  /** Minute starts (Unix ms), oldest first, every minute of the window. */
  minutes: number[];
  /** Events per minute by outcome (status now), one value per minute. */
  byStatus: Partial<Record<EventStatus, number[]>>;
  /** Events per minute by code, the busiest codes first. */
  byCode: { code: string; counts: number[]; total: number }[];
  latency: { processed: Percentiles; confirmed: Percentiles };
  queue: Record<EventStatus, number>;
  statuses: { pending: number; sent: number; dead: number };
  customerActions: { pending: number; sent: number; dead: number };
  portals: PortalView[];
}
