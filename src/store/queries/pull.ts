import type { Dialect } from '../sql/dialect.js';
import { all, get, run, where, type Work } from '../sql/work.js';
import type {
  AppendResult,
  Claim,
  Delivery,
  NewEvent,
  PullCursor,
  PullKind,
  PullOutcome,
  PullStatus,
  PullTarget,
} from '../types.js';
import { appendSql, EVENT_COLUMNS, eventValues } from './append.js';

/** The pull cursors' queries (see Store.keepPullCursors and the rest), alike on both databases. */

interface CursorRow {
  id: number;
  member_id: string;
  kind: PullKind;
  target: string;
  position: string | null;
  status: PullStatus;
  due_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  attempts: number;
  last_error: string | null;
  pulled: number;
  pulled_at: number | null;
}

const cursorFromRow = (r: CursorRow): PullCursor => ({
  id: r.id,
  memberId: r.member_id,
  kind: r.kind,
  target: r.target,
  position: r.position,
  status: r.status,
  dueAt: r.due_at,
  attempts: r.attempts,
  lastError: r.last_error,
  pulled: r.pulled,
  pulledAt: r.pulled_at,
  leaseOwner: r.lease_owner,
  leaseUntil: r.lease_until,
});

/** What a lapsed last attempt leaves as the cursor's error. */
export const pullSpentByLapse =
  'the gateway stopped (or stalled) while pulling on its last attempt: no outcome before its lease ran out, and the retry budget is spent';

export function* keepPullCursors(
  targets: readonly PullTarget[],
  now: number,
  position: (t: PullTarget) => string | null,
): Work<number> {
  let n = 0;
  for (const t of targets) {
    const row = yield* get<{ id: number }>(
      `INSERT INTO pull_cursors (member_id, kind, target, position, due_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (member_id, kind, target) DO UPDATE SET status = 'active', due_at = excluded.due_at, updated_at = excluded.updated_at
       WHERE pull_cursors.status = 'gone' RETURNING id`,
      t.memberId,
      t.kind,
      t.target,
      position(t),
      now,
      now,
      now,
    );
    if (row) n++;
  }
  return n;
}

export function* retirePullCursors(
  d: Dialect,
  memberId: string,
  kind: PullKind,
  keep: readonly string[],
  now: number,
): Work<number> {
  return yield* run(
    `UPDATE pull_cursors SET status = 'gone', lease_owner = NULL, lease_until = NULL, updated_at = ?
     WHERE member_id = ? AND kind = ? AND status <> 'gone' AND NOT (${d.inList('target', 'text')})`,
    now,
    memberId,
    kind,
    d.list(keep),
  );
}

export function* claimPullCursors(d: Dialect, ...[owner, now, leaseMs, limit, maxAttempts]: Claim): Work<PullCursor[]> {
  yield* run(
    `UPDATE pull_cursors SET status = 'parked', last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
     WHERE id IN (SELECT id FROM pull_cursors WHERE status = 'active' AND lease_until <= ? AND attempts >= ?${d.skipLocked})`,
    pullSpentByLapse,
    now,
    now,
    maxAttempts,
  );
  const rows = yield* all<CursorRow>(
    `UPDATE pull_cursors SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
     WHERE id IN (
       SELECT id FROM pull_cursors
       WHERE status = 'active' AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
       ORDER BY due_at LIMIT ?${d.skipLocked})
     RETURNING *`,
    owner,
    now + leaseMs,
    now,
    now,
    now,
    limit,
  );
  return rows.map(cursorFromRow).sort((a, b) => a.dueAt - b.dueAt);
}

/** The next due time (the second parameter), unless a wake moved it since the claim (the first: the due time claimed). */
const nextDue = 'CASE WHEN CAST(? AS BIGINT) IS NOT NULL AND due_at <> CAST(? AS BIGINT) THEN due_at ELSE ? END';

/** Thrown inside appendPulled's transaction when the cursor is no longer this owner's: nothing is kept. */
export const LEASE_LOST = new Error('the pull cursor is held by another owner');

const insertPulled = `INSERT INTO events (${EVENT_COLUMNS.join(', ')}, delivery) VALUES (${EVENT_COLUMNS.map(() => '?').join(', ')}, ?)
  ON CONFLICT (dedup_key) DO NOTHING RETURNING id`;

/**
 * One pulled event, by the intake's statements. Its key is the source's own unique id (Event.get's
 * `eventId`, the offline record's `ID`), so a repeat is always the same event fetched again: it is
 * counted as a duplicate, never kept as a genuine repeat as an identical posted event may be.
 */
function* appendOne(e: NewEvent, delivery: Delivery, sealed: string | null): Work<AppendResult> {
  const row = yield* get<{ id: number }>(insertPulled, ...eventValues(e), delivery);
  if (!row) {
    const dup = yield* get<{ id: number }>(appendSql.duplicate, e.dedupKey);
    return { id: dup!.id, duplicate: true };
  }
  if (e.orderKey !== null) yield* run(appendSql.setHead, e.orderKey, e.dedupKey, row.id, e.ts);
  if (sealed !== null) yield* run(appendSql.secret, row.id, sealed);
  return { id: row.id, duplicate: false };
}

/** See Store.appendPulled; `sealed` holds each event's secrets as kept (encrypted when the store has a key). */
export function* appendPulled(
  cursorId: number,
  owner: string,
  events: readonly NewEvent[],
  sealed: readonly (string | null)[],
  delivery: Delivery,
  advance: { position: string | null; dueAt?: number; since?: number },
  now: number,
): Work<AppendResult[]> {
  const results: AppendResult[] = [];
  for (let i = 0; i < events.length; i++) results.push(yield* appendOne(events[i]!, delivery, sealed[i] ?? null));
  const fresh = results.filter((r) => !r.duplicate).length;
  const finish =
    advance.dueAt === undefined
      ? ''
      : `, due_at = ${nextDue}, attempts = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL`;
  const changed = yield* run(
    `UPDATE pull_cursors SET position = ?, pulled = pulled + ?, pulled_at = ?, updated_at = ?${finish}
     WHERE id = ? AND lease_owner = ? AND status = 'active'`,
    advance.position,
    fresh,
    now,
    now,
    ...(advance.dueAt === undefined ? [] : [advance.since ?? null, advance.since ?? null, advance.dueAt]),
    cursorId,
    owner,
  );
  if (changed === 0) throw LEASE_LOST;
  return results;
}

export function* finishPullCursor(id: number, owner: string, outcome: PullOutcome, now: number): Work<boolean> {
  const n = outcome.ok
    ? yield* run(
        `UPDATE pull_cursors SET position = ?, due_at = ${nextDue}, attempts = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND lease_owner = ? AND status = 'active'`,
        outcome.position,
        outcome.since ?? null,
        outcome.since ?? null,
        outcome.dueAt,
        now,
        id,
        owner,
      )
    : yield* run(
        `UPDATE pull_cursors SET status = ?, due_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND lease_owner = ? AND status = 'active'`,
        outcome.retryAt === null ? 'parked' : 'active',
        outcome.retryAt ?? now,
        outcome.error,
        now,
        id,
        owner,
      );
  return n > 0;
}

export function* listPullCursors(query: {
  memberId?: string;
  kind?: PullKind;
  status?: PullStatus;
}): Work<PullCursor[]> {
  const filter = where([
    ['member_id = ?', query.memberId],
    ['kind = ?', query.kind],
    ['status = ?', query.status],
  ]);
  const rows = yield* all<CursorRow>(
    `SELECT * FROM pull_cursors${filter.where ? ` WHERE ${filter.where}` : ''} ORDER BY id`,
    ...filter.params,
  );
  return rows.map(cursorFromRow);
}

export function* wakePullCursors(memberId: string, kind: PullKind | undefined, now: number): Work<number> {
  return yield* run(
    `UPDATE pull_cursors SET due_at = ? WHERE member_id = ?${kind === undefined ? '' : ' AND kind = ?'} AND status = 'active'
     AND (due_at > ? OR lease_owner IS NOT NULL)`,
    now,
    memberId,
    ...(kind === undefined ? [] : [kind]),
    now,
  );
}

export function* requeuePullCursors(d: Dialect, ids: readonly number[], now: number): Work<number> {
  if (ids.length === 0) return 0;
  return yield* run(
    `UPDATE pull_cursors SET status = 'active', attempts = 0, due_at = ?, last_error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?
     WHERE ${d.inList('id', 'int8')} AND status = 'parked'`,
    now,
    now,
    d.list(ids),
  );
}
