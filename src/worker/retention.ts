import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { pruneAll } from '../store/prune.js';
import { FINISHED_STATUSES, type FinishedStatus, type Store } from '../store/types.js';

export interface RetentionOptions {
  /** Finished events received longer ago than this are removed, with their attempts and delivery statuses. */
  olderThanMs: number;
  /** Which finished statuses go. Default done, invalid and dead. */
  statuses?: readonly FinishedStatus[];
  /** How often a pass runs. Default a tenth of olderThanMs, at least 1 s and at most 10 minutes. */
  everyMs?: number;
}

/**
 * Removes old finished events now and then, in short transactions with rests between them, so
 * that neither store holds its write lock for long and the intake's commits go in between.
 */
export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<unknown> | undefined;
  private stopped = false;
  private readonly everyMs: number;

  constructor(private readonly o: RetentionOptions & { store: Store; logger: Logger; now?: () => number }) {
    if (!(o.olderThanMs > 0))
      throw new GatewayError('B24GW_BAD_CONFIG', `retention needs a positive age, got ${o.olderThanMs} ms`);
    this.everyMs = o.everyMs ?? Math.min(600_000, Math.max(1_000, o.olderThanMs / 10));
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      this.pass = this.runOnce()
        .catch((e: unknown) => this.o.logger.error({ err: e }, 'pruning old events failed; trying again later'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.everyMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** One pass: every finished event older than the age, batch after batch. Returns how many went. */
  async runOnce(): Promise<number> {
    const before = (this.o.now ?? Date.now)() - this.o.olderThanMs;
    const statuses = this.o.statuses ?? FINISHED_STATUSES;
    const removed = await pruneAll(this.o.store, { before, statuses }, { stopped: () => this.stopped });
    if (removed > 0)
      this.o.logger.info(
        { removed, before: new Date(before).toISOString(), statuses },
        `pruned ${removed} finished events received before ${new Date(before).toISOString()}`,
      );
    return removed;
  }

  /** Lets a batch under way finish, and runs no more. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }
}
