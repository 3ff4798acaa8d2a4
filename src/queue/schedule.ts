import { GatewayError } from '../errors.js';

/** Default delays before each retry: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then dead. */
export const defaultSchedule: readonly number[] = [5e3, 300e3, 1_800e3, 7_200e3, 18_000e3, 36_000e3, 36_000e3];

/** Parses a duration such as `500ms`, `5s`, `5m`, `2h`, `1d` into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!m) throw new GatewayError('B24GW_BAD_CONFIG', `"${text.trim()}" is not a duration like 5s, 5m, 2h`);
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

/** The retry budget a claim is given: the first attempt and one per delay of the schedule. */
export const retryBudget = (schedule: readonly number[]): number => schedule.length + 1;

/** What a failure may carry to say when to try again: a Retry-After, Bitrix24's operating_reset_at. */
export interface RetryHint {
  readonly retryAfterMs?: number | undefined;
}

/** The failure's own lower bound for the next attempt, in ms; 0 when it has none. The one place a hint is read. */
export function retryHintMs(error: unknown): number {
  if (typeof error !== 'object' || error === null || !('retryAfterMs' in error)) return 0;
  const ms = error.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** A failed attempt as a store records it: retried on the schedule, no sooner than the failure asks, or dead (retryAt null). */
export function failedOutcome(
  error: unknown,
  attempts: number,
  now: number,
  schedule: readonly number[],
): { ok: false; error: string; retryAt: number | null } {
  return {
    ok: false,
    error: error instanceof Error ? error.message : String(error),
    retryAt: nextAttemptAt(attempts, now, schedule, retryHintMs(error)),
  };
}
