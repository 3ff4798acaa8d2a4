import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.js';
import { decodeForm } from './form.js';
import { defaultLimits } from './limits.js';

interface PhpCase {
  name: string;
  input: string;
  output: unknown;
  invalid_utf8?: boolean;
  warnings?: string[];
}

const cases = JSON.parse(
  readFileSync(new URL('../../fixtures/parse_str/cases.json', import.meta.url), 'utf8'),
) as PhpCase[];
// PHP's own limits, so the ground truth and the decoder agree on what is too much.
const phpLimits = { ...defaultLimits, maxDepth: 64, maxParams: 1000, maxIndex: Number.MAX_SAFE_INTEGER };

// PHP takes these as 64-bit integer keys; the decoder refuses integer keys past maxIndex.
const refusedIndexes = new Set([
  'PHP_INT_MAX index then append',
  'PHP_INT_MIN index then append',
  'PHP_INT_MAX-1 index then appends',
  'around 64-bit limits',
  'top-level 64-bit limits',
]);

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof GatewayError) return e.code;
    throw e;
  }
  return undefined;
};

describe('decodeForm matches PHP parse_str', () => {
  for (const c of cases) {
    it(c.name, () => {
      const decode = () => decodeForm(c.input, phpLimits);
      if (c.invalid_utf8) return expect(codeOf(decode)).toBe('B24GW_INVALID_UTF8');
      // PHP cuts a name at a NUL and keeps one in a value; the decoder refuses both.
      if (c.input.includes('%00')) return expect(codeOf(decode)).toBe('B24GW_NUL_BYTE');
      // Where PHP drops data past a limit, the decoder refuses the body instead.
      if (c.warnings?.some((w) => w.includes('nesting level'))) return expect(codeOf(decode)).toBe('B24GW_TOO_DEEP');
      if (c.warnings?.some((w) => w.includes('Input variables exceeded')))
        return expect(codeOf(decode)).toBe('B24GW_TOO_MANY_PARAMS');
      if (refusedIndexes.has(c.name)) return expect(codeOf(decode)).toBe('B24GW_INDEX_TOO_LARGE');
      // The top level is always an object of parameters, even when PHP's keys are 0..n-1.
      const expected = Array.isArray(c.output) ? Object.assign({}, c.output) : c.output;
      expect(decode()).toEqual(expected);
    });
  }
});
