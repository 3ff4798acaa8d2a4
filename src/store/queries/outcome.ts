import type { Outcome } from '../types.js';

/**
 * What a run's outcome writes, for an event (done / retry / dead) and a delivery status
 * (sent / pending again / dead): the status, when to try again, and the error.
 */
export function ended<S extends string>(
  outcome: Outcome,
  names: { ok: S; retry: S },
): { status: S | 'dead'; retryAt: number | null; error: string | null } {
  if (outcome.ok) return { status: names.ok, retryAt: null, error: null };
  return { status: outcome.retryAt === null ? 'dead' : names.retry, retryAt: outcome.retryAt, error: outcome.error };
}

export const EVENT_ENDS = { ok: 'done', retry: 'retry' } as const;
export const STATUS_ENDS = { ok: 'sent', retry: 'pending' } as const;
