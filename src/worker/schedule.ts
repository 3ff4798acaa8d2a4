/** Default delays before each retry: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then dead. */
export const defaultSchedule: readonly number[] = [5e3, 300e3, 1_800e3, 7_200e3, 18_000e3, 36_000e3, 36_000e3];

/** Parses a duration such as `500ms`, `5s`, `5m`, `2h`, `1d` into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!m) throw new Error(`"${text.trim()}" is not a duration like 5s, 5m, 2h`);
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3_600e3, d: 86_400e3 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

/** Parses `5s,5m,30m,2h` into milliseconds. */
export const parseSchedule = (text: string): number[] => text.split(',').map(parseDuration);

/**
 * When the next attempt runs, after `attempts` failed ones: the schedule's delay with ±20 %
 * jitter, so retries of many events do not arrive together. Null when the budget is spent.
 * A hint from the failure (a Retry-After, Bitrix24's operating_reset_at) is a lower bound.
 */
export function nextAttemptAt(
  attempts: number,
  now: number,
  schedule: readonly number[] = defaultSchedule,
  hintMs = 0,
  random: () => number = Math.random,
): number | null {
  const base = schedule[attempts - 1];
  if (base === undefined) return null;
  const jittered = base * (0.8 + 0.4 * random());
  return now + Math.round(Math.max(jittered, hintMs));
}
