import { expect, it } from 'vitest';
import { LogThrottle } from './log-throttle.js';

it('lets a few lines per key and window through, then says how many it held back', () => {
  let now = 0;
  const t = new LogThrottle(2, 1_000, () => now);
  const seen = Array.from({ length: 5 }, () => t.allow('token_mismatch').ok);
  expect(seen).toEqual([true, true, false, false, false]);
  expect(t.allow('unknown_portal').ok).toBe(true);
  now = 1_000;
  expect(t.allow('token_mismatch')).toEqual({ ok: true, skipped: 3 });
});
