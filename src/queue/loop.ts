import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import { withDefaults } from '../defaults.js';
import { GatewayError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';

/** What a run gets beside its unit: how to know it must stop, and whether its outcome still counts. */
export interface Lease {
  /** Aborted when the run must stop: its time limit passed, its lease was lost, or the loop stopped and the grace period ended. */
  readonly signal: AbortSignal;
  /** True once another owner holds the unit: the run's outcome must be dropped. */
  readonly lost: boolean;
  /** Says the work is over and the outcome is being written: the time limit no longer applies, and a renewal that misses the lease now is no loss. */
  finishing(): void;
}

export interface QueueLoopOptions<T> {
  /** Leases up to `limit` units of work to this loop until `now + leaseMs`; none when nothing is runnable. */
  claim: (limit: number, now: number) => Promise<readonly T[]>;
  /** Does one unit's work and records its outcome. A rejection is logged; the unit's lease then runs out and it is claimed again. */
  run: (unit: T, lease: Lease) => Promise<void>;
  /** Extends the leases still held to `until` and returns the units it renewed. Without it leases are not renewed: one must outlast any run. */
  renew?: (units: readonly T[], until: number) => Promise<readonly T[]>;
  /** Calls `wake` when new work appears elsewhere (another process); resolves to an unsubscribe. */
  subscribe?: (wake: () => void) => Promise<() => void>;
  /** Names the unit in logs and abort reasons, e.g. `event 12`. */
  describe: (unit: T) => string;
  /** Log fields of a unit. */
  logFields?: (unit: T) => Record<string, unknown>;
  /** What owns the loop (`worker`) and what does a unit's work (`handlers`, a plural), for logs and abort reasons. */
  words: { owner: string; runner: string };
  /** Units run at once. Default 1. */
  concurrency?: number;
  /**
   * While units run, claim again only once this many can be taken: one claim then brings several
   * (a claim costs about as much whether it brings one unit or many). Default 1.
   */
  claimBatch?: number;
  /** How long a claim holds a unit. Renewed every third of it while the unit runs, when `renew` is given. */
  leaseMs: number;
  /** How long a run may take before its signal is aborted. Default: no limit. */
  timeLimitMs?: number;
  /** On stop, how long runs in flight may take before their signal is aborted. Default 10 s. */
  stopGraceMs?: number;
  /** How often to look for work nobody woke the loop for (due retries, other processes). Default 1 s. */
  pollMs?: number;
  /** How long work gathers before it is claimed when the last claim found none, so that one claim takes much. Default 0. */
  gatherMs?: number;
  /** Longest wait after claims that keep failing: the wait starts at pollMs and doubles with each failure. Default 5 s, so work resumes soon after the database is back. */
  backoffMaxMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** setTimeout runs anything longer at once (after a warning). */
export const MAX_TIMER_MS = 2_147_483_647;

/** The reason a run's signal is aborted with: coded, and named as fetch and timers name theirs. */
const aborted = (name: 'TimeoutError' | 'AbortError', message: string): GatewayError =>
  Object.assign(new GatewayError(name === 'TimeoutError' ? 'B24GW_TIMED_OUT' : 'B24GW_ABORTED', message), { name });

/** One unit in flight and its lease. */
class Running<T> implements Lease {
  readonly abort = new AbortController();
  lost = false;
  /** The outcome is being written. */
  done = false;
  /** When the last warning about a run that ignores its aborted signal was logged. */
  warnedAt = 0;
  limit: NodeJS.Timeout | undefined;
  promise!: Promise<void>;

  constructor(
    readonly unit: T,
    /** Until when the store holds the lease as this loop's. */
    public heldUntil: number,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  finishing(): void {
    this.done = true;
    clearTimeout(this.limit);
  }
}

/**
 * The one loop behind every queue of the gateway: claim units of work under a lease, run them
 * (at most `concurrency` at once), renew the leases while they run, and find more work when
 * woken, on a poll, and after each run; back off while claims fail; stop with a grace period.
 * What a unit is, how it is claimed and how its outcome is recorded is the instance's (see README.md).
 */
export class QueueLoop<T> {
  private readonly running = new Set<Running<T>>();
  /** Claims under way, and how many units they may bring. */
  private readonly claims = new Set<Promise<unknown>>();
  private reserved = 0;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private looping = false;
  private again = false;
  private stopped = true;
  /** Claims that failed in a row: while above 0, the loop waits for its back-off timer. */
  private failures = 0;
  /** The last claim found nothing: new work trickles in, and gathers before the next claim. */
  private idle = true;
  private unsubscribe: (() => void) | undefined;
  private readonly o: Required<Omit<QueueLoopOptions<T>, 'renew' | 'subscribe' | 'logFields' | 'timeLimitMs'>> &
    QueueLoopOptions<T>;
  private readonly renewEveryMs: number;

  constructor(options: QueueLoopOptions<T>) {
    this.o = withDefaults(
      {
        concurrency: 1,
        claimBatch: 1,
        stopGraceMs: 10_000,
        pollMs: 1_000,
        gatherMs: 0,
        backoffMaxMs: 5_000,
        logger: silentLogger,
        now: Date.now,
      },
      options,
    );
    for (const name of ['leaseMs', 'timeLimitMs', 'stopGraceMs', 'pollMs', 'backoffMaxMs'] as const) {
      const v = this.o[name];
      if (v === undefined && name === 'timeLimitMs') continue;
      if (!(typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_TIMER_MS)) {
        throw new GatewayError(
          'B24GW_BAD_CONFIG',
          `${this.o.words.owner} option ${name} must be a number of milliseconds above 0 and at most ${MAX_TIMER_MS}, got ${v}`,
        );
      }
    }
    if (!(Number.isInteger(this.o.concurrency) && this.o.concurrency > 0)) {
      throw new GatewayError(
        'B24GW_BAD_CONFIG',
        `${this.o.words.owner} option concurrency must be a whole number above 0, got ${this.o.concurrency}`,
      );
    }
    this.renewEveryMs = Math.max(1, Math.floor(this.o.leaseMs / 3));
  }

  /** Units running now. */
  get inFlight(): number {
    return this.running.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.failures = 0;
    this.wake();
    void this.o
      .subscribe?.(() => this.wake())
      .then(
        (off) => (this.stopped ? off() : (this.unsubscribe = off)),
        (e: unknown) =>
          this.o.logger.warn({ err: e }, `the ${this.o.words.owner} gets no news of new work; polling only`),
      );
  }

  /** Looks for work now. Wakes while a round runs are folded into one more round; while claims fail, the back-off decides. */
  wake(): void {
    if (this.stopped) return;
    if (this.looping || this.failures > 0) {
      this.again = true;
      return;
    }
    void this.loop();
  }

  /**
   * Stops claiming and waits for the units in flight (and those a claim under way brings). Runs
   * still going after `stopGraceMs` have their signal aborted; the loop then waits until they
   * settle, renewing their leases, so that no unit runs twice at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.claims]);
    if (this.running.size === 0) return;
    const grace = setTimeout(() => {
      const reason = aborted(
        'AbortError',
        `the ${this.o.words.owner} stopped, and the ${this.o.words.runner} did not finish within its ${this.o.stopGraceMs} ms grace period`,
      );
      for (const r of this.running) this.abortRun(r, reason);
    }, this.o.stopGraceMs);
    while (this.running.size > 0) await Promise.allSettled([...this.running].map((r) => r.promise));
    clearTimeout(grace);
  }

  /** Runs until nothing is runnable now (work not yet due stays). For tests and scripts; a failed claim rejects. */
  async drain(): Promise<void> {
    for (;;) {
      const claimed = await this.claimAndRun();
      if (claimed === 0 && this.running.size === 0) {
        if (this.claims.size === 0) return;
        await Promise.allSettled([...this.claims]);
        continue;
      }
      if (this.running.size > 0) await Promise.race([...this.running].map((r) => r.promise));
    }
  }

  private async loop(): Promise<void> {
    this.looping = true;
    clearTimeout(this.timer);
    let next = this.o.pollMs;
    try {
      if (this.o.gatherMs > 0 && this.idle) await sleep(this.o.gatherMs, undefined, { ref: false });
      do {
        this.again = false;
        // Yield between rounds: with fast runs the loop would otherwise go on microtasks alone
        // and keep the requests of the same thread waiting.
        while (!this.stopped && (await this.claimAndRun()) > 0) await yieldToIo();
      } while (this.again && !this.stopped);
      this.failures = 0;
    } catch (e) {
      this.failures++;
      next = Math.min(this.o.pollMs * 2 ** (this.failures - 1), Math.max(this.o.backoffMaxMs, this.o.pollMs));
      this.o.logger.error(
        { err: e, failures: this.failures, retryInMs: next },
        `the ${this.o.words.owner} could not claim work; trying again in ${next} ms`,
      );
    } finally {
      this.looping = false;
      if (!this.stopped) this.timer = setTimeout(() => !this.looping && void this.loop(), next).unref();
    }
  }

  private async claimAndRun(): Promise<number> {
    const free = this.o.concurrency - this.running.size - this.reserved;
    if (free <= 0 || (this.running.size > 0 && free < this.o.claimBatch)) return 0;
    // After a pause longer than a lease (a stalled event loop) the heartbeat may not have run yet:
    // renew first, or this loop could claim its own units again while they still run.
    if (this.renewalOverdue()) await this.renew();
    this.reserved += free;
    const now = this.o.now();
    const claim = this.o.claim(free, now);
    this.claims.add(claim);
    let units: readonly T[];
    try {
      units = await claim;
    } finally {
      this.claims.delete(claim);
      this.reserved -= free;
    }
    this.idle = units.length === 0;
    for (const unit of units) this.begin(unit, now);
    return units.length;
  }

  private begin(unit: T, claimedAt: number): void {
    const r = new Running(unit, claimedAt + this.o.leaseMs);
    this.running.add(r);
    if (this.o.renew) this.heartbeat ??= setInterval(() => void this.renew(), this.renewEveryMs).unref();
    const ms = this.o.timeLimitMs;
    if (ms !== undefined)
      r.limit = setTimeout(
        () => this.abortRun(r, aborted('TimeoutError', `${this.o.words.runner} did not finish within ${ms} ms`)),
        ms,
      );
    r.promise = (async () => this.o.run(unit, r))()
      .catch((e: unknown) =>
        this.o.logger.error(
          { err: e, ...this.o.logFields?.(unit) },
          `could not record the outcome of ${this.o.describe(unit)}; its lease will run out and it will run again`,
        ),
      )
      .finally(() => {
        clearTimeout(r.limit);
        this.running.delete(r);
        if (this.running.size === 0) {
          clearInterval(this.heartbeat);
          this.heartbeat = undefined;
        }
        this.wake();
      });
  }

  private abortRun(r: Running<T>, reason: Error): void {
    if (r.signal.aborted) return;
    r.warnedAt = this.o.now();
    r.abort.abort(reason);
  }

  private renewalOverdue(): boolean {
    if (!this.o.renew) return false;
    const now = this.o.now();
    for (const r of this.running)
      if (!r.lost && !r.done && r.heldUntil - now < this.o.leaseMs - this.renewEveryMs) return true;
    return false;
  }

  /** The heartbeat: one renewal at a time for every unit in flight. */
  private renew(): Promise<void> {
    this.renewing ??= this.renewNow().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewNow(): Promise<void> {
    const { owner, runner } = this.o.words;
    const now = this.o.now();
    const runs = [...this.running].filter((r) => !r.lost && !r.done);
    if (runs.length > 0 && this.o.renew) {
      const until = now + this.o.leaseMs;
      try {
        const held = new Set(
          await this.o.renew(
            runs.map((r) => r.unit),
            until,
          ),
        );
        for (const r of runs) {
          if (held.has(r.unit)) r.heldUntil = until;
          else if (!r.done) {
            r.lost = true;
            this.abortRun(
              r,
              aborted('AbortError', `the lease on ${this.o.describe(r.unit)} was lost to another ${owner}`),
            );
          }
        }
      } catch (e) {
        this.o.logger.warn({ err: e }, 'could not renew the leases in flight; will try again');
        // Fail closed: a lease that ran out may be another owner's by now.
        const reason = aborted('AbortError', 'the lease ran out and could not be renewed (the store did not answer)');
        for (const r of runs) if (r.heldUntil <= now) this.abortRun(r, reason);
      }
    }
    for (const r of this.running) {
      if (!r.signal.aborted || now - r.warnedAt < this.o.leaseMs) continue;
      r.warnedAt = now;
      const what = this.o.describe(r.unit);
      const holds = r.lost
        ? `another ${owner} has it now`
        : `${what} stays held, with what waits behind it, until they settle`;
      this.o.logger.warn(
        { ...this.o.logFields?.(r.unit), reason: (r.signal.reason as Error).message },
        `the ${runner} of ${what} ignore their aborted signal and still run; ${holds}`,
      );
    }
  }
}
