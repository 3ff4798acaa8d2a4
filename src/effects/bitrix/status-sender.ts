import { withDefaults } from '../../defaults.js';
import { silentLogger, type Logger } from '../../log.js';
import { QueueLoop } from '../../queue/loop.js';
import { rounds } from '../../queue/rounds.js';
import { defaultSchedule, failedOutcome, retryBudget } from '../../queue/schedule.js';
import type { PendingStatus, Store } from '../../store/types.js';
import type { DeliveryStatus, DeliveryStatusBatcher } from './status-batcher.js';

export interface StatusSenderOptions {
  store: Store;
  batcher: DeliveryStatusBatcher;
  owner: string;
  schedule?: readonly number[];
  /** Statuses taken per round: all of them share the batcher's REST calls. Default 1,000. */
  batchSize?: number;
  /** How long a round's statuses are held without a renewal: renewed every third of it while the round runs. Default 10 s. */
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
 * `batch` requests. A failed status is retried on the schedule, then kept as dead. An instance
 * of the queue loop whose unit is one round: the statuses one claim took.
 */
export class StatusSender {
  private readonly loop: QueueLoop<readonly PendingStatus[]>;
  private readonly o: Required<StatusSenderOptions>;

  constructor(options: StatusSenderOptions) {
    const o = (this.o = withDefaults(
      {
        schedule: defaultSchedule,
        batchSize: 1_000,
        leaseMs: 10_000,
        pollMs: 1_000,
        gatherMs: 200,
        logger: silentLogger,
        now: Date.now,
      },
      options,
    ));
    // The retry budget: a status whose sender died on its last attempt is dead, not sent again.
    const budget = retryBudget(o.schedule);
    this.loop = new QueueLoop<readonly PendingStatus[]>({
      ...rounds(
        (now) => o.store.claimStatuses(o.owner, now, o.leaseMs, o.batchSize, budget),
        (ids, until) => o.store.renewStatuses(ids, o.owner, until),
      ),
      run: (rows) => this.send(rows),
      describe: (rows) => `${rows.length} delivery statuses`,
      words: { owner: 'status sender', runner: 'REST calls' },
      leaseMs: o.leaseMs,
      pollMs: o.pollMs,
      gatherMs: o.gatherMs,
      logger: o.logger,
      now: o.now,
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Looks for due statuses after the gather window, e.g. right after a handler enqueued some. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops claiming and lets the round under way finish. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Sends everything due now. For tests and scripts. */
  drain(): Promise<void> {
    return this.loop.drain();
  }

  private async send(rows: readonly PendingStatus[]): Promise<void> {
    const results = await Promise.allSettled(
      rows.map((r) => this.o.batcher.enqueue(r.memberId, r.connector, r.line, JSON.parse(r.item) as DeliveryStatus)),
    );
    const sent = rows.filter((_, i) => results[i]!.status === 'fulfilled').map((r) => r.id);
    if (sent.length > 0) await this.o.store.finishStatuses(sent, this.o.owner, { ok: true }, this.o.now());
    for (const [i, r] of results.entries()) if (r.status === 'rejected') await this.fail(rows[i]!, r.reason);
  }

  private async fail(row: PendingStatus, reason: unknown): Promise<void> {
    const now = this.o.now();
    const outcome = failedOutcome(reason, row.attempts, now, this.o.schedule);
    await this.o.store.finishStatuses([row.id], this.o.owner, outcome, now);
    const log = {
      statusId: row.id,
      eventId: row.eventId,
      memberId: row.memberId,
      attempt: row.attempts,
      error: outcome.error,
    };
    if (outcome.retryAt === null) this.o.logger.error(log, 'delivery status is dead after its last attempt');
    else this.o.logger.warn(log, 'delivery status failed; it will be retried');
  }
}
