import { isGatewayError } from '../../errors.js';
import { orderKeyOf } from '../../events/keys.js';
import { splitSecrets } from '../../events/redact.js';
import { normalizeCode, parseEvent, parseFetched } from '../../events/registry.js';
import type { NewEvent, PullCursor } from '../../store/types.js';
import { REDACTED, redactedJson } from '../../wire/redact.js';
import type { WireObject, WireValue } from '../../wire/types.js';

/**
 * A pulled item as the inbox keeps it: the same typed event a posted one becomes (its `auth`
 * names the portal; its token was never sent, the portal's OAuth call proved where it came from),
 * keyed by the source's own id, so that fetching it again keeps it once.
 */

/** Unix seconds of an ISO date, or of now when it has none. */
const unixOf = (date: unknown, now: number): number => {
  const ms = typeof date === 'string' ? Date.parse(date) : NaN;
  return Math.floor((Number.isFinite(ms) ? ms : now) / 1000);
};

const authOf = (memberId: string, domain: string, extra: Record<string, unknown> = {}) => ({
  ...extra,
  domain,
  member_id: memberId,
  application_token: REDACTED,
});

function record(wire: WireObject, dedupKey: string, memberId: string, raw: unknown, now: number): NewEvent {
  const rawBody = redactedJson(raw);
  try {
    const parsed = parseEvent(wire);
    const { event, secrets } = splitSecrets(parsed.event);
    return {
      dedupKey,
      memberId,
      code: parsed.code,
      known: parsed.known,
      status: 'pending',
      handlerId: null,
      ts: parsed.event.ts ?? null,
      orderKey: orderKeyOf(parsed),
      receivedAt: now,
      event: JSON.stringify(event),
      rawBody,
      contentType: 'json',
      error: null,
      secrets: secrets && JSON.stringify(secrets),
    };
  } catch (e) {
    if (!isGatewayError(e)) throw e;
    return invalidRecord(wire, dedupKey, memberId, rawBody, e.message, now);
  }
}

function invalidRecord(
  wire: WireObject,
  dedupKey: string,
  memberId: string,
  rawBody: string,
  error: string,
  now: number,
): NewEvent {
  const { event } = splitSecrets(wire as { auth?: unknown; data?: unknown });
  return {
    dedupKey,
    memberId,
    code: normalizeCode(typeof wire.event === 'string' ? wire.event : ''),
    known: false,
    status: 'invalid',
    handlerId: null,
    ts: null,
    orderKey: null,
    receivedAt: now,
    event: redactedJson(event),
    rawBody,
    contentType: 'json',
    error,
  };
}

/** One item of an `imbot.v2.Event.get` / `im.v2.Event.get` answer. */
export function fetchedRecord(item: unknown, cursor: PullCursor, domain: string, now: number): NewEvent {
  const i = (item ?? {}) as { eventId?: unknown; type?: unknown; date?: unknown; data?: unknown };
  const dedupKey = `fetch:${cursor.memberId}:${cursor.kind}${cursor.target}:${String(i.eventId)}`;
  const wire: WireObject = {
    event: typeof i.type === 'string' ? i.type : '',
    eventId: i.eventId as number,
    data: i.data as WireObject,
    ts: unixOf(i.date, now),
    auth: authOf(cursor.memberId, domain),
  };
  try {
    // The item's own fields (eventId, type) first, as an Event.get item.
    parseFetched(item);
  } catch (e) {
    if (!isGatewayError(e)) throw e;
    return invalidRecord(wire, dedupKey, cursor.memberId, redactedJson(item), e.message, now);
  }
  return record(wire, dedupKey, cursor.memberId, item, now);
}

/** One record of `event.offline.get`: `ID`, `TIMESTAMP_X`, `EVENT_NAME`, `EVENT_DATA`, `EVENT_ADDITIONAL`, `MESSAGE_ID`. */
export interface OfflineRecord {
  ID: string | number;
  TIMESTAMP_X?: string;
  EVENT_NAME?: string;
  EVENT_DATA?: unknown;
  EVENT_ADDITIONAL?: unknown;
  MESSAGE_ID?: string | number;
}

export function offlineRecord(r: OfflineRecord, memberId: string, domain: string, now: number): NewEvent {
  const additional =
    r.EVENT_ADDITIONAL && typeof r.EVENT_ADDITIONAL === 'object' ? (r.EVENT_ADDITIONAL as Record<string, unknown>) : {};
  const userId = additional.user_id ?? additional.USER_ID;
  const wire: WireObject = {
    event: r.EVENT_NAME ?? '',
    // PHP's `false` for no data: the event's data is then empty, as a posted one's would be left out.
    ...(r.EVENT_DATA === false || r.EVENT_DATA === null || r.EVENT_DATA === undefined
      ? {}
      : { data: r.EVENT_DATA as WireObject }),
    ts: unixOf(r.TIMESTAMP_X, now),
    auth: authOf(memberId, domain, userId === undefined ? {} : { user_id: userId }) as WireObject,
    offline: {
      id: String(r.ID),
      messageId: String(r.MESSAGE_ID ?? ''),
      additional: (r.EVENT_ADDITIONAL ?? null) as WireValue,
    },
  };
  return record(wire, `offline:${memberId}:${String(r.ID)}`, memberId, r, now);
}
