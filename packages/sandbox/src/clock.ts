/**
 * The sandbox's one source of time. Tokens, limits, timestamps and operating baskets
 * all read it, so a test can inject a clock or move it forward and see every
 * time-based behaviour follow.
 */
export class Clock {
  #offsetMs = 0;

  constructor(private readonly base: () => number = Date.now) {}

  /** Milliseconds since the epoch. */
  now(): number {
    return this.base() + this.#offsetMs;
  }

  /** Unix seconds, as Bitrix24 writes `ts` and `expires`. */
  unix(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Moves time forward (or back) for everything in the sandbox. */
  advance(ms: number): void {
    this.#offsetMs += ms;
  }
}
