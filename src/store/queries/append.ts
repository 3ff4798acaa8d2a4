import type { NewEvent } from '../types.js';

/*
 * The statements of an append, written once: the SQLite writer thread gets them as text, the
 * PostgreSQL store binds them through toPg. How each database groups appends into one commit differs
 * (sqlite/appender.ts, postgres/append.ts); the rule for one row is the same (see each).
 */

/** The columns an append writes, in the order eventValues binds them. */
export const EVENT_COLUMNS = [
  'dedup_key',
  'member_id',
  'code',
  'known',
  'status',
  'handler_id',
  'ts',
  'order_key',
  'received_at',
  'event',
  'raw_body',
  'content_type',
  'last_error',
] as const;

/** A row as the insert binds it: plain values in a list clone (to the writer thread) and bind faster than an object's properties. */
export const eventValues = (e: NewEvent): (string | number | null)[] => [
  e.dedupKey,
  e.memberId,
  e.code,
  e.known ? 1 : 0,
  e.status,
  e.handlerId,
  e.ts,
  e.orderKey,
  e.receivedAt,
  e.event,
  e.rawBody,
  e.contentType,
  e.error,
];

/** Where eventValues puts the values the one-row rule reads. */
export const AT = { dedupKey: 0, ts: 6, orderKey: 7 } as const;

export const appendSql = {
  insert: `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES (${EVENT_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (dedup_key) DO NOTHING RETURNING id`,
  duplicate: 'UPDATE events SET duplicates = duplicates + 1 WHERE dedup_key = ? RETURNING id',
  duplicateOf: 'UPDATE events SET duplicates = duplicates + 1 WHERE id = ? RETURNING id',
  head: 'SELECT last_key, last_id, last_ts FROM chat_heads WHERE order_key = ?',
  setHead: `
    INSERT INTO chat_heads (order_key, last_key, last_id, last_ts) VALUES (?, ?, ?, ?)
    ON CONFLICT (order_key) DO UPDATE SET last_key = excluded.last_key, last_id = excluded.last_id, last_ts = excluded.last_ts
    WHERE excluded.last_id > chat_heads.last_id`,
  secret: 'INSERT INTO event_secrets (event_id, data) VALUES (?, ?)',
};

/** A chat's latest stored event, as appendSql.head reads it. */
export interface ChatHead {
  last_key: string;
  last_id: number;
  last_ts: number | null;
}
