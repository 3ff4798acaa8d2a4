import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../errors.js';
import { FINISHED_STATUSES, type FinishedStatus, type PruneQuery, type Store } from './types.js';

/** Tables whose rows belong to one event (their `event_id`): removed with it, before it. */
export const EVENT_TABLES = ['event_attempts', 'status_outbox', 'event_secrets'] as const;

/** A prune query's statuses, refused unless every one is finished: an unfinished event is never pruned. */
export function finishedOnly(statuses: readonly string[]): FinishedStatus[] {
  const bad = statuses.filter((s) => !(FINISHED_STATUSES as readonly string[]).includes(s));
  if (bad.length > 0 || statuses.length === 0) {
    throw new GatewayError(
      'B24GW_BAD_INPUT',
      `Only finished events can be pruned (${FINISHED_STATUSES.join(', ')}), got "${statuses.join(',')}"`,
    );
  }
  return [...new Set(statuses)] as FinishedStatus[];
}

export interface PruneLoopOptions {
  /** Events per transaction. Default PRUNE_BATCH. */
  batch?: number;
  /** Rest between batches, so the intake's commits get the write lock in between. Default 20 ms. */
  pauseMs?: number;
  onBatch?: (removed: number) => void;
  /** Checked between batches: true stops the loop (the gateway is closing). */
  stopped?: () => boolean;
}

/** Small, so that each batch holds SQLite's write lock a few milliseconds and an intake commit waits little for it. */
export const PRUNE_BATCH = 100;

/** Removes every event `query` names, one short transaction at a time; returns how many went. */
export async function pruneAll(
  store: Store,
  query: Omit<PruneQuery, 'limit' | 'dryRun'>,
  o: PruneLoopOptions = {},
): Promise<number> {
  const limit = o.batch ?? PRUNE_BATCH;
  let total = 0;
  for (;;) {
    const removed = await store.pruneEvents({ ...query, limit });
    total += removed;
    o.onBatch?.(removed);
    if (removed < limit || o.stopped?.()) return total;
    await sleep(o.pauseMs ?? 20);
  }
}
