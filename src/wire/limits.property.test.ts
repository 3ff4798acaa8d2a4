import fc from 'fast-check';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { GatewayError } from '../errors.js';
import { decodeBody, type BodyFormat } from './decode.js';
import { defaultLimits, type DecodeLimits } from './limits.js';

/*
 * The decoder's limits, by property: bodies generated around each limit (under it, at it, just
 * past it), in both formats, under small random limits and the defaults. A body is refused with
 * the limit's own code exactly when it passes that limit, and otherwise decodes to what it says.
 * PROPERTY_SEED replays a run (the seed is printed when one fails); PROPERTY_RUNS sets its length.
 */

const seed = Number(process.env.PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const numRuns = Number(process.env.PROPERTY_RUNS ?? 400);
const reached: Record<string, number> = {};

type Stress = 'depth' | 'params' | 'index' | 'append' | 'bytes';
interface Case {
  format: BodyFormat;
  limits: DecodeLimits;
  stress: Stress;
  /** How far past the limit the body goes: -2..-1 under it, 0 at it, 1..2 past it. */
  over: number;
  negative: boolean;
}

const small: fc.Arbitrary<DecodeLimits> = fc.record({
  maxBodyBytes: fc.integer({ min: 40, max: 400 }),
  maxParams: fc.integer({ min: 1, max: 40 }),
  maxDepth: fc.integer({ min: 1, max: 6 }),
  maxIndex: fc.integer({ min: 0, max: 30 }),
});
const caseOf: fc.Arbitrary<Case> = fc
  .record({
    format: fc.constantFrom<BodyFormat>('form', 'json'),
    limits: fc.oneof({ weight: 4, arbitrary: small }, { weight: 1, arbitrary: fc.constant({ ...defaultLimits }) }),
    stress: fc.constantFrom<Stress>('depth', 'params', 'index', 'append', 'bytes'),
    over: fc.integer({ min: -2, max: 2 }),
    negative: fc.boolean(),
  })
  // One limit at a time: the byte limit stays out of the way of the others.
  .map((c) => (c.stress === 'bytes' ? c : { ...c, limits: { ...c.limits, maxBodyBytes: defaultLimits.maxBodyBytes } }));

const codes: Record<Stress, string> = {
  depth: 'B24GW_TOO_DEEP',
  params: 'B24GW_TOO_MANY_PARAMS',
  index: 'B24GW_INDEX_TOO_LARGE',
  append: 'B24GW_INDEX_TOO_LARGE',
  bytes: 'B24GW_BODY_TOO_LARGE',
};

/** A body of the case, whether it must be refused, and what it must decode to otherwise. */
function build(c: Case): { body: string; refused: boolean; expected?: Record<string, unknown> } | undefined {
  const { limits, over, format } = c;
  switch (c.stress) {
    case 'depth': {
      // Form: a name with d bracketed keys; JSON: objects d levels below the top one.
      const d = limits.maxDepth + over;
      if (d < 0) return undefined;
      const keys = Array.from({ length: d }, (_, i) => `k${i}`);
      let expected: unknown = 'v';
      for (const k of [...keys].reverse()) expected = { [k]: expected };
      return {
        body: format === 'form' ? `a${keys.map((k) => `[${k}]`).join('')}=v` : JSON.stringify({ a: expected }),
        refused: d > limits.maxDepth,
        expected: { a: expected },
      };
    }
    case 'params': {
      const n = limits.maxParams + over;
      if (n < 1) return undefined;
      const expected = Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, String(i)]));
      // Empty pairs (`&&`) are no parameters.
      const body =
        format === 'form'
          ? `&${Object.entries(expected)
              .map(([k, v]) => `${k}=${v}`)
              .join('&&')}&`
          : JSON.stringify(expected);
      return { body, refused: n > limits.maxParams, expected };
    }
    case 'index': {
      if (format === 'json') return undefined; // a JSON list's length is the append case
      const i = (limits.maxIndex + over) * (c.negative ? -1 : 1);
      if (limits.maxIndex + over < 0 || limits.maxDepth < 1) return undefined;
      return {
        body: `x[${i}]=v`,
        refused: Math.abs(i) > limits.maxIndex,
        expected: { x: i === 0 ? ['v'] : { [i]: 'v' } },
      };
    }
    case 'append': {
      // Items appended at 0, 1, …: the last one's position is the index checked.
      const n = limits.maxIndex + 1 + over;
      if (n < 1 || n > limits.maxParams || limits.maxDepth < 1) return undefined;
      const items = Array.from({ length: n }, (_, i) => `v${i}`);
      return {
        body: format === 'form' ? items.map((v) => `x[]=${v}`).join('&') : JSON.stringify({ x: items }),
        refused: n - 1 > limits.maxIndex,
        expected: { x: items },
      };
    }
    case 'bytes': {
      if (limits.maxBodyBytes > 1_000_000) return undefined;
      const bytes = limits.maxBodyBytes + over;
      // Filled with a two-byte character where it fits, so bytes, not characters, are counted.
      const frame = format === 'form' ? 'a=' : '{"a":""}';
      const room = bytes - frame.length;
      if (room < 0) return undefined;
      const fill = 'é'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2);
      const body = format === 'form' ? `a=${fill}` : `{"a":"${fill}"}`;
      return { body, refused: bytes > limits.maxBodyBytes, expected: { a: fill } };
    }
  }
}

describe('the decoder at its limits', () => {
  afterAll(() => console.log(`limits.property: seed ${seed}, refusals reached ${JSON.stringify(reached)}`));

  it('refuses a body with the limit’s own code exactly when it passes the limit, and decodes it otherwise', () => {
    onTestFailed(() => console.error(`limits.property: replay with PROPERTY_SEED=${seed}`));
    fc.assert(
      fc.property(caseOf, (c) => {
        const made = build(c);
        if (!made) return;
        // As bytes or as text: both are measured in UTF-8 bytes.
        const input = c.negative ? Buffer.from(made.body) : made.body;
        let got: unknown;
        try {
          got = decodeBody(input, c.format, c.limits);
        } catch (e) {
          if (!(e instanceof GatewayError)) throw e;
          expect([c.stress, made.refused, e.code]).toEqual([c.stress, true, codes[c.stress]]);
          reached[`${c.format} ${e.code}`] = (reached[`${c.format} ${e.code}`] ?? 0) + 1;
          return;
        }
        expect([c.stress, made.refused]).toEqual([c.stress, false]);
        expect(got).toEqual(made.expected);
      }),
      { numRuns, seed },
    );
    // Each limit was reached, in both formats (an index in JSON is a list's length).
    for (const key of [
      'form B24GW_TOO_DEEP',
      'json B24GW_TOO_DEEP',
      'form B24GW_TOO_MANY_PARAMS',
      'json B24GW_TOO_MANY_PARAMS',
      'form B24GW_INDEX_TOO_LARGE',
      'json B24GW_INDEX_TOO_LARGE',
      'form B24GW_BODY_TOO_LARGE',
      'json B24GW_BODY_TOO_LARGE',
    ])
      expect(reached[key] ?? 0, key).toBeGreaterThan(0);
  });
});
