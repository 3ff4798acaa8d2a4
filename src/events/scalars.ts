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
export const str = () => scalar('a string', (v) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined));

/** One or many ids, always a list: Bitrix24 documents both a list and a single string. */
export const idList = () => z.union([z.array(str()), str().transform((s) => [s])]);

/**
 * A list that may be empty: http_build_query leaves an empty array out of the body entirely,
 * so an absent key is an empty list (a message Bitrix24 holds no external id for yet).
 */
export const maybeEmptyIdList = () => idList().optional().transform((v) => v ?? []);

/** A part the docs say "may be absent or empty": PHP sends an empty array, or nothing at all. */
export const absentIfEmpty = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (isEmptyContainer(v) || v === '' ? undefined : v), schema.optional());

const isEmptyContainer = (v: unknown): boolean =>
  (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
