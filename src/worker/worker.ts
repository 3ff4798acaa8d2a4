import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { withDefaults } from '../defaults.js';
import { GatewayError } from '../errors.js';
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
  /**
   * How long a claimed event is this worker's. Renewed every third of it while the event's
   * handlers run, so it bounds how long a crashed process's events wait, not how long a
   * handler may take. Default 30 s.
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
  /** Called after each run, for metrics. */
  onFinished?: (event: StoredEvent, outcome: 'done' | 'retry' | 'dead', ms: number) => void;
}

const noRest = (): RestClient => ({
  call: () => Promise.reject(new Error('No Bitrix24 REST client is configured for this gateway')),
});

/** One attempt in flight. */
interface Run {
  readonly event: StoredEvent;
  readonly abort: AbortController;
  /** Until when the store has the lease as this worker's. */
  heldUntil: number;
  /** Taken by another worker: the outcome is dropped. */
  lost: boolean;
  /** The outcome is being written: a renewal that misses the lease now is no loss. */
  finishing: boolean;
  /** When the last warning about a handler that ignores its aborted signal was logged. */
  warnedAt: number;
}

const aborted = (name: 'TimeoutError' | 'AbortError', message: string): Error => Object.assign(new Error(message), { name });

/** setTimeout runs anything longer at once (after a warning). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Takes events from the inbox and runs their handlers with at-least-once semantics:
 * a failure is retried on the schedule, then the event is dead until replayed. While an
 * attempt runs its lease is renewed, so an event never runs twice at once, however long its
 * handlers take, unless this process stalls for a whole lease.
 */
export class Worker {
  readonly owner: string;
  private readonly inflight = new Set<Promise<void>>();
  private readonly runs = new Map<number, Run>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private looping = false;
  private again = false;
  private stopped = true;
  private unsubscribe: (() => void) | undefined;
  private readonly o: Required<Omit<WorkerOptions, 'onFinished'>> & Pick<WorkerOptions, 'onFinished'>;
  private readonly renewEveryMs: number;
  /** The retry budget: the first attempt and one per delay of the schedule. */
  private readonly maxAttempts: number;

  constructor(options: WorkerOptions) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const defaults = {
      concurrency: 8,
      leaseMs: 30_000,
      handlerTimeoutMs: 240_000,
      stopGraceMs: 10_000,
      pollMs: 1_000,
      schedule: defaultSchedule,
      logger: silentLogger,
      rest: noRest,
      now: Date.now,
    };
    this.o = withDefaults(defaults, { ...options, owner: this.owner });
    for (const name of ['leaseMs', 'handlerTimeoutMs', 'stopGraceMs', 'pollMs'] as const) {
      const v = this.o[name];
      if (!(Number.isFinite(v) && v > 0 && v <= MAX_TIMER_MS)) throw new GatewayError('B24GW_BAD_CONFIG', `worker option ${name} must be a number of milliseconds above 0 and at most ${MAX_TIMER_MS}, got ${v}`);
    }
    this.renewEveryMs = Math.max(1, Math.floor(this.o.leaseMs / 3));
    this.maxAttempts = this.o.schedule.length + 1;
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

  /**
   * Stops claiming and waits for the events in flight. Handlers still running after
   * `stopGraceMs` have their signal aborted (the attempt fails and is retried); the worker then
   * waits until they settle, renewing their leases, so no event runs twice at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    if (this.inflight.size === 0) return;
    const grace = setTimeout(() => {
      const reason = aborted('AbortError', `the worker stopped, and the handlers did not finish within its ${this.o.stopGraceMs} ms grace period`);
      for (const run of this.runs.values()) this.abort(run, reason);
    }, this.o.stopGraceMs);
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    clearTimeout(grace);
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
    // After a pause longer than a lease (a stalled event loop) the heartbeat may not have run yet:
    // renew first, or this worker could claim its own events again while they still run.
    if (this.renewalOverdue()) await this.renew();
    const batch = await this.o.store.claim(this.owner, this.o.now(), this.o.leaseMs, free, this.maxAttempts);
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
    const run: Run = { event: stored, abort: new AbortController(), heldUntil: started + this.o.leaseMs, lost: false, finishing: false, warnedAt: 0 };
    this.runs.set(stored.id, run);
    this.heartbeat ??= setInterval(() => void this.renew(), this.renewEveryMs).unref();
    const ms = this.o.handlerTimeoutMs;
    const limit = setTimeout(() => this.abort(run, aborted('TimeoutError', `handlers did not finish within ${ms} ms`)), ms);
    try {
      let failure: { error: unknown } | undefined;
      try {
        const event = stored.event as AnyEvent;
        const bots = botsOf(event, stored.secrets);
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
          signal: run.abort.signal,
        };
        await this.o.handlers.run(event, ctx);
      } catch (e) {
        failure = { error: e };
      } finally {
        clearTimeout(limit);
      }
      // Only now that the handlers have settled: until then the event stayed this worker's.
      // Once aborted the attempt failed, whatever the handlers returned: returning is how many
      // honour a signal, with their work undone.
      if (run.abort.signal.aborted) failure = { error: run.abort.signal.reason };
      if (run.lost) {
        this.o.logger.warn({ eventId: stored.id, event: stored.code, attempt: stored.attempts }, 'the lease was lost to another worker; this attempt\'s outcome is dropped');
        return;
      }
      run.finishing = true;
      await this.finish(stored, failure, started);
    } finally {
      this.runs.delete(stored.id);
      if (this.runs.size === 0) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    }
  }

  private async finish(stored: StoredEvent, failure: { error: unknown } | undefined, started: number): Promise<void> {
    const now = this.o.now();
    let outcome: 'done' | 'retry' | 'dead' = 'done';
    let recorded: boolean;
    let log: Record<string, unknown> = {};
    if (!failure) recorded = await this.o.store.finish(stored.id, this.owner, { ok: true }, now);
    else {
      const e = failure.error;
      const retryAt = nextAttemptAt(stored.attempts, now, this.o.schedule, Number((e as { retryAfterMs?: unknown })?.retryAfterMs) || 0);
      outcome = retryAt === null ? 'dead' : 'retry';
      const error = e instanceof Error ? e.message : String(e);
      recorded = await this.o.store.finish(stored.id, this.owner, { ok: false, error, retryAt }, now);
      log = { eventId: stored.id, event: stored.code, attempt: stored.attempts, error, retryAt };
    }
    if (!recorded) {
      this.o.logger.warn({ eventId: stored.id, event: stored.code, attempt: stored.attempts }, 'the lease was lost to another worker; this attempt\'s outcome is dropped');
      return;
    }
    if (outcome === 'dead') this.o.logger.error(log, 'event is dead after its last attempt; replay it when the cause is fixed');
    else if (outcome === 'retry') this.o.logger.warn(log, 'event failed; it will be retried');
    this.o.onFinished?.(stored, outcome, this.o.now() - started);
  }

  private abort(run: Run, reason: Error): void {
    if (run.abort.signal.aborted) return;
    run.warnedAt = this.o.now();
    run.abort.abort(reason);
  }

  private renewalOverdue(): boolean {
    const now = this.o.now();
    for (const run of this.runs.values()) if (!run.lost && !run.finishing && run.heldUntil - now < this.o.leaseMs - this.renewEveryMs) return true;
    return false;
  }

  /** The heartbeat: one renewal at a time for every event in flight. */
  private renew(): Promise<void> {
    this.renewing ??= this.renewNow().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewNow(): Promise<void> {
    const now = this.o.now();
    const runs = [...this.runs.values()].filter((r) => !r.lost && !r.finishing);
    if (runs.length > 0) {
      const until = now + this.o.leaseMs;
      try {
        const held = new Set(await this.o.store.renewLeases(runs.map((r) => r.event.id), this.owner, until));
        for (const run of runs) {
          if (held.has(run.event.id)) run.heldUntil = until;
          else if (!run.finishing) {
            run.lost = true;
            this.abort(run, aborted('AbortError', `the lease on event ${run.event.id} was lost to another worker`));
          }
        }
      } catch (e) {
        this.o.logger.warn({ err: e }, 'could not renew the leases of the events in flight; will try again');
        // Fail closed: a lease that ran out may be another worker's by now.
        const reason = aborted('AbortError', 'the lease ran out and could not be renewed (the store did not answer)');
        for (const run of runs) if (run.heldUntil <= now) this.abort(run, reason);
      }
    }
    for (const run of this.runs.values()) {
      if (!run.abort.signal.aborted || now - run.warnedAt < this.o.leaseMs) continue;
      run.warnedAt = now;
      const { id, code } = run.event;
      const holds = run.lost ? 'another worker has the event now' : 'the event and its chat stay held until they settle';
      this.o.logger.warn({ eventId: id, event: code, reason: (run.abort.signal.reason as Error).message }, `the handlers of event ${id} ignore their aborted signal and still run; ${holds}`);
    }
  }
}
