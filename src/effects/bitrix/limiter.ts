export interface BucketLimits {
  /** Requests the portal takes at once before refusing (X in limits.md). */
  burst: number;
  /** Requests the counter drains per second (Y). */
  perSecond: number;
}

export type Plan = 'standard' | 'enterprise' | BucketLimits;

export function planLimits(plan: Plan = 'standard'): BucketLimits {
  if (plan === 'enterprise') return { burst: 250, perSecond: 5 };
  if (plan === 'standard') return { burst: 50, perSecond: 2 };
  if (!(plan.burst >= 1) || !(plan.perSecond > 0)) throw new RangeError('plan needs burst >= 1 and perSecond > 0');
  return { burst: plan.burst, perSecond: plan.perSecond };
}

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A bucket kept where several processes share it (the store): reserves a slot, returns the wait. */
export type SharedBucket = (mode: 'take' | 'fill') => Promise<number>;

/**
 * The portal's leaky bucket mirrored client-side. A request adds 1 to the level, which drains
 * continuously; the level may run past `burst` as reservations, so each waiter gets its own
 * start time (FIFO) instead of all waking together and racing for one slot.
 */
export class LeakyBucket {
  #level = 0;
  #at: number;

  constructor(
    private readonly limits: BucketLimits,
    private readonly now: () => number,
    private readonly sleep: Sleep = realSleep,
    private readonly shared?: SharedBucket,
  ) {
    this.#at = now();
  }

  /** Resolves when this request may be sent. */
  async take(): Promise<void> {
    if (this.shared) {
      const wait = await this.shared('take');
      if (wait > 0) await this.sleep(wait);
      return;
    }
    this.#drain();
    this.#level += 1;
    const over = this.#level - this.limits.burst;
    if (over > 0) await this.sleep(Math.ceil((over / this.limits.perSecond) * 1000));
  }

  /** The portal said QUERY_LIMIT_EXCEEDED: something else shares its counter, so treat ours as full. */
  fill(): void {
    if (this.shared) {
      void this.shared('fill').catch(() => undefined);
      return;
    }
    this.#drain();
    this.#level = Math.max(this.#level, this.limits.burst);
  }

  #drain(): void {
    const t = this.now();
    this.#level = Math.max(0, this.#level - (Math.max(0, t - this.#at) / 1000) * this.limits.perSecond);
    this.#at = t;
  }
}
