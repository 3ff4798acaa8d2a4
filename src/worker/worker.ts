import { withDefaults } from '../defaults.js';
import { silentLogger, type Logger } from '../log.js';
import { GatewayError } from '../errors.js';
import { MAX_TIMER_MS, QueueLoop, type Lease } from '../queue/loop.js';
import { defaultSchedule, failedOutcome, retryBudget } from '../queue/schedule.js';
import { newOwner } from '../store/owner.js';
import type { Outcome, PortalRecord, Store, StoredEvent } from '../store/types.js';
import { botsOf, type HandlerContext, type RestClient } from './context.js';
import type { AnyEvent, HandlerRegistry } from './handlers.js';

/** Events a worker runs at once unless told otherwise. */
export const DEFAULT_CONCURRENCY = 32;

export interface WorkerOptions {
  store: Store;
  handlers: HandlerRegistry;
  /** Events run at once; events of one chat never run at once. Default DEFAULT_CONCURRENCY (32). */
  concurrency?: number;
  /**
   * How long a claimed event is this worker's. Renewed every third of it while the event's
   * handlers run, so it bounds how long a crashed process's events wait, not how long a
   * handler may take. Default 10 s: a crashed process's events are taken over within about 11 s.
   */
  leaseMs?: number;
  /**
   * How long an event's handlers may run. Then `ctx.signal` is aborted and the attempt fails
   * (retried on the schedule) once the handlers have settled. Default 4 min.
   */
  handlerTimeoutMs?: number;
  /** On stop, how long the handlers in flight may take before their signal is aborted. Default 10 s. */
  stopGraceMs?: number;
  /** How often to look for due retries and for work written by other processes. Default 1 s. */
  pollMs?: number;
  schedule?: readonly number[];
  /** Names this worker in leases and attempt logs. */
  owner?: string;
  logger?: Logger;
  rest?: (memberId: string) => RestClient;
  now?: () => number;
  /** Called when a claim took over an event whose lease ran out (its owner died), for metrics. */
  onTakenOver?: (event: StoredEvent) => void;
  /** Called after each run, for metrics. */
  onFinished?: (event: StoredEvent, outcome: 'done' | 'retry' | 'dead', ms: number) => void;
}

const noRest = (): RestClient => ({
  call: () =>
    Promise.reject(new GatewayError('B24GW_BAD_CONFIG', 'No Bitrix24 REST client is configured for this gateway')),
});

/**
 * Takes events from the inbox and runs their handlers with at-least-once semantics:
 * a failure is retried on the schedule, then the event is dead until replayed. While an
 * attempt runs its lease is renewed, so an event never runs twice at once, however long its
 * handlers take, unless this process stalls for a whole lease. An instance of the queue loop.
 */
export class Worker {
  readonly owner: string;
  private readonly loop: QueueLoop<StoredEvent>;
  private readonly o: Required<Omit<WorkerOptions, 'onFinished' | 'onTakenOver'>> &
    Pick<WorkerOptions, 'onFinished' | 'onTakenOver'>;

  constructor(options: WorkerOptions) {
    this.owner = options.owner ?? newOwner();
    const defaults = {
      concurrency: DEFAULT_CONCURRENCY,
      leaseMs: 10_000,
      handlerTimeoutMs: 240_000,
      stopGraceMs: 10_000,
      pollMs: 1_000,
      schedule: defaultSchedule,
      logger: silentLogger,
      rest: noRest,
      now: Date.now,
    };
    const o = (this.o = withDefaults(defaults, { ...options, owner: this.owner }));
    for (const name of ['leaseMs', 'handlerTimeoutMs', 'stopGraceMs', 'pollMs'] as const) {
      const v = o[name];
      if (!(Number.isFinite(v) && v > 0 && v <= MAX_TIMER_MS))
        throw new GatewayError(
          'B24GW_BAD_CONFIG',
          `worker option ${name} must be a number of milliseconds above 0 and at most ${MAX_TIMER_MS}, got ${v}`,
        );
    }
    const { store, owner } = o;
    const budget = retryBudget(o.schedule);
    this.loop = new QueueLoop<StoredEvent>({
      claim: (limit, now) => store.claim(owner, now, o.leaseMs, limit, budget),
      run: (event, lease) => this.run(event, lease),
      renew: async (events, until) => {
        const held = new Set(
          await store.renewLeases(
            events.map((e) => e.id),
            owner,
            until,
          ),
        );
        return events.filter((e) => held.has(e.id));
      },
      // Another instance's intake wakes this worker through the store, where it can.
      ...(store.onNewEvents ? { subscribe: (wake: () => void) => store.onNewEvents!(wake) } : {}),
      describe: (e) => `event ${e.id}`,
      logFields: (e) => ({ eventId: e.id, event: e.code, attempt: e.attempts }),
      words: { owner: 'worker', runner: 'handlers' },
      concurrency: o.concurrency,
      // Claim half the slots at a time: a claim's cost hardly grows with what it brings.
      claimBatch: Math.ceil(o.concurrency / 2),
      leaseMs: o.leaseMs,
      timeLimitMs: o.handlerTimeoutMs,
      stopGraceMs: o.stopGraceMs,
      pollMs: o.pollMs,
      logger: o.logger,
      now: o.now,
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Looks for work now, e.g. right after intake stored an event. */
  wake(): void {
    this.loop.wake();
  }

  /**
   * Stops claiming and waits for the events in flight. Handlers still running after
   * `stopGraceMs` have their signal aborted (the attempt fails and is retried); the worker then
   * waits until they settle, renewing their leases, so no event runs twice at once.
   */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Runs until nothing is runnable now (retries not yet due stay). For tests and scripts. */
  drain(): Promise<void> {
    return this.loop.drain();
  }

  private readonly portalReads = new Map<string, Promise<PortalRecord | undefined>>();

  /**
   * The portal's record, one read shared by the events that ask while it is under way: a claim
   * starts several events of one portal at once, and each read was a round trip on PostgreSQL.
   * Each event gets its own copy.
   */
  private async portal(memberId: string): Promise<PortalRecord | undefined> {
    let read = this.portalReads.get(memberId);
    if (!read) {
      read = this.o.store.getPortal(memberId).finally(() => this.portalReads.delete(memberId));
      this.portalReads.set(memberId, read);
    }
    const portal = await read;
    return portal && { ...portal };
  }

  private async run(stored: StoredEvent, lease: Lease): Promise<void> {
    const started = this.o.now();
    if (stored.takenOver) this.o.onTakenOver?.(stored);
    let failure: { error: unknown } | undefined;
    try {
      const event = stored.event as AnyEvent;
      const bots = botsOf(event, stored.secrets);
      // Inside the try: a portal that cannot be read now is a failed attempt, retried on the schedule.
      const ctx: HandlerContext = {
        eventId: stored.id,
        attempt: stored.attempts,
        delivery: stored.delivery ?? 'webhook',
        memberId: stored.memberId,
        portal: await this.portal(stored.memberId),
        rest: this.o.rest(stored.memberId),
        bots,
        bot: bots[0],
        log: this.o.logger.child({ eventId: stored.id, event: stored.code }),
        signal: lease.signal,
      };
      await this.o.handlers.run(event, ctx);
    } catch (e) {
      failure = { error: e };
    }
    // Only now that the handlers have settled: until then the event stayed this worker's.
    // Once aborted the attempt failed, whatever the handlers returned: returning is how many
    // honour a signal, with their work undone.
    if (lease.signal.aborted) failure = { error: lease.signal.reason };
    if (lease.lost) return this.dropped(stored);
    lease.finishing();
    const now = this.o.now();
    const outcome: Outcome = failure
      ? failedOutcome(failure.error, stored.attempts, now, this.o.schedule)
      : { ok: true };
    if (!(await this.o.store.finish(stored.id, this.owner, outcome, now))) return this.dropped(stored);
    const result = outcome.ok ? 'done' : outcome.retryAt === null ? 'dead' : 'retry';
    if (!outcome.ok) {
      const log = {
        eventId: stored.id,
        event: stored.code,
        attempt: stored.attempts,
        error: outcome.error,
        retryAt: outcome.retryAt,
      };
      if (result === 'dead')
        this.o.logger.error(log, 'event is dead after its last attempt; replay it when the cause is fixed');
      else this.o.logger.warn(log, 'event failed; it will be retried');
    }
    this.o.onFinished?.(stored, result, this.o.now() - started);
  }

  private dropped(stored: StoredEvent): void {
    this.o.logger.warn(
      { eventId: stored.id, event: stored.code, attempt: stored.attempts },
      "the lease was lost to another worker; this attempt's outcome is dropped",
    );
  }
}
