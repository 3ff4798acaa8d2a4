import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { withDefaults } from '../defaults.js';
import { silentLogger, type Logger } from '../log.js';
import type { Store, StoredEvent } from '../store/types.js';
import { botsOf, type HandlerContext, type RestClient } from './context.js';
import type { AnyEvent, HandlerRegistry } from './handlers.js';
import { defaultSchedule, nextAttemptAt } from './schedule.js';

export interface WorkerOptions {
  store: Store;
  handlers: HandlerRegistry;
  /** Events run at once; events of one chat never run at once. Default 8. */
  concurrency?: number;
  /** How long a claimed event is this worker's; after that a crashed worker's event is taken again. Default 5 min. */
  leaseMs?: number;
  /** How often to look for due retries and for work written by other processes. Default 1 s. */
  pollMs?: number;
  schedule?: readonly number[];
  /** Names this worker in leases and attempt logs. */
  owner?: string;
  logger?: Logger;
  rest?: (memberId: string) => RestClient;
  now?: () => number;
  /** Called after each run, for metrics. */
  onFinished?: (event: StoredEvent, outcome: 'done' | 'retry' | 'dead', ms: number) => void;
}

const noRest = (): RestClient => ({
  call: () => Promise.reject(new Error('No Bitrix24 REST client is configured for this gateway')),
});

/**
 * Takes events from the inbox and runs their handlers with at-least-once semantics:
 * a failure is retried on the schedule, then the event is dead until replayed.
 */
export class Worker {
  readonly owner: string;
  private readonly inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private looping = false;
  private again = false;
  private stopped = true;
  private unsubscribe: (() => void) | undefined;
  private readonly o: Required<Omit<WorkerOptions, 'onFinished'>> & Pick<WorkerOptions, 'onFinished'>;

  constructor(options: WorkerOptions) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const defaults = { concurrency: 8, leaseMs: 300_000, pollMs: 1_000, schedule: defaultSchedule, logger: silentLogger, rest: noRest, now: Date.now };
    this.o = withDefaults(defaults, { ...options, owner: this.owner });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.wake();
    // Another instance's intake wakes this worker through the store, where it can.
    void this.o.store.onNewEvents?.(() => this.wake()).then(
      (off) => (this.stopped ? off() : (this.unsubscribe = off)),
      (e: unknown) => this.o.logger.warn({ err: e }, 'no new-event notifications; polling only'),
    );
  }

  /** Looks for work now, e.g. right after intake stored an event. */
  wake(): void {
    if (this.stopped) return;
    if (this.looping) {
      this.again = true;
      return;
    }
    void this.loop();
  }

  /** Stops claiming, and waits for the events in flight to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Runs until nothing is runnable now (retries not yet due stay). For tests and scripts. */
  async drain(): Promise<void> {
    for (;;) {
      const claimed = await this.claimAndRun();
      if (claimed === 0 && this.inflight.size === 0) return;
      if (this.inflight.size > 0) await Promise.race(this.inflight);
    }
  }

  private async loop(): Promise<void> {
    this.looping = true;
    clearTimeout(this.timer);
    try {
      do {
        this.again = false;
        // Yield between rounds: with fast handlers the loop would otherwise run on microtasks
        // alone and keep the intake's requests waiting.
        while (!this.stopped && (await this.claimAndRun()) > 0) await yieldToIo();
      } while (this.again && !this.stopped);
    } catch (e) {
      this.o.logger.error({ err: e }, 'worker could not claim events');
    } finally {
      this.looping = false;
      if (!this.stopped) this.timer = setTimeout(() => this.wake(), this.o.pollMs).unref();
    }
  }

  private async claimAndRun(): Promise<number> {
    const free = this.o.concurrency - this.inflight.size;
    if (free <= 0) return 0;
    const batch = await this.o.store.claim(this.owner, this.o.now(), this.o.leaseMs, free);
    for (const event of batch) {
      const run: Promise<void> = this.run(event)
        .catch((e: unknown) => this.o.logger.error({ err: e, eventId: event.id }, 'could not record the outcome; the lease will expire and the event run again'))
        .finally(() => {
          this.inflight.delete(run);
          this.wake();
        });
      this.inflight.add(run);
    }
    return batch.length;
  }

  private async run(stored: StoredEvent): Promise<void> {
    const started = this.o.now();
    const event = stored.event as AnyEvent;
    const bots = botsOf(event, stored.secrets);
    let outcome: 'done' | 'retry' | 'dead' = 'done';
    try {
      // Inside the try: a portal that cannot be read now is a failed attempt, retried on the schedule.
      const ctx: HandlerContext = {
        eventId: stored.id,
        attempt: stored.attempts,
        memberId: stored.memberId,
        portal: await this.o.store.getPortal(stored.memberId),
        rest: this.o.rest(stored.memberId),
        bots,
        bot: bots[0],
        log: this.o.logger.child({ eventId: stored.id, event: stored.code }),
      };
      await withTimeout(this.o.handlers.run(event, ctx), Math.floor(this.o.leaseMs * 0.8));
      await this.o.store.finish(stored.id, this.owner, { ok: true }, this.o.now());
    } catch (e) {
      const now = this.o.now();
      const retryAt = nextAttemptAt(stored.attempts, now, this.o.schedule, Number((e as { retryAfterMs?: unknown }).retryAfterMs) || 0);
      outcome = retryAt === null ? 'dead' : 'retry';
      const error = e instanceof Error ? e.message : String(e);
      await this.o.store.finish(stored.id, this.owner, { ok: false, error, retryAt }, now);
      const log = { eventId: stored.id, event: stored.code, attempt: stored.attempts, error, retryAt };
      if (outcome === 'dead') this.o.logger.error(log, 'event is dead after its last attempt; replay it when the cause is fixed');
      else this.o.logger.warn(log, 'event failed; it will be retried');
    }
    this.o.onFinished?.(stored, outcome, this.o.now() - started);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`handlers did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
