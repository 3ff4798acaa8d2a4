import type { Dialect } from '../sql/dialect.js';
import { all, get, where, type Work } from '../sql/work.js';
import type {
  Activity,
  Delivery,
  EventBrowse,
  EventPage,
  EventStatus,
  EventSummary,
  PortalActivity,
  StatusRecord,
} from '../types.js';

/**
 * What a person reads of the store (the console, the CLI's `events`): pages of events newest first
 * by keyset (`id < before`), each filter through an index of its own (step 12: status, code,
 * portal, chat by id), so a page costs the same at a million events as at a hundred.
 */

export const PAGE_DEFAULT = 50;
export const PAGE_MAX = 500;
/** How many latencies the overview reads: enough for its percentiles, few enough to stay quick. */
const LATENCY_SAMPLE = 2_000;

const summaryColumns =
  'id, member_id, code, status, order_key, received_at, processed_at, attempts, last_error, content_type, delivery, duplicates';

interface SummaryRow {
  id: number;
  member_id: string;
  code: string;
  status: EventStatus;
  order_key: string | null;
  received_at: number;
  processed_at: number | null;
  attempts: number;
  last_error: string | null;
  content_type: 'form' | 'json';
  delivery: Delivery;
  duplicates: number;
}

const summaryFromRow = (r: SummaryRow): EventSummary => ({
  id: r.id,
  memberId: r.member_id,
  code: r.code,
  status: r.status,
  orderKey: r.order_key,
  receivedAt: r.received_at,
  processedAt: r.processed_at,
  attempts: r.attempts,
  lastError: r.last_error,
  contentType: r.content_type,
  delivery: r.delivery,
  duplicates: r.duplicates,
});

/** The order keys of a connector chat: its events come as connector (`im`) and Open Lines (`ol`) events. */
const chatKeys = (memberId: string, line: number, chat: string): string[] => [
  `${memberId}|im|${line}|${chat}`,
  `${memberId}|ol|${line}|${chat}`,
];

/** `id` appears in the text as a whole number, not inside a longer one. */
const namesNumber = (text: string, id: string): boolean => new RegExp(`(^|[^0-9])${id}([^0-9]|$)`).test(text);

/** The chats whose messages carry this Bitrix24 message id, as the connector state knows them. */
function* chatsOfMessage(memberId: string | undefined, imMessageId: number): Work<string[]> {
  const f = where([
    ['im_message_id = ?', imMessageId],
    ['member_id = ?', memberId],
  ]);
  const rows = yield* all<{ member_id: string; line: number; external_chat_id: string }>(
    `SELECT DISTINCT member_id, line, external_chat_id FROM state_messages WHERE ${f.where}`,
    ...f.params,
  );
  return rows.flatMap((r) => chatKeys(r.member_id, r.line, r.external_chat_id));
}

export function* browseEvents(d: Dialect, q: EventBrowse): Work<EventPage> {
  const limit = Math.min(Math.max(q.limit ?? PAGE_DEFAULT, 1), PAGE_MAX);
  let keys: string[] | undefined;
  let linePrefix: string | undefined;
  if (q.chat !== undefined && q.memberId !== undefined && q.line !== undefined)
    keys = chatKeys(q.memberId, q.line, q.chat);
  else if (q.line !== undefined && q.memberId !== undefined) linePrefix = `${q.memberId}|im|${q.line}|`;

  const search = q.search?.trim();
  let messageId: string | undefined;
  if (search) {
    if (!/^\d{1,15}$/.test(search)) return { events: [], next: null };
    // A number: the event of that id, and the events of the chats holding a message of that id.
    const byMessage = yield* chatsOfMessage(q.memberId, Number(search));
    if (byMessage.length === 0) {
      const row = yield* get<SummaryRow>(`SELECT ${summaryColumns} FROM events WHERE id = ?`, Number(search));
      const found = row && matches(summaryFromRow(row), q) ? [summaryFromRow(row)] : [];
      return { events: found, next: null };
    }
    keys = keys ? keys.filter((k) => byMessage.includes(k)) : byMessage;
    messageId = search;
  }

  // A time range walks events_received_id (received_at, id), newest first, and stops at the page.
  const byTime = (q.since !== undefined || q.until !== undefined) && keys === undefined;
  const order = byTime ? 'received_at DESC, id DESC' : 'id DESC';
  const f = where([
    ['status = ?', q.status],
    ['code = ?', q.code],
    // A chat's keys name its portal: its index alone finds the rows.
    ['member_id = ?', keys ? undefined : q.memberId],
    ['delivery = ?', q.delivery],
    ['received_at >= ?', q.since],
    ['received_at < ?', q.until],
    ['id < ?', byTime ? undefined : q.before],
  ]);
  // A line's events by their keys' prefix, exactly (no LIKE: its case and collation rules differ), among the portal's.
  const line = linePrefix === undefined ? '' : 'substr(order_key, 1, ?) = ?';
  // By time, the keyset is (received_at, id): the cursor's own time is read from its row.
  const cursor =
    byTime && q.before !== undefined
      ? '(received_at, id) < ((SELECT c.received_at FROM events c WHERE c.id = ?), ?)'
      : '';
  const conditions = [f.where, keys ? d.inList('order_key', 'text') : '', line, cursor].filter(Boolean).join(' AND ');
  const params = [
    ...f.params,
    ...(keys ? [d.list(keys)] : []),
    ...(linePrefix === undefined ? [] : [linePrefix.length, linePrefix]),
    ...(cursor ? [q.before, q.before] : []),
  ];
  if (keys && keys.length === 0) return { events: [], next: null };

  if (messageId === undefined) {
    const rows = yield* all<SummaryRow>(
      `SELECT ${summaryColumns} FROM events${conditions ? ` WHERE ${conditions}` : ''} ORDER BY ${order} LIMIT ?`,
      ...params,
      limit + 1,
    );
    const events = rows.slice(0, limit).map(summaryFromRow);
    return { events, next: rows.length > limit ? events.at(-1)!.id : null };
  }
  // The message's chats' events, those whose data names the id: a chat holds few enough to read.
  const rows = yield* all<SummaryRow & { event: string }>(
    `SELECT ${summaryColumns}, event FROM events WHERE ${conditions} ORDER BY id DESC LIMIT ?`,
    ...params,
    PAGE_MAX * 4,
  );
  const events = rows
    .filter((r) => namesNumber(r.event, messageId))
    .slice(0, limit)
    .map(summaryFromRow);
  return { events, next: null };
}

/** Whether one event found by id passes the other filters. */
function matches(e: EventSummary, q: EventBrowse): boolean {
  return (
    (q.status === undefined || e.status === q.status) &&
    (q.code === undefined || e.code === q.code) &&
    (q.memberId === undefined || e.memberId === q.memberId) &&
    (q.delivery === undefined || e.delivery === q.delivery) &&
    (q.since === undefined || e.receivedAt >= q.since) &&
    (q.until === undefined || e.receivedAt < q.until)
  );
}

interface StatusRow {
  id: number;
  connector: string;
  line: number;
  item: string;
  status: StatusRecord['status'];
  attempts: number;
  last_error: string | null;
  sent_at: number | null;
}

export function* eventStatuses(id: number): Work<StatusRecord[]> {
  const rows = yield* all<StatusRow>(
    'SELECT id, connector, line, item, status, attempts, last_error, sent_at FROM status_outbox WHERE event_id = ? ORDER BY id',
    id,
  );
  return rows.map((r) => ({
    id: r.id,
    connector: r.connector,
    line: r.line,
    item: r.item,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    sentAt: r.sent_at,
  }));
}

/** Through events_received_id: only the window's rows are read. */
export function* activity(since: number): Work<Activity> {
  const perMinute = yield* all<{ minute: number; code: string; status: EventStatus; n: number }>(
    `SELECT (received_at / 60000) * 60000 AS minute, code, status, COUNT(*) AS n
     FROM events WHERE received_at >= ? GROUP BY 1, 2, 3 ORDER BY 1`,
    since,
  );
  const processed = yield* all<{ ms: number }>(
    `SELECT processed_at - received_at AS ms FROM events
     WHERE received_at >= ? AND status = 'done' AND processed_at IS NOT NULL ORDER BY received_at DESC LIMIT ?`,
    since,
    LATENCY_SAMPLE,
  );
  const confirmed = yield* all<{ ms: number }>(
    `SELECT s.sent_at - e.received_at AS ms FROM events e JOIN status_outbox s ON s.event_id = e.id
     WHERE e.received_at >= ? AND s.sent_at IS NOT NULL ORDER BY e.received_at DESC LIMIT ?`,
    since,
    LATENCY_SAMPLE,
  );
  return {
    perMinute: perMinute.map((r) => ({ ...r, minute: Number(r.minute), n: Number(r.n) })),
    processedMs: processed.map((r) => Number(r.ms)),
    confirmedMs: confirmed.map((r) => Number(r.ms)),
  };
}

/**
 * Per portal: its last event through events_member (one seek each), and what is stuck through the
 * status indexes (dead and retrying events are few next to the done ones).
 */
export function* portalActivity(): Work<PortalActivity[]> {
  const members = yield* all<{ member_id: string }>('SELECT member_id FROM portals ORDER BY member_id');
  const stuck = yield* all<{ member_id: string; status: string; n: number }>(
    `SELECT member_id, status, COUNT(*) AS n FROM events WHERE status IN ('dead', 'retry') GROUP BY member_id, status`,
  );
  const deadStatuses = yield* all<{ member_id: string; n: number }>(
    `SELECT member_id, COUNT(*) AS n FROM status_outbox WHERE status = 'dead' GROUP BY member_id`,
  );
  const deadActions = yield* all<{ member_id: string; n: number }>(
    `SELECT member_id, COUNT(*) AS n FROM customer_actions WHERE status = 'dead' GROUP BY member_id`,
  );
  const count = (rows: { member_id: string; n: number }[], m: string) =>
    Number(rows.find((r) => r.member_id === m)?.n ?? 0);
  const list: PortalActivity[] = [];
  for (const { member_id: m } of members) {
    const last = yield* get<{ received_at: number }>(
      'SELECT received_at FROM events WHERE member_id = ? ORDER BY id DESC LIMIT 1',
      m,
    );
    list.push({
      memberId: m,
      lastEventAt: last?.received_at ?? null,
      dead: count(
        stuck.filter((r) => r.status === 'dead'),
        m,
      ),
      retry: count(
        stuck.filter((r) => r.status === 'retry'),
        m,
      ),
      deadStatuses: count(deadStatuses, m),
      deadCustomerActions: count(deadActions, m),
    });
  }
  return list;
}
