/**
 * A clock for tests: `sleep` schedules a wake-up, and wake-ups are released one per
 * event-loop turn in time order, moving `now` to each one's time.
 */
export class FakeClock {
  t: number;
  readonly #timers: { at: number; seq: number; resolve: () => void }[] = [];
  #seq = 0;
  #pumping = false;

  constructor(start = Date.now()) {
    this.t = start;
  }

  now = (): number => this.t;

  sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.#timers.push({ at: this.t + Math.max(0, ms), seq: this.#seq++, resolve });
      this.#pump();
    });

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    setImmediate(() => {
      this.#pumping = false;
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers.shift();
      if (!next) return;
      this.t = Math.max(this.t, next.at);
      next.resolve();
      if (this.#timers.length > 0) this.#pump();
    });
  }
}
