import type { Dialect } from '../sql/dialect.js';
import { run, type Work } from '../sql/work.js';
import type { Outcome } from '../types.js';
import { ended, STATUS_ENDS } from './outcome.js';

/** The statements the status and customer outboxes share: a row is pending, sending (leased), sent or dead. */
type Outbox = 'status_outbox' | 'customer_actions';

/** Makes dead, with `reason`, the rows whose lease ran out after `maxAttempts` attempts (the first step of a claim). */
export function* killLapsed(d: Dialect, table: Outbox, reason: string, now: number, maxAttempts: number): Work<void> {
  yield* run(
    `UPDATE ${table} SET status = 'dead', last_error = ?, lease_owner = NULL, lease_until = NULL
     WHERE id IN (SELECT id FROM ${table} WHERE status = 'sending' AND lease_until <= ? AND attempts >= ?${d.skipLocked})`,
    reason,
    now,
    maxAttempts,
  );
}

/** See Store.finishStatuses and Store.finishCustomerActions: sent, or failed (retried at `retryAt`, dead when null). */
export function* finishSends(
  d: Dialect,
  table: Outbox,
  ids: readonly number[],
  owner: string,
  outcome: Outcome,
  now: number,
): Work<void> {
  if (ids.length === 0) return;
  const { status, retryAt, error } = ended(outcome, STATUS_ENDS);
  yield* run(
    `UPDATE ${table} SET status = ?, next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL,
       sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
     WHERE ${d.inList('id', 'int8')} AND lease_owner = ? AND status = 'sending'`,
    status,
    retryAt,
    error,
    status,
    now,
    d.list(ids),
    owner,
  );
}
