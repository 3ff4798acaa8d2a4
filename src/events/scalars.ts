import { z } from 'zod';

/** Bracket form of a path, as the key appears on the wire: `data[MESSAGES][0][im][chat_id]`. */
export const bracketPath = (path: readonly PropertyKey[]): string =>
  path.map((p, i) => (i === 0 ? String(p) : `[${String(p)}]`)).join('');

const intText = /^-?[0-9]{1,16}$/;

/** A refused value as an error shows it: short, whatever it is. */
const shown = (v: unknown): string => {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'an object';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
};

/**
 * A scalar read in one step. A union of a string and a number schema with a transform
 * behind it is three schemas a value: the five seed events took 23 µs to validate, 5.4–6.5 in one step.
 */
const scalar = <T>(expected: string, read: (v: unknown) => T | undefined) =>
  z.transform((v: unknown, ctx): T => {
    const out = read(v);
    if (out !== undefined) return out;
    ctx.issues.push({ code: 'custom', message: `expected ${expected}, got ${shown(v)}`, input: v });
    return z.NEVER;
  });

/**
 * A documented integer. Form bodies carry every scalar as a string, so a decimal string
 * becomes a number; anything else is an error, never a silent 0 or NaN.
 */
export const int = () =>
  scalar('an integer', (v) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && intText.test(v) ? Number(v) : NaN;
    return Number.isSafeInteger(n) ? n : undefined;
  });

/** A documented string. Kept exactly as sent ("00123" stays "00123"); a JSON number is written out. */
export const str = () =>
  scalar('a string', (v) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined));

/** One or many ids, always a list: Bitrix24 documents both a list and a single string. */
export const idList = () => z.union([z.array(str()), str().transform((s) => [s])]);

/**
 * A list that may be empty: http_build_query leaves an empty array out of the body entirely,
 * so an absent key is an empty list (a message Bitrix24 holds no external id for yet).
 */
export const maybeEmptyIdList = () =>
  idList()
    .optional()
    .transform((v) => v ?? []);

/** A part the docs say "may be absent or empty": PHP sends an empty array, or nothing at all. */
export const absentIfEmpty = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (isEmptyContainer(v) || v === '' ? undefined : v), schema.optional());

const isEmptyContainer = (v: unknown): boolean =>
  (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

/** A documented boolean: JSON `true`/`false`, or `"1"`/`"0"` as http_build_query writes them. */
export const bool = () =>
  scalar('a boolean', (v) =>
    v === true || v === '1' || v === 1 ? true : v === false || v === '0' || v === 0 ? false : undefined,
  );

/**
 * A documented `string|boolean` (a date, or `false`). http_build_query writes `false` as `"0"` and
 * `true` as `"1"`; no date is either, so those two are the booleans and any other string is kept.
 */
export const strOrBool = () =>
  scalar('a string or a boolean', (v) =>
    typeof v === 'boolean' ? v : v === '0' ? false : v === '1' ? true : typeof v === 'string' ? v : undefined,
  );

/**
 * A documented `X|null`. http_build_query leaves a null out (the docs' type table says `""`): null,
 * an empty string and nothing at all all mean "not set", so the field is left out in either form.
 */
export const orNull = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null || v === '' ? undefined : v), schema.optional());

/** A documented integer list. An empty list is left out of a webhook body: absent is []. */
export const intList = () =>
  z
    .array(int())
    .optional()
    .transform((v) => v ?? []);

export type FormValue = string | FormValue[] | { [key: string]: FormValue };

/**
 * A value of arbitrary shape as a webhook body carries it: every scalar a string (`true` "1",
 * `false` "0"), nulls and empty lists and objects left out, keys 0..n-1 a list. A webhook cannot
 * tell 164 from "164", so the fetch form is read the same way and both give one object.
 */
export function asForm(v: unknown): FormValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v !== 'object') return undefined;
  const out: Record<string, FormValue> = {};
  let n = 0;
  let list = true;
  for (const [key, child] of Object.entries(v)) {
    const value = asForm(child);
    if (value === undefined) continue;
    if (key !== String(n)) list = false;
    out[key] = value;
    n++;
  }
  if (n === 0) return undefined;
  return list ? Object.values(out) : out;
}

/** An object of arbitrary content read as asForm reads it; `empty` stands for one absent or empty. */
const formObjectOr = <E>(empty: () => E) =>
  z.transform((v: unknown, ctx): Record<string, FormValue> | E => {
    if (v !== undefined && v !== null && typeof v !== 'object') {
      ctx.issues.push({ code: 'custom', message: `expected an object, got ${shown(v)}`, input: v });
      return z.NEVER;
    }
    const out = asForm(v);
    if (out === undefined || typeof out === 'string') return empty();
    return Array.isArray(out) ? Object.fromEntries(Object.entries(out)) : out;
  });

/** An object of arbitrary content (`message.params`, `context`); absent or empty is {}. */
export const formObject = () => formObjectOr((): Record<string, FormValue> => ({}));

/** An optional object of arbitrary content (`chat.entityLink`), left out when absent or empty. */
export const optionalFormObject = () => formObjectOr(() => undefined).optional();
