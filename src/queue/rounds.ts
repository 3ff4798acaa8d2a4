import type { QueueLoopOptions } from './loop.js';

/**
 * An instance whose unit is a round: every row one claim took, run together (the status and
 * customer senders, whose rounds wait for a portal's REST bucket and so may outlast a lease). A
 * round is kept only while every one of its rows is still held.
 */
export function rounds<R extends { id: number }>(
  claimRows: (now: number) => Promise<readonly R[]>,
  renewRows: (ids: number[], until: number) => Promise<readonly number[]>,
): Pick<QueueLoopOptions<readonly R[]>, 'claim' | 'renew'> {
  return {
    claim: async (_limit, now) => {
      const rows = await claimRows(now);
      return rows.length > 0 ? [rows] : [];
    },
    renew: async (held, until) => {
      const kept = new Set(
        await renewRows(
          held.flatMap((r) => r.map((row) => row.id)),
          until,
        ),
      );
      return held.filter((r) => r.every((row) => kept.has(row.id)));
    },
  };
}
