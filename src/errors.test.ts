import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain script, with no types of its own
import { renderErrors } from '../scripts/errors-reference.mjs';
import { errorCodes, GatewayError } from './errors.js';

describe('the table of error codes', () => {
  it('is what docs/reference/errors.md says: run npm run docs:errors after changing it', () => {
    expect(readFileSync(new URL('../docs/reference/errors.md', import.meta.url), 'utf8')).toBe(
      (renderErrors as (t: unknown) => string)(errorCodes),
    );
  });

  it('gives every code a prefix, an HTTP status and a title', () => {
    for (const [code, e] of Object.entries(errorCodes)) {
      expect(code).toMatch(/^B24GW_[A-Z0-9_]+$/);
      expect(e.status).toBeGreaterThanOrEqual(400);
      expect(e.title.length).toBeGreaterThan(0);
    }
  });

  it('answers a 503 with a time to come back, and keeps its detail out of the answer', () => {
    const e = new GatewayError('B24GW_STORE_FAILED', undefined, { detail: 'disk full at /var/lib/x' });
    expect(e.retryAfter).toBe(1);
    expect(JSON.stringify(e.toJSON())).not.toContain('disk full');
  });
});
