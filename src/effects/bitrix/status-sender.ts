import { withDefaults } from '../../defaults.js';
import { silentLogger, type Logger } from '../../log.js';
import type { PendingStatus, Store } from '../../store/types.js';
import { defaultSchedule, nextAttemptAt } from '../../worker/schedule.js';
import type { DeliveryStatus, DeliveryStatusBatcher } from './status-batcher.js';

export interface StatusSenderOptions {
  store: Store;
  batcher: DeliveryStatusBatcher;
  owner: string;
  schedule?: readonly number[];
  /** Statuses taken per round: all of them share the batcher's REST calls. Default 1,000. */
  batchSize?: number;
  leaseMs?: number;
  pollMs?: number;
  /** How long statuses gather after the first one is due, so one request carries many. Default 200 ms. */
  gatherMs?: number;
  logger?: Logger;
  now?: () => number;
}

/**
 * Sends the status outbox to Bitrix24: everything due is taken at once and handed to the
 * batcher, so statuses of many events, one chat's included, share imconnector calls and
 * `batch` requests. A failed status is retried on the schedule, then kept as dead.
 */
export class StatusSender {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private readonly o: Required<StatusSenderOptions>;

  constructor(options: StatusSenderOptions) {
    this.o = withDefaults({ schedule: defaultSchedule, batchSize: 1_000, leaseMs: 120_000, pollMs: 1_000, gatherMs: 200, logger: silentLogger, now: Date.now }, options);
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = setTimeout(() => this.wake(), this.o.pollMs).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Sends everything due now. For tests and scripts. */
  async drain(): Promise<void> {
    await this.running;
    while ((await this.round()) > 0);
  }

  private async loop(): Promise<void> {
    await new Promise((r) => setTimeout(r, this.o.gatherMs));
    do {
      this.again = false;
      try {
        while (!this.stopped && (await this.round()) > 0);
      } catch (e) {
        this.o.logger.error({ err: e }, 'could not send delivery statuses; will try again');
      }
    } while (this.again && !this.stopped);
  }

  private async round(): Promise<number> {
    // The retry budget: a status whose sender died on its last attempt is dead, not sent again.
    const rows = await this.o.store.claimStatuses(this.o.owner, this.o.now(), this.o.leaseMs, this.o.batchSize, this.o.schedule.length + 1);
    if (rows.length === 0) return 0;
    const results = await Promise.allSettled(
      rows.map((r) => this.o.batcher.enqueue(r.memberId, r.connector, r.line, JSON.parse(r.item) as DeliveryStatus)),
    );
    const sent = rows.filter((_, i) => results[i]!.status === 'fulfilled').map((r) => r.id);
    if (sent.length > 0) await this.o.store.finishStatuses(sent, this.o.owner, { ok: true }, this.o.now());
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') continue;
      await this.fail(rows[i]!, r.reason);
    }
    return rows.length;
  }

  private async fail(row: PendingStatus, reason: unknown): Promise<void> {
    const now = this.o.now();
    const retryAt = nextAttemptAt(row.attempts, now, this.o.schedule, Number((reason as { retryAfterMs?: unknown })?.retryAfterMs) || 0);
    const error = reason instanceof Error ? reason.message : String(reason);
    await this.o.store.finishStatuses([row.id], this.o.owner, { ok: false, error, retryAt }, now);
    const log = { statusId: row.id, eventId: row.eventId, memberId: row.memberId, attempt: row.attempts, error };
    if (retryAt === null) this.o.logger.error(log, 'delivery status is dead after its last attempt');
    else this.o.logger.warn(log, 'delivery status failed; it will be retried');
  }
}
