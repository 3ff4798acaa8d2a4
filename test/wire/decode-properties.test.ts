import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { errorCodes, GatewayError } from '../../src/errors.js';
import { httpBuildQuery, phpFloat, urlencode } from '@b24-im-gateway/sandbox';
import { decodeBody } from '../../src/wire/decode.js';
import { decodeForm } from '../../src/wire/form.js';
import { figures } from '../reliability/lib.js';
import { modelDecode } from './php-model.js';

/**
 * Scenario 4a: decodeForm against PHP semantics, by property.
 *  1. round trip: structured key/value sets encoded as http_build_query does, decoded, equal the
 *     original with scalars stringified and empty arrays removed;
 *  2. random bracket keys (raw or percent-encoded, many pairs) against a reference model of
 *     parse_str written from fixtures/parse_str/cases.json — the model itself is first checked
 *     against every applicable case of that file;
 *  3. any string at all: a plain object or a GatewayError with a documented code, never
 *     another exception, never a polluted prototype.
 */

// Lean in npm test; the reliability suite runs it longer (RELIABILITY_PROPERTY_RUNS, 3000 there).
const RUNS = Number(process.env.RELIABILITY_PROPERTY_RUNS ?? 200);
const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 2_147_483_647);
const params = { numRuns: RUNS, seed };
beforeEach(({ onTestFailed }) =>
  onTestFailed(() => console.error(`decode-properties: replay with RELIABILITY_SEED=${seed}`)),
);
const counted: Record<string, number> = {};
const count = (name: string) => (counted[name] = (counted[name] ?? 0) + 1);

const codeOf = (fn: () => unknown): { ok: true; value: unknown } | { ok: false; code: string } => {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof GatewayError) return { ok: false, code: e.code };
    throw e;
  }
};

// ---- 1. round trip ----

type V = null | string | number | boolean | { list: V[] } | { map: [string, V][] };

const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s; // no lone surrogates
const anyText = fc.string({ unit: 'binary', maxLength: 12 }).filter(wellFormed);
const text = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '0',
    '00123',
    '-1',
    '1.5',
    'Y',
    'N',
    '[b]bold[/b]',
    'a&b=c',
    '100%',
    'x+y',
    '€',
    '😀',
    'привет',
    '\u0000',
    '\r\n',
    '__proto__',
  ),
  fc.string({ maxLength: 10 }),
  anyText,
);
const scalar: fc.Arbitrary<V> = fc.oneof(
  { weight: 5, arbitrary: text },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.double({ noNaN: false }) },
);
/** Nested keys survive parse_str unless they hold `]` or NUL, or are empty or one whitespace character (those mean `[]`). */
const nestedKey = fc
  .oneof(
    fc.constantFrom(
      'id',
      'MESSAGES',
      'chat_id',
      'a b',
      'a.b',
      ' x',
      'x ',
      '[',
      'a[b',
      '-1',
      '01',
      '1.5',
      '__proto__',
      'constructor',
      'prototype',
      'hasOwnProperty',
      '%',
      '+',
      '&',
      '=',
    ),
    fc.integer({ min: -5, max: 3000 }).map(String),
    anyText,
  )
  .filter((k) => k !== '' && !k.includes(']') && !k.includes('\0') && !(k.length === 1 && /^[ \t\n\v\f\r]$/.test(k)))
  // Integer keys past --max-index are refused by the gateway (PHP keeps them); that has its own property below.
  .filter((k) => !/^(?:0|-?[1-9][0-9]*)$/.test(k) || Math.abs(Number(k)) <= 2_147_483_647);
/** Top-level names also lose spaces and dots to `_`, leading spaces, and an unmatched `[`. */
const topKey = nestedKey.filter((k) => !/[ .[]/.test(k));

const value: fc.Arbitrary<V> = fc.letrec<{ v: V }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 4 }).map((list) => ({ list })) },
    {
      weight: 1,
      arbitrary: fc
        .uniqueArray(fc.tuple(nestedKey, tie('v')), { maxLength: 4, selector: ([k]) => k })
        .map((map) => ({ map })),
    },
  ),
})).v;
const topLevel = fc.uniqueArray(fc.tuple(topKey, value), { minLength: 0, maxLength: 6, selector: ([k]) => k });

/** The value http_build_query is given: lists as arrays, maps as Maps (their order is PHP's order). */
function toInput(v: V): unknown {
  if (v === null || typeof v !== 'object') return v;
  if ('list' in v) return v.list.map(toInput);
  return new Map(v.map.map(([k, x]) => [k, toInput(x)]));
}

const canonicalInt = /^(?:0|-?[1-9][0-9]*)$/;

/** What parse_str gives back: scalars as strings, nulls and empty arrays gone, 0..n-1 keys in order as a list. */
function expected(v: V): unknown {
  if (v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : phpFloat(v);
  const entries = ('list' in v ? v.list.map((x, i) => [String(i), x] as const) : v.map)
    .map(([k, x]) => [k, expected(x)] as const)
    .filter(([, x]) => x !== undefined);
  if (entries.length === 0) return undefined;
  return container(entries, false);
}

function container(entries: (readonly [string, unknown])[], top: boolean): unknown {
  if (!top && entries.every(([k], i) => k === String(i))) return entries.map(([, x]) => x);
  const out: Record<string, unknown> = {};
  // PHP turns canonical integer strings into integer keys: "05" and "5" stay two keys, as in JS.
  for (const [k, x] of entries)
    Object.defineProperty(out, canonicalInt.test(k) ? String(Number(k)) : k, {
      value: x,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/** Whether any key or string holds U+0000, which the gateway refuses in both formats. */
const hasNul = (v: unknown): boolean =>
  typeof v === 'string'
    ? v.includes('\0')
    : typeof v === 'object' && v !== null && Object.entries(v).some(([k, x]) => k.includes('\0') || hasNul(x));

/** A second, independent encoder for what needs no float formatting, to cross-check the sandbox's. */
function tinyEncoder(entries: [string, V][]): string | undefined {
  const parts: string[] = [];
  const enc = (s: string) =>
    [...Buffer.from(s, 'utf8')]
      .map((b) =>
        /[A-Za-z0-9_.-]/.test(String.fromCharCode(b)) && b < 0x80
          ? String.fromCharCode(b)
          : b === 0x20
            ? '+'
            : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
      )
      .join('');
  let hasFloat = false;
  const walk = (name: string, v: V): void => {
    if (v === null) return;
    if (typeof v === 'object') {
      const kids: [string, V][] = 'list' in v ? v.list.map((x, i) => [String(i), x]) : v.map;
      for (const [k, x] of kids) walk(`${name}%5B${enc(k)}%5D`, x);
    } else if (typeof v === 'number' && !Number.isSafeInteger(v)) hasFloat = true;
    else parts.push(`${name}=${enc(typeof v === 'boolean' ? (v ? '1' : '0') : String(v))}`);
  };
  for (const [k, v] of entries) walk(enc(k), v);
  return hasFloat ? undefined : parts.join('&');
}

describe('decodeForm: http_build_query round trip', () => {
  it('structured key/value sets come back with scalars as strings and empty arrays removed', () => {
    fc.assert(
      fc.property(topLevel, (entries) => {
        const body = httpBuildQuery(new Map(entries.map(([k, v]) => [k, toInput(v)])));
        const tiny = tinyEncoder(entries);
        if (tiny !== undefined) expect(body).toBe(tiny);
        const want = container(
          entries.map(([k, v]) => [k, expected(v)] as const).filter(([, x]) => x !== undefined),
          true,
        );
        if (hasNul(want)) expect(codeOf(() => decodeForm(body))).toEqual({ ok: false, code: 'B24GW_NUL_BYTE' });
        else expect(decodeForm(body)).toEqual(want);
        count('round-trip');
      }),
      params,
    );
  });

  it('the JSON body of the same value decodes to it unchanged (__proto__ and constructor keys included)', () => {
    fc.assert(
      fc.property(topLevel, (entries) => {
        const obj = container(
          entries.map(([k, v]) => [k, expected(v)] as const).filter(([, x]) => x !== undefined),
          true,
        );
        if (hasNul(obj))
          expect(codeOf(() => decodeBody(JSON.stringify(obj), 'json'))).toEqual({ ok: false, code: 'B24GW_NUL_BYTE' });
        else expect(decodeBody(JSON.stringify(obj), 'json')).toEqual(obj);
        count('json');
      }),
      { ...params, numRuns: Math.min(RUNS, 500) },
    );
  });
});

// ---- 2. random bracket keys against the reference model ----

interface PhpCase {
  name: string;
  input: string;
  output: unknown;
  warnings?: string[];
}

describe('decodeForm: random bracket keys against a reference model of parse_str', () => {
  it('the model reproduces every fixtures/parse_str case it claims to cover', () => {
    const cases = JSON.parse(
      readFileSync(new URL('../../fixtures/parse_str/cases.json', import.meta.url), 'utf8'),
    ) as (PhpCase & { invalid_utf8?: boolean })[];
    let checked = 0;
    const mismatches: string[] = [];
    for (const c of cases) {
      if (c.warnings) continue; // PHP's own limits, which the model leaves out
      const got = modelDecode(c.input, Number.MAX_SAFE_INTEGER);
      if (!got.ok && got.code === 'B24GW_INDEX_TOO_LARGE') continue; // past 2^53: PHP int keys the model cannot hold as numbers
      if (!got.ok && got.code === 'B24GW_NUL_BYTE') continue; // the gateway's refusal, checked by src/wire/form.test.ts
      checked++;
      if (c.invalid_utf8) {
        if (got.ok || got.code !== 'B24GW_INVALID_UTF8') mismatches.push(c.name);
        continue;
      }
      const want = Array.isArray(c.output) ? Object.assign({}, c.output) : c.output;
      try {
        expect(got.ok && got.value).toEqual(want);
      } catch {
        mismatches.push(c.name);
      }
    }
    figures('decode-model-vs-php', { cases: cases.length, checked, mismatches: mismatches.length });
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(180);
  });

  /** Name pieces that exercise every rule of the model. */
  const piece = fc.constantFrom(
    'a',
    'b',
    'x',
    'A',
    '0',
    '1',
    '-1',
    '01',
    '7',
    '2147483648',
    ' ',
    '.',
    '[',
    ']',
    '[]',
    '[0]',
    '[1]',
    '[a]',
    '[b]',
    '[ ]',
    '[\t]',
    '[-1]',
    '[ 1]',
    '[[',
    ']]',
    '_',
    '\0',
    '__proto__',
    'constructor',
    '[__proto__]',
    '[prototype]',
    'é',
    '€',
  );
  const rawName = fc.array(piece, { minLength: 1, maxLength: 10 }).map((p) => p.join(''));
  /** Writes a name: each character raw when it can be, else (or by chance) percent-encoded; a space as `+` or `%20`. */
  const written = (name: string, choices: boolean[]) =>
    [...name]
      .map((ch, i) => {
        const encode = choices[i % choices.length] ?? false;
        if (ch === ' ') return encode ? '%20' : '+';
        if (/[&=%+#\0]/.test(ch) || ch.charCodeAt(0) > 0x7e || encode) return urlencode(ch);
        return ch;
      })
      .join('');
  const pair = fc.tuple(
    rawName,
    fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
    fc.option(text, { nil: undefined }),
    fc.boolean(),
  );
  const body = fc
    .array(pair, { minLength: 1, maxLength: 6 })
    .map((pairs) =>
      pairs
        .map(
          ([name, choices, v, emptySegment]) =>
            `${emptySegment ? '&' : ''}${written(name, choices)}${v === undefined ? '' : `=${urlencode(v)}`}`,
        )
        .join('&'),
    );

  it('bodies of random bracket keys decode exactly as the model says (or are refused where it says)', () => {
    fc.assert(
      fc.property(body, (b) => {
        const want = modelDecode(b);
        const got = codeOf(() => decodeForm(b));
        expect(got).toEqual(want);
        count(want.ok ? 'model-decoded' : 'model-refused');
      }),
      { ...params, numRuns: RUNS * 2 },
    );
  });

  it('percent-encoding any character of a name changes nothing', () => {
    fc.assert(
      fc.property(rawName, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (name, choices) => {
        const plain = codeOf(() => decodeForm(`${written(name, [false])}=v`));
        const mixed = codeOf(() => decodeForm(`${written(name, choices)}=v`));
        const all = codeOf(() => decodeForm(`${urlencode(name)}=v`));
        expect(mixed).toEqual(plain);
        expect(all).toEqual(plain);
        count('percent-invariance');
      }),
      params,
    );
  });
});

// ---- 3. anything at all ----

describe('decodeForm: hostile strings', () => {
  const hostile = fc.oneof(
    fc.string({
      unit: fc.constantFrom(
        'a',
        '[',
        ']',
        '=',
        '&',
        '%',
        '+',
        ' ',
        '.',
        '0',
        '9',
        '_',
        '\0',
        '%5B',
        '%5D',
        '%ff',
        '%00',
        '%e2%82',
        '__proto__',
        'constructor',
        'prototype',
      ),
      maxLength: 80,
    }),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ maxLength: 200 }),
  );
  it('gives a plain object or a documented GatewayError, and pollutes no prototype', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const got = codeOf(() => decodeForm(s));
        if (got.ok) {
          expect(typeof got.value).toBe('object');
          expect(Object.getPrototypeOf(got.value)).toBe(Object.prototype);
          count('hostile-decoded');
        } else {
          expect(Object.keys(errorCodes)).toContain(got.code);
          count(`hostile-${got.code}`);
        }
        expect(({} as Record<string, unknown>).x).toBeUndefined();
        expect(Object.getOwnPropertyNames(Object.prototype).length).toBe(protoNames);
      }),
      { ...params, numRuns: RUNS * 3 },
    );
    figures('decode-properties', { seed, ...counted });
  });
});
const protoNames = Object.getOwnPropertyNames(Object.prototype).length;
