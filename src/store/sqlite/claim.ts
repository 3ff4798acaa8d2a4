import { claimedFromRow, type EventRow } from '../queries/rows.js';
import { endAttemptSql, eraseSecretsSql, startAttemptSql } from '../queries/events.js';
import { lapsedAttempt, spentByLapses } from '../lapsed.js';
import type { SecretBox } from '../secret-box.js';
import { all, get, run, type Work } from '../sql/work.js';
import type { StoredEvent } from '../types.js';

/*
 * The claim on SQLite. It differs from PostgreSQL's (postgres/claim.ts) as a whole: one process
 * writes at a time, so there is no row to lock or skip, and the planner needs a path through the
 * partial indexes spelled out (INDEXED BY), or it walks every event queued behind a chat's head.
 */

/**
 * Only the head of each chat can run. The heads are found by skipping from key to key through the
 * partial index (a seek per chat), never by stepping over the events queued behind them.
 */
export const runnableHeadsSql = `
  WITH RECURSIVE keys(k) AS (
    SELECT MIN(order_key) FROM events INDEXED BY events_open_order WHERE status IN ('pending', 'retry', 'processing') AND order_key IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(order_key) FROM events INDEXED BY events_open_order
            WHERE status IN ('pending', 'retry', 'processing') AND order_key > keys.k)
    FROM keys WHERE keys.k IS NOT NULL)
  SELECT e.* FROM keys JOIN events e ON e.id = (
    SELECT id FROM events INDEXED BY events_open_order
    WHERE order_key = keys.k AND status IN ('pending', 'retry', 'processing') ORDER BY id LIMIT 1)
  WHERE (e.status <> 'processing' OR e.lease_until <= ?) AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= ?)
  ORDER BY e.id LIMIT ?`;

/** Events of no chat, through an index of their own: under a flood, finding them among every unfinished event took 3/4 of the worker's CPU. */
export const runnableFreeSql = `
  SELECT * FROM events INDEXED BY events_open_free
  WHERE order_key IS NULL AND status IN ('pending', 'retry', 'processing')
    AND (status <> 'processing' OR lease_until <= ?) AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
  ORDER BY id LIMIT ?`;

/** Leases that ran out after the last attempt: the process died (or stalled) during it, each time. */
const spentSql = `
  SELECT id, attempts, (SELECT COUNT(*) FROM event_attempts a WHERE a.event_id = e.id AND a.attempt <= e.attempts AND (a.finished_at IS NULL OR a.error = ?)) AS lapsed
  FROM events e WHERE status = 'processing' AND lease_until <= ? AND attempts >= ?`;

const killSql =
  "UPDATE events SET status = 'dead', last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?";

const leaseSql = `UPDATE events SET status = 'processing', lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ? RETURNING attempts`;

/** See Store.claim. */
export function* claimEvents(
  box: SecretBox,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
  maxAttempts: number,
): Work<StoredEvent[]> {
  // First, so that a chat held by a spent event is free for this very claim.
  for (const s of yield* all<{ id: number; attempts: number; lapsed: number }>(
    spentSql,
    lapsedAttempt,
    now,
    maxAttempts,
  )) {
    const error = spentByLapses(s.attempts, s.lapsed);
    yield* run(killSql, error, s.id);
    yield* run(eraseSecretsSql, s.id);
    yield* run(endAttemptSql, now, 0, error, s.id, s.attempts);
  }
  const rows = [
    ...(yield* all<EventRow>(runnableHeadsSql, now, now, limit)),
    ...(yield* all<EventRow>(runnableFreeSql, now, now, limit)),
  ]
    .sort((a, b) => a.id - b.id)
    .slice(0, limit);
  const claimed: StoredEvent[] = [];
  for (const row of rows) {
    if (row.status === 'processing') yield* run(endAttemptSql, now, 0, lapsedAttempt, row.id, row.attempts);
    const { attempts } = (yield* get<{ attempts: number }>(leaseSql, owner, now + leaseMs, row.id))!;
    yield* run(startAttemptSql, row.id, attempts, owner, now);
    const secrets =
      (yield* get<{ data: string }>('SELECT data FROM event_secrets WHERE event_id = ?', row.id))?.data ?? null;
    const event = claimedFromRow({ ...row, status: 'processing', attempts, secrets }, box);
    claimed.push(row.status === 'processing' ? { ...event, takenOver: true } : event);
  }
  return claimed;
}
