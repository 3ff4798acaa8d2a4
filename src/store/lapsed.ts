/**
 * What the stores write when a lease runs out before its holder recorded an outcome: the
 * process died (or stalled) during the attempt. Shared so both stores say the same.
 */

/** The error of such an attempt, in the event's attempt log. */
export const lapsedAttempt =
  'no outcome before its lease ran out: the gateway stopped (or stalled) during this attempt';

/**
 * The last error of an event made dead at a claim: its lease ran out on its last attempt. `{n}`
 * stands for its attempts (PostgreSQL fills it in its own statement); `each` when every attempt
 * ended that way, `last` when only the last one did.
 */
export const spentTexts = {
  each: 'the gateway stopped during each of its {n} attempts (a crash loop?): no outcome before their leases ran out; replay it once the cause is fixed',
  last: 'the gateway stopped during its last attempt ({n} of {n}): no outcome before its lease ran out, and the retry budget is spent; replay it once the cause is fixed',
} as const;

/** See spentTexts. `lapsed` counts its attempts that ended that way, the last one included. */
export function spentByLapses(attempts: number, lapsed: number): string {
  return (lapsed >= attempts ? spentTexts.each : spentTexts.last).replaceAll('{n}', String(attempts));
}

/** The last error of a delivery status made dead at a claim. */
export const statusSpentByLapse =
  'the gateway stopped (or stalled) while sending it on its last attempt: no outcome before its lease ran out, and the retry budget is spent';
