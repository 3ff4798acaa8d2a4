import { statusSpentByLapse } from '../lapsed.js';
import type { Dialect } from '../sql/dialect.js';
import { all, run, type Work } from '../sql/work.js';
import type { Claim, NewStatus, PendingStatus } from '../types.js';
import { killLapsed } from './outbox.js';

/** The status outbox's queries, alike on both databases. */

/** All in one statement, whatever their number. */
export function* enqueueStatuses(statuses: readonly NewStatus[]): Work<void> {
  if (statuses.length === 0) return;
  yield* run(
    `INSERT INTO status_outbox (member_id, connector, line, item, event_id) VALUES ${statuses.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
    ...statuses.flatMap((s) => [s.memberId, s.connector, s.line, s.item, s.eventId]),
  );
}

/** Due statuses leased to `owner`; one whose lease ran out after `maxAttempts` attempts is made dead first. */
export function* claimStatuses(d: Dialect, ...[owner, now, leaseMs, limit, maxAttempts]: Claim): Work<PendingStatus[]> {
  yield* killLapsed(d, 'status_outbox', statusSpentByLapse, now, maxAttempts);
  const rows = yield* all<PendingStatus>(
    `UPDATE status_outbox SET status = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1
     WHERE id IN (
       SELECT id FROM status_outbox
       WHERE (status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)) OR (status = 'sending' AND lease_until <= ? AND attempts < ?)
       ORDER BY id LIMIT ?${d.skipLocked})
     RETURNING id, member_id AS "memberId", connector, line, item, event_id AS "eventId", attempts`,
    owner,
    now + leaseMs,
    now,
    now,
    maxAttempts,
    limit,
  );
  return rows.sort((a, b) => a.id - b.id);
}

export function* countStatuses(): Work<{ pending: number; sent: number; dead: number }> {
  const counts = { pending: 0, sent: 0, dead: 0 };
  for (const r of yield* all<{ status: keyof typeof counts; n: number }>(
    "SELECT status, COUNT(*) AS n FROM status_outbox WHERE status <> 'sending' GROUP BY status",
  ))
    counts[r.status] = r.n;
  return counts;
}
