import { GatewayError } from '../errors.js';
import { EVENT_STATUSES } from '../store/queries/events.js';
import { PAGE_MAX } from '../store/queries/browse.js';
import type { Delivery, EventBrowse, EventPage, EventQuery, EventStatus, Store } from '../store/types.js';

const DELIVERIES: readonly Delivery[] = ['webhook', 'fetch', 'offline'];

/**
 * The events list and replay as the console's API and the CLI's `events` and `replay` run them:
 * one code, so the page and the command line always agree.
 */

const bad = (message: string) => new GatewayError('B24GW_BAD_INPUT', message);

/** The list's filters, checked: a line needs its portal, a chat its line. */
export function checkBrowse(q: EventBrowse): EventBrowse {
  if (q.status !== undefined && !EVENT_STATUSES.includes(q.status))
    throw bad(`status must be one of ${EVENT_STATUSES.join(', ')}, got "${q.status}"`);
  if (q.delivery !== undefined && !DELIVERIES.includes(q.delivery))
    throw bad(`mode must be one of ${DELIVERIES.join(', ')}, got "${String(q.delivery)}"`);
  if (q.line !== undefined && q.memberId === undefined) throw bad('a line filter needs a portal (member id)');
  if (q.chat !== undefined && q.line === undefined) throw bad('a chat filter needs its line');
  if (q.limit !== undefined && (q.limit < 1 || q.limit > PAGE_MAX))
    throw bad(`limit must be between 1 and ${PAGE_MAX}, got ${q.limit}`);
  return q;
}

/** One page of events, newest first. */
export function findEvents(store: Store, q: EventBrowse): Promise<EventPage> {
  return store.browseEvents(checkBrowse(q));
}

/** A time given as ISO 8601 or Unix milliseconds. */
export function parseTime(name: string, value: string): number {
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(t)) throw bad(`${name} must be an ISO time (2026-11-22T10:00:00Z) or Unix ms, got "${value}"`);
  return t;
}

const whole = (name: string, value: string): number => {
  if (!/^\d{1,15}$/.test(value)) throw bad(`${name} must be a whole number, got "${value.slice(0, 40)}"`);
  return Number(value);
};

/** The list's filters from a query string: status, code, portal, line, chat, since, until, mode, q, before, limit. */
export function browseFromQuery(params: URLSearchParams): EventBrowse {
  const text = (name: string) => {
    const v = params.get(name);
    return v === null || v === '' ? undefined : v;
  };
  const num = (name: string) => {
    const v = text(name);
    return v === undefined ? undefined : whole(name, v);
  };
  const time = (name: string) => {
    const v = text(name);
    return v === undefined ? undefined : parseTime(name, v);
  };
  return checkBrowse({
    status: text('status') as EventStatus | undefined,
    code: text('code'),
    memberId: text('portal'),
    line: num('line'),
    chat: text('chat'),
    since: time('since'),
    until: time('until'),
    delivery: text('mode') as Delivery | undefined,
    search: text('q'),
    before: num('before'),
    limit: num('limit'),
  });
}

/** What to replay: events by id, or those received in a time range (dead letters unless `all`). */
export type ReplaySelection =
  { ids: readonly number[] } | { since?: number | undefined; until?: number | undefined; all?: boolean };

export interface ReplayResult {
  /** The events asked for. */
  requested: number;
  /** Those put back to pending; the rest were invalid, running, or unknown. */
  requeued: number;
  ids: number[];
}

const CHUNK = 500;

/** Puts the selection back to pending with a fresh retry budget, in chunks; `progress` hears how far it got. */
export async function replayEvents(
  store: Store,
  selection: ReplaySelection,
  progress?: (done: number, total: number) => void,
): Promise<ReplayResult> {
  let ids: number[];
  if ('ids' in selection) {
    if (selection.ids.length === 0) throw bad('Say what to replay: at least one event id');
    if (!selection.ids.every((id) => Number.isSafeInteger(id) && id > 0)) throw bad('event ids are whole numbers');
    ids = [...new Set(selection.ids)];
  } else {
    const q: EventQuery = {};
    if (selection.since !== undefined) q.since = selection.since;
    if (selection.until !== undefined) q.until = selection.until;
    if (!selection.all) q.status = 'dead';
    ids = (await store.listEvents(q)).map((e) => e.id);
  }
  let requeued = 0;
  progress?.(0, ids.length);
  for (let i = 0; i < ids.length; i += CHUNK) {
    requeued += await store.requeue(ids.slice(i, i + CHUNK));
    progress?.(Math.min(i + CHUNK, ids.length), ids.length);
  }
  return { requested: ids.length, requeued, ids };
}
