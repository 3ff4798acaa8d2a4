import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { absentIfEmpty, asForm, bool, formObject, int, optionalFormObject, orNull, str, strOrBool } from './scalars.js';

/** The value a schema reads, or the message it refuses the value with. */
const read = (schema: z.ZodType, v: unknown): unknown => {
  const r = schema.safeParse(v);
  return r.success ? r.data : `refused: ${r.error.issues.map((i) => i.message).join('; ')}`;
};

describe('scalars as JSON and form bodies carry them', () => {
  it('an integer: a number or a decimal string; a list of one digit string is no integer', () => {
    expect(read(int(), 7)).toBe(7);
    expect(read(int(), '-12')).toBe(-12);
    expect(read(int(), ['5'])).toBe('refused: expected an integer, got a list');
    expect(read(int(), { a: '5' })).toBe('refused: expected an integer, got an object');
    expect(read(int(), null)).toBe('refused: expected an integer, got null');
    expect(read(int(), true)).toBe('refused: expected an integer, got true');
  });

  it('a refused value is shown whole up to 40 characters, clipped after', () => {
    const forty = 'x'.repeat(38); // 40 with its quotes
    expect(read(int(), forty)).toBe(`refused: expected an integer, got "${forty}"`);
    expect(read(int(), forty + 'y')).toBe(`refused: expected an integer, got "${forty}y…`);
    expect(read(str(), undefined)).toBe('refused: expected a string, got undefined');
    expect(read(str(), '00123')).toBe('00123');
    expect(read(str(), 5)).toBe('5');
  });

  it('a boolean: true/false, "1"/"0", 1/0; nothing else', () => {
    expect([true, '1', 1, false, '0', 0].map((v) => read(bool(), v))).toEqual([true, true, true, false, false, false]);
    expect(read(bool(), 2)).toBe('refused: expected a boolean, got 2');
    expect(read(bool(), 'Y')).toBe('refused: expected a boolean, got "Y"');
  });

  it('a string or a boolean: "1"/"0" are the booleans, other strings kept, a number refused', () => {
    expect([true, '1', false, '0', '2026-01-05'].map((v) => read(strOrBool(), v))).toEqual([
      true,
      true,
      false,
      false,
      '2026-01-05',
    ]);
    expect(read(strOrBool(), 5)).toBe('refused: expected a string or a boolean, got 5');
  });

  it('X|null: null, "" and nothing are not set; a value is read', () => {
    const shape = z.object({ n: orNull(int()) });
    expect(read(shape, { n: '' })).toEqual({});
    expect(read(shape, { n: null })).toEqual({});
    expect(read(shape, {})).toEqual({});
    expect(read(shape, { n: '3' })).toStrictEqual({ n: 3 });
  });

  it('a part that may be absent or empty: [], {} and "" are absent; a value is read', () => {
    const shape = z.object({ p: absentIfEmpty(z.object({ id: int() })) });
    for (const empty of [[], {}, '']) expect(read(shape, { p: empty })).toEqual({});
    expect(read(shape, { p: { id: '4' } })).toStrictEqual({ p: { id: 4 } });
    expect(read(shape, { p: [{ id: '4' }] })).toMatch(/^refused/);
    expect(read(shape, { p: null })).toMatch(/^refused/);
  });

  it('asForm: scalars as a form writes them; nulls and empty parts left out; keys 0..n-1 a list', () => {
    expect(asForm({ a: null, b: 1, c: true, d: false, e: [], f: {}, g: undefined })).toStrictEqual({
      b: '1',
      c: '1',
      d: '0',
    });
    expect(asForm([null, 'x'])).toStrictEqual({ 1: 'x' });
    expect(asForm(['a', { 0: 'b', 1: 'c' }])).toStrictEqual(['a', ['b', 'c']]);
    expect(asForm({})).toBeUndefined();
    expect(asForm(undefined)).toBeUndefined();
  });

  it('an object of arbitrary content: what is no object is refused; empty is {} or absent', () => {
    expect(read(formObject(), 'text')).toBe('refused: expected an object, got "text"');
    expect(read(formObject(), 5)).toBe('refused: expected an object, got 5');
    expect(read(formObject(), undefined)).toEqual({});
    expect(read(formObject(), null)).toEqual({});
    expect(read(formObject(), [])).toEqual({});
    expect(read(formObject(), ['a', 'b'])).toStrictEqual({ 0: 'a', 1: 'b' });
    expect(read(formObject(), { x: 1 })).toStrictEqual({ x: '1' });
    expect(read(optionalFormObject(), {})).toBeUndefined();
    expect(read(optionalFormObject(), true)).toBe('refused: expected an object, got true');
  });
});
