/**
 * Lets through a few log lines per key and window, then counts the rest: a flood of forged
 * deliveries must not become a flood of log lines. The metrics still count every one.
 */
export class LogThrottle {
  private readonly windows = new Map<string, { until: number; logged: number; skipped: number }>();

  constructor(
    private readonly perWindow = 10,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when this line may be written; `skipped` says how many of its key were held back in the window before. */
  allow(key: string): { ok: boolean; skipped: number } {
    const t = this.now();
    let w = this.windows.get(key);
    let skipped = 0;
    if (!w || w.until <= t) {
      skipped = w?.skipped ?? 0;
      if (this.windows.size > 1_000) this.windows.clear();
      this.windows.set(key, (w = { until: t + this.windowMs, logged: 0, skipped: 0 }));
    }
    if (w.logged >= this.perWindow) {
      w.skipped++;
      return { ok: false, skipped: 0 };
    }
    w.logged++;
    return { ok: true, skipped };
  }
}
