import type pg from 'pg';
import { ended, EVENT_ENDS } from '../queries/outcome.js';
import { claimedFromRow, type EventRow } from '../queries/rows.js';
import { lapsedAttempt, spentTexts } from '../lapsed.js';
import type { SecretBox } from '../secret-box.js';
import type { Outcome, StoredEvent } from '../types.js';
import { named } from './run.js';

/*
 * The claim and the finish on PostgreSQL. They differ from SQLite's (sqlite/claim.ts,
 * queries/events.ts finishEvent) as a whole: several instances claim at once, so rows are locked and
 * another instance's are skipped (FOR UPDATE SKIP LOCKED); and each statement is a round trip, so
 * the work of many rows is one statement over arrays (unnest), and a finish is one statement
 * (data-modifying CTEs, which SQLite has not). Each is one statement, so neither needs a transaction
 * of its own: a claim is two round trips, the spent events' and its own.
 */

const OPEN = "status IN ('pending', 'retry', 'processing')";

/** An open event that may run now ($1: now, $5: the attempt budget); its chat's order is checked apart. */
const claimable = (e: string) => `${e}.${OPEN}
    AND (${e}.status <> 'processing' OR (${e}.lease_until <= $1 AND ${e}.attempts < $5))
    AND (${e}.next_attempt_at IS NULL OR ${e}.next_attempt_at <= $1)`;

/** How far past the limit the oldest open events are looked at before the chats are walked: room for the events in flight. */
export const CLAIM_WINDOW = 64;

/**
 * An event may run once no earlier event of its chat is open: only the head of each chat can run.
 * First the oldest open events are looked at (a window of the limit and CLAIM_WINDOW more): while
 * the queue moves, the heads to claim are among them. Only when the window is full and holds too
 * few are the chats walked: from chat to chat through the partial index of open events
 * (events_order: one seek per chat lands on its oldest open event), never over the events queued
 * behind a held head, which a walk in id order examined on every claim; the events of no chat have
 * an index of their own (events_open_free). Rows are locked with SKIP LOCKED (another instance's
 * claim holds its rows), the claimable test on the locked row itself, so that a row another
 * instance changed since this statement began is tested again as it now is.
 * $1 now, $2 limit, $3 owner, $4 lease end, $5 attempt budget, $6 window.
 */
export const claimSql = `
  WITH RECURSIVE oldest AS (SELECT id FROM events WHERE ${OPEN} ORDER BY id LIMIT $6),
  quick AS (
    SELECT e.id, e.status AS was FROM events e
    WHERE e.id = ANY(ARRAY(SELECT id FROM oldest)) AND ${claimable('e')}
      AND (e.order_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM events p WHERE p.order_key = e.order_key AND p.id < e.id AND p.${OPEN}))
    ORDER BY e.id LIMIT $2 FOR UPDATE OF e SKIP LOCKED),
  walk AS (SELECT (SELECT count(*) FROM quick) < $2 AND (SELECT count(*) FROM oldest) = $6 AS needed),
  heads(k, id) AS (
    (SELECT order_key, id FROM events WHERE order_key IS NOT NULL AND ${OPEN} ORDER BY order_key, id LIMIT 1)
    UNION ALL
    SELECT n.order_key, n.id FROM heads CROSS JOIN LATERAL (
      SELECT order_key, id FROM events WHERE order_key > heads.k AND ${OPEN} ORDER BY order_key, id LIMIT 1) n),
  listed AS (
    SELECT e.id, e.status AS was FROM events e
    WHERE (SELECT needed FROM walk) AND e.id = ANY(ARRAY(SELECT id FROM heads)) AND ${claimable('e')}
    ORDER BY e.id LIMIT $2 FOR UPDATE OF e SKIP LOCKED),
  free AS (
    SELECT e.id, e.status AS was FROM events e
    WHERE (SELECT needed FROM walk) AND e.order_key IS NULL AND ${claimable('e')}
    ORDER BY e.id LIMIT $2 FOR UPDATE OF e SKIP LOCKED),
  -- A row both parts locked is one row: UNION keeps it once.
  runnable AS (SELECT * FROM quick UNION SELECT * FROM listed UNION SELECT * FROM free ORDER BY id LIMIT $2),
  claimed AS (
    UPDATE events SET status = 'processing', lease_owner = $3, lease_until = $4, attempts = events.attempts + 1
    FROM runnable WHERE events.id = runnable.id
    RETURNING events.*, runnable.was, (SELECT data FROM event_secrets s WHERE s.event_id = events.id) AS secrets),
  -- The attempt starts in the log; a lapsed one (its holder gone) ends there as failed.
  started AS (
    INSERT INTO event_attempts (event_id, attempt, owner, started_at) SELECT id, attempts, $3, $1 FROM claimed
    ON CONFLICT (event_id, attempt) DO UPDATE SET owner = excluded.owner, started_at = excluded.started_at, finished_at = NULL, ok = NULL, error = NULL),
  lapsed AS (
    UPDATE event_attempts a SET finished_at = $1, ok = false, error = $7
    FROM claimed WHERE claimed.was = 'processing' AND a.event_id = claimed.id AND a.attempt = claimed.attempts - 1)
  SELECT * FROM claimed`;

/**
 * The events whose lease ran out on their last attempt are made dead (see Store.claim), their
 * secrets erased and their attempt closed. $1 now, $2 attempt budget, $3 the lapsed attempt's
 * error, $4 and $5 spentTexts.each and .last.
 */
export const killSpentSql = `
  WITH spent AS (
    SELECT e.id, e.attempts, (SELECT COUNT(*)::int FROM event_attempts a
      WHERE a.event_id = e.id AND a.attempt <= e.attempts AND (a.finished_at IS NULL OR a.error = $3)) AS lapsed
    FROM events e WHERE e.status = 'processing' AND e.lease_until <= $1 AND e.attempts >= $2 FOR UPDATE OF e SKIP LOCKED),
  ends AS (
    SELECT id, attempts, replace(CASE WHEN lapsed >= attempts THEN $4 ELSE $5 END, '{n}', attempts::text) AS error FROM spent),
  dead AS (
    UPDATE events SET status = 'dead', last_error = ends.error, lease_owner = NULL, lease_until = NULL
    FROM ends WHERE events.id = ends.id),
  -- Dead: its handlers need its secrets no more.
  erased AS (DELETE FROM event_secrets WHERE event_id IN (SELECT id FROM ends)),
  closed AS (
    UPDATE event_attempts a SET finished_at = $1, ok = false, error = ends.error
    FROM ends WHERE a.event_id = ends.id AND a.attempt = ends.attempts)
  SELECT count(*)::int AS n FROM ends`;

/** See Store.claim; `lookForSpent` false leaves the spent events for a later claim. */
export async function claimEvents(
  db: pg.Pool | pg.PoolClient,
  box: SecretBox,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
  maxAttempts: number,
  lookForSpent = true,
): Promise<StoredEvent[]> {
  // First, so that a chat held by a spent event is free for this very claim. Both statements are
  // named: planning the claim took 1-2 ms, more than running it; the worker's pool keeps a plan
  // for any values (run.ts openPool), which reads as few rows (test/store/postgres.test.ts, PostgreSQL claims).
  if (lookForSpent)
    await db.query(named(killSpentSql, [now, maxAttempts, lapsedAttempt, spentTexts.each, spentTexts.last]));
  const rows = await db.query<EventRow & { was: string; secrets: string | null }>(
    named(claimSql, [now, limit, owner, now + leaseMs, maxAttempts, limit + CLAIM_WINDOW, lapsedAttempt]),
  );
  return rows.rows
    .sort((a, b) => a.id - b.id)
    .map((r) => ({ ...claimedFromRow(r, box), ...(r.was === 'processing' ? { takenOver: true } : {}) }));
}

/** See Store.finish: the event, its attempt's log row and its secrets, in one statement. */
export async function finishEvent(
  db: pg.Pool,
  id: number,
  owner: string,
  outcome: Outcome,
  now: number,
): Promise<boolean> {
  const { status, retryAt, error } = ended(outcome, EVENT_ENDS);
  const r = await db.query<{ attempts: number }>(
    named(
      `WITH ended AS (
       UPDATE events SET status = $3, next_attempt_at = $4, last_error = $5, lease_owner = NULL, lease_until = NULL,
         processed_at = CASE WHEN $3 = 'done' THEN $6 ELSE processed_at END
       WHERE id = $1 AND lease_owner = $2 AND status = 'processing' RETURNING id, attempts),
     erased AS (DELETE FROM event_secrets WHERE event_id IN (SELECT id FROM ended) AND $3 <> 'retry'),
     logged AS (
       UPDATE event_attempts a SET finished_at = $6, ok = $7, error = $5
       FROM ended WHERE a.event_id = ended.id AND a.attempt = ended.attempts)
     SELECT attempts FROM ended`,
      [id, owner, status, retryAt, error, now, outcome.ok],
    ),
  );
  return r.rows.length > 0;
}
