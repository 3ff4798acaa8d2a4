import type { Dialect } from '../sql/dialect.js';
import { all, get, run, where, type Work } from '../sql/work.js';
import type {
  AppendResult,
  Claim,
  CustomerActionQuery,
  CustomerActionRecord,
  CustomerActionStatus,
  NewCustomerAction,
  PendingCustomerAction,
} from '../types.js';
import { killLapsed } from './outbox.js';

/** The customer outbox's queries, alike on both databases. */

/** What a lapsed last attempt leaves as the action's error. */
export const customerSpentByLapse =
  'the gateway stopped (or stalled) while sending it on its last attempt: no outcome before its lease ran out, and the retry budget is spent';

const columns = `id, member_id AS "memberId", connector, line, type, dedup_key AS "dedupKey", order_key AS "orderKey", item,
  received_at AS "receivedAt", attempts`;

/** Several, in one transaction: the appends of one turn of the event loop share a commit. */
export function* appendCustomerActions(list: readonly NewCustomerAction[]): Work<AppendResult[]> {
  const results: AppendResult[] = [];
  for (const a of list) results.push(yield* appendCustomerAction(a));
  return results;
}

/** Kept once per portal and key: a second one answers the first one's id. */
export function* appendCustomerAction(a: NewCustomerAction): Work<AppendResult> {
  const row = yield* get<{ id: number }>(
    `INSERT INTO customer_actions (member_id, connector, line, type, dedup_key, order_key, item, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (member_id, dedup_key) DO NOTHING RETURNING id`,
    a.memberId,
    a.connector,
    a.line,
    a.type,
    a.dedupKey,
    a.orderKey,
    a.item,
    a.receivedAt,
  );
  if (row) return { id: row.id, duplicate: false };
  const first = yield* get<{ id: number }>(
    'SELECT id FROM customer_actions WHERE member_id = ? AND dedup_key = ?',
    a.memberId,
    a.dedupKey,
  );
  return { id: first!.id, duplicate: true };
}

/**
 * An unfinished action that holds back the later ones of its chat: it waits for a retry, or
 * another owner's lease on it still runs. Due ones do not: a claim takes them with the later ones.
 */
const holding = `(p.status = 'pending' AND p.next_attempt_at > ?) OR (p.status = 'sending' AND p.lease_until > ?)`;

/** See Store.claimCustomerActions. */
export function* claimCustomerActions(
  d: Dialect,
  ...[owner, now, leaseMs, limit, maxAttempts]: Claim
): Work<PendingCustomerAction[]> {
  const serialize = d.serialize('customer_actions');
  if (serialize) yield* get(serialize);
  yield* killLapsed(d, 'customer_actions', customerSpentByLapse, now, maxAttempts);
  // ORDER BY id with LIMIT: an action is in only if every earlier due one of its chat is too.
  const rows = yield* all<PendingCustomerAction>(
    `UPDATE customer_actions SET status = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1
     WHERE id IN (
       SELECT a.id FROM customer_actions a
       WHERE ((a.status = 'pending' AND (a.next_attempt_at IS NULL OR a.next_attempt_at <= ?)) OR (a.status = 'sending' AND a.lease_until <= ? AND a.attempts < ?))
         AND NOT EXISTS (SELECT 1 FROM customer_actions p WHERE p.order_key = a.order_key AND p.id < a.id AND p.status IN ('pending', 'sending') AND (${holding}))
       ORDER BY a.id LIMIT ?${d.skipLocked})
     RETURNING ${columns}`,
    owner,
    now + leaseMs,
    now,
    now,
    maxAttempts,
    now,
    now,
    limit,
  );
  return rows.sort((a, b) => a.id - b.id);
}

export function* releaseCustomerActions(d: Dialect, ids: readonly number[], owner: string): Work<void> {
  if (ids.length === 0) return;
  yield* run(
    `UPDATE customer_actions SET status = 'pending', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL
     WHERE ${d.inList('id', 'int8')} AND lease_owner = ? AND status = 'sending'`,
    d.list(ids),
    owner,
  );
}

interface ActionRow extends PendingCustomerAction {
  status: CustomerActionStatus;
  nextAttemptAt: number | null;
  lastError: string | null;
  sentAt: number | null;
}

export function* listCustomerActions(q: CustomerActionQuery): Work<CustomerActionRecord[]> {
  const filter = where([
    ['status = ?', q.status],
    ['member_id = ?', q.memberId],
    ['id > ?', q.afterId],
  ]);
  const limit = q.limit === undefined ? '' : ' LIMIT ?';
  return yield* all<ActionRow>(
    `SELECT ${columns}, status, next_attempt_at AS "nextAttemptAt", last_error AS "lastError", sent_at AS "sentAt"
     FROM customer_actions${filter.where ? ` WHERE ${filter.where}` : ''} ORDER BY id${limit}`,
    ...filter.params,
    ...(limit ? [q.limit] : []),
  );
}

export function* countCustomerActions(): Work<{ pending: number; sent: number; dead: number }> {
  const counts = { pending: 0, sent: 0, dead: 0 };
  const rows = yield* all<{ status: CustomerActionStatus; n: number }>(
    'SELECT status, COUNT(*) AS n FROM customer_actions GROUP BY status',
  );
  // One being sent is still waiting to be sent.
  for (const r of rows) counts[r.status === 'sending' ? 'pending' : r.status] += Number(r.n);
  return counts;
}

export function* requeueCustomerActions(d: Dialect, ids: readonly number[]): Work<number> {
  if (ids.length === 0) return 0;
  return yield* run(
    `UPDATE customer_actions SET status = 'pending', attempts = 0, next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL
     WHERE ${d.inList('id', 'int8')} AND status IN ('dead', 'pending')`,
    d.list(ids),
  );
}
