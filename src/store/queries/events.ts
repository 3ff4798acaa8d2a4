import { EVENT_TABLES, finishedOnly } from '../prune.js';
import type { Dialect } from '../sql/dialect.js';
import { all, get, run, where, type Work } from '../sql/work.js';
import type { Attempt, EventQuery, EventStatus, Outcome, PruneQuery, StoredEvent } from '../types.js';
import { ended, EVENT_ENDS } from './outcome.js';
import { attemptFromRow, eventFromRow, type AttemptRow, type EventRow } from './rows.js';

/** The inbox's queries that both databases run alike (the claim and the append differ: see sqlite/ and postgres/). */

export const EVENT_STATUSES: readonly EventStatus[] = ['pending', 'invalid', 'processing', 'retry', 'done', 'dead'];

export function* getEvent(id: number): Work<StoredEvent | undefined> {
  const row = yield* get<EventRow>('SELECT * FROM events WHERE id = ?', id);
  return row && eventFromRow(row);
}

export function* listEvents(q: EventQuery): Work<StoredEvent[]> {
  const filter = where([
    ['status = ?', q.status],
    ['member_id = ?', q.memberId],
    ['code = ?', q.code],
    ['id > ?', q.afterId],
    ['received_at >= ?', q.since],
    ['received_at < ?', q.until],
  ]);
  const limit = q.limit === undefined ? '' : ' LIMIT ?';
  const rows = yield* all<EventRow>(
    `SELECT * FROM events${filter.where ? ` WHERE ${filter.where}` : ''} ORDER BY id${limit}`,
    ...filter.params,
    ...(limit ? [q.limit] : []),
  );
  return rows.map(eventFromRow);
}

/** With a list, through events_status: one range per status listed, never the rows of the others. */
export const countSomeSql = (d: Dialect): string =>
  `SELECT status, COUNT(*) AS n FROM events WHERE ${d.inList('status', 'text')} GROUP BY status`;

export function* countEvents<S extends EventStatus>(d: Dialect, statuses?: readonly S[]): Work<Record<S, number>> {
  const counts = Object.fromEntries((statuses ?? EVENT_STATUSES).map((s) => [s, 0])) as Record<S, number>;
  const rows = statuses
    ? yield* all<{ status: S; n: number }>(countSomeSql(d), d.list(statuses))
    : yield* all<{ status: S; n: number }>('SELECT status, COUNT(*) AS n FROM events GROUP BY status');
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

/** See Store.oldestPendingAt: through the status index, reading the pending events only. */
export function* oldestPendingAt(): Work<number | null> {
  const row = yield* get<{ oldest: number | null }>(
    "SELECT MIN(received_at) AS oldest FROM events WHERE status = 'pending'",
  );
  return row?.oldest ?? null;
}

export function* attempts(id: number): Work<Attempt[]> {
  return (yield* all<AttemptRow>('SELECT * FROM event_attempts WHERE event_id = ? ORDER BY attempt', id)).map(
    attemptFromRow,
  );
}

export function* requeue(d: Dialect, ids: readonly number[]): Work<number> {
  if (ids.length === 0) return 0;
  return yield* run(
    `UPDATE events SET status = 'pending', attempts = 0, next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL
     WHERE ${d.inList('id', 'int8')} AND status IN ('dead', 'retry', 'done', 'pending')`,
    d.list(ids),
  );
}

/** Closes an attempt's log row. */
export const endAttemptSql =
  'UPDATE event_attempts SET finished_at = ?, ok = ?, error = ? WHERE event_id = ? AND attempt = ?';
/** Opens it (again, when a lapsed attempt is taken by another worker under the same number). */
export const startAttemptSql = `
  INSERT INTO event_attempts (event_id, attempt, owner, started_at) VALUES (?, ?, ?, ?)
  ON CONFLICT (event_id, attempt) DO UPDATE SET owner = excluded.owner, started_at = excluded.started_at, finished_at = NULL, ok = NULL, error = NULL`;
/** A finished or dead event needs its secrets no more (a replay runs without them). */
export const eraseSecretsSql = 'DELETE FROM event_secrets WHERE event_id = ?';

/** Ends a claimed run in three statements (PostgreSQL does it in one: postgres/finish.ts). */
export function* finishEvent(id: number, owner: string, outcome: Outcome, now: number): Work<boolean> {
  const { status, retryAt, error } = ended(outcome, EVENT_ENDS);
  const row = yield* get<{ attempts: number }>(
    `UPDATE events SET status = ?, next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL,
       processed_at = CASE WHEN ? = 'done' THEN ? ELSE processed_at END
     WHERE id = ? AND lease_owner = ? AND status = 'processing' RETURNING attempts`,
    status,
    retryAt,
    error,
    status,
    now,
    id,
    owner,
  );
  if (!row) return false;
  yield* run(endAttemptSql, now, outcome.ok ? 1 : 0, error, id, row.attempts);
  if (status !== 'retry') yield* run(eraseSecretsSql, id);
  return true;
}

/**
 * Finished events by status and age through events_finished (whose condition the query repeats,
 * so the planner may use it), skipping those whose delivery statuses still wait to be sent.
 */
export const prunable = (d: Dialect): string => `
  FROM events${d.indexedBy('events_finished')}
  WHERE status IN ('done', 'invalid', 'dead') AND ${d.inList('status', 'text')} AND received_at < ?
    AND NOT EXISTS (SELECT 1 FROM status_outbox s WHERE s.event_id = events.id AND s.status IN ('pending', 'sending'))`;

export function* countPrunable(d: Dialect, q: PruneQuery): Work<number> {
  return (
    (yield* get<{ n: number }>(`SELECT COUNT(*) AS n ${prunable(d)}`, d.list(finishedOnly(q.statuses)), q.before))?.n ??
    0
  );
}

/** Locked on PostgreSQL, so a replay of one of them waits and then finds it gone; another pruner skips them. */
export const pruneIdsSql = (d: Dialect): string => `SELECT id ${prunable(d)} LIMIT ?${d.skipLocked}`;

/** The rows of the events to prune, then the events: each statement takes the list of ids. */
export const pruneDeletesSql = (d: Dialect): string[] => [
  ...EVENT_TABLES.map((table) => `DELETE FROM ${table} WHERE ${d.inList('event_id', 'int8')}`),
  `DELETE FROM events WHERE ${d.inList('id', 'int8')}`,
];

export function* prune(d: Dialect, q: PruneQuery): Work<number> {
  const ids = (yield* all<{ id: number }>(pruneIdsSql(d), d.list(finishedOnly(q.statuses)), q.before, q.limit)).map(
    (r) => r.id,
  );
  if (ids.length === 0) return 0;
  let removed = 0;
  for (const sql of pruneDeletesSql(d)) removed = yield* run(sql, d.list(ids));
  return removed;
}
