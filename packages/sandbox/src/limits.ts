/** What the plans allow (limits.md): the burst X before blocking and the drain Y per second. */
export const planLimits = {
  standard: { burst: 50, drainPerSecond: 2 },
  enterprise: { burst: 250, drainPerSecond: 5 },
} as const;
export type Plan = keyof typeof planLimits;

export interface BucketParams {
  burst: number;
  drainPerSecond: number;
}

/**
 * Bitrix24's leaky bucket, one per portal: every request adds 1, the counter drains
 * by `drainPerSecond`, and a request that would take it past `burst` is refused with
 * 503 QUERY_LIMIT_EXCEEDED (and not counted). Draining is continuous, so a client
 * pacing at exactly the drain rate never hits the limit.
 */
export class LeakyBucket {
  #level = 0;
  #at: number;

  constructor(now: number) {
    this.#at = now;
  }

  /** Takes one request; false when it must be refused. */
  take(now: number, params: BucketParams): boolean {
    this.#drain(now, params);
    if (this.#level + 1 > params.burst) return false;
    this.#level += 1;
    return true;
  }

  level(now: number, params: BucketParams): number {
    this.#drain(now, params);
    return this.#level;
  }

  #drain(now: number, params: BucketParams): void {
    const elapsed = Math.max(0, now - this.#at) / 1000;
    this.#level = Math.max(0, this.#level - elapsed * params.drainPerSecond);
    this.#at = now;
  }
}

const BASKET_MS = 60_000;
const WINDOW_MS = 10 * BASKET_MS;

interface Basket {
  /** When the first call of this basket was made; the basket leaves the sum 10 minutes later. */
  start: number;
  seconds: number;
}

/**
 * The operating-time limit of one method for one application on one portal: execution
 * time is summed in one-minute baskets, each counted for 10 minutes from its first call.
 * A call is refused (429 OPERATION_TIME_LIMIT) when the sum already exceeds the limit
 * before it runs; the call that pushes the sum over the limit still completes.
 */
export class OperatingBudget {
  #baskets: Basket[] = [];

  /** Seconds accumulated in the baskets still counted at `now`. */
  operating(now: number): number {
    this.#expire(now);
    return this.#baskets.reduce((sum, b) => sum + b.seconds, 0);
  }

  /** Unix time (s) when the oldest basket stops counting; 10 minutes ahead when none is counted. */
  resetAt(now: number): number {
    this.#expire(now);
    return Math.floor(((this.#baskets[0]?.start ?? now) + WINDOW_MS) / 1000);
  }

  blocked(now: number, limitSeconds: number): boolean {
    return this.operating(now) > limitSeconds;
  }

  spend(now: number, seconds: number): void {
    if (seconds <= 0) return;
    this.#expire(now);
    const last = this.#baskets.at(-1);
    if (last && now - last.start < BASKET_MS) last.seconds += seconds;
    else this.#baskets.push({ start: now, seconds });
  }

  #expire(now: number): void {
    while (this.#baskets[0] && this.#baskets[0].start + WINDOW_MS <= now) this.#baskets.shift();
  }
}
