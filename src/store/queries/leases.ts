import type { Dialect } from '../sql/dialect.js';
import { all, run, type Work } from '../sql/work.js';

/*
 * Leases across every queue at once: each leased table (events, the status and customer outboxes,
 * any queue added later) has `lease_owner` and `lease_until`, and a lease that ran out makes its
 * row claimable again. These find the owners holding leases, and end the leases of owners known
 * dead, so that their units are claimed at once.
 */

const tables = (d: Dialect) => all<{ name: string }>(d.leasedTables);
const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The owners holding a lease that has not run out. */
export function* leaseOwners(d: Dialect, now: number): Work<string[]> {
  const owners = new Set<string>();
  for (const { name } of yield* tables(d)) {
    const rows = yield* all<{ owner: string }>(
      `SELECT DISTINCT lease_owner AS owner FROM ${quoted(name)} WHERE lease_owner IS NOT NULL AND lease_until > ?`,
      now,
    );
    for (const r of rows) owners.add(r.owner);
  }
  return [...owners];
}

/** Makes the leases of `owners` run out now, in every leased table; returns how many rows. */
export function* endLeases(d: Dialect, owners: readonly string[], now: number): Work<number> {
  if (owners.length === 0) return 0;
  let n = 0;
  for (const { name } of yield* tables(d))
    n += yield* run(
      `UPDATE ${quoted(name)} SET lease_until = ? WHERE ${d.inList('lease_owner', 'text')} AND lease_until > ?`,
      now,
      d.list(owners),
      now,
    );
  return n;
}

/** Each queue's leased table, with the status its rows have while leased. */
const HELD = {
  events: 'processing',
  status_outbox: 'sending',
  customer_actions: 'sending',
  pull_cursors: 'active',
} as const;

/** Extends the leases `owner` still holds on these rows of `table` to `until`; returns the ids renewed. */
export function* renewLeases(
  d: Dialect,
  table: keyof typeof HELD,
  ids: readonly number[],
  owner: string,
  until: number,
): Work<number[]> {
  if (ids.length === 0) return [];
  const rows = yield* all<{ id: number }>(
    `UPDATE ${table} SET lease_until = ? WHERE ${d.inList('id', 'int8')} AND lease_owner = ? AND status = '${HELD[table]}' RETURNING id`,
    until,
    d.list(ids),
    owner,
  );
  return rows.map((r) => r.id);
}
