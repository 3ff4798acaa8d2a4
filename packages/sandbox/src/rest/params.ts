import { nullOrEmpty, argumentError } from './answer.js';

export type Params = Record<string, unknown>;

export const isObject = (v: unknown): v is Params => typeof v === 'object' && v !== null && !Array.isArray(v);

/** PHP's empty(): what Bitrix24 means by "null or empty". */
export function phpEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '' || v === '0') return true;
  if (Array.isArray(v)) return v.length === 0;
  return isObject(v) && Object.keys(v).length === 0;
}

/**
 * A PHP list: a JS array, or an object keyed exactly 0..n-1 in order (what a form body
 * or a JSON object with numeric keys gives). Anything else is not a list.
 */
export function asList(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v as unknown[];
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  return keys.every((k, i) => k === String(i)) ? Object.values(v as Record<string, unknown>) : undefined;
}

/** An integer id: a JS integer or a decimal string of one. */
export function asInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

/** A string parameter; numbers are accepted as PHP would cast them. */
export function asString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return undefined;
}

/** Top-level keys upper-cased, as Bitrix24's REST server reads method parameters. */
export function upperKeys(params: Params): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries(params)) out[k.toUpperCase()] = v;
  return out;
}

/** A required non-empty string argument. */
export function requireString(params: Params, name: string): string {
  const v = params[name];
  if (phpEmpty(v)) throw nullOrEmpty(name);
  const s = asString(v);
  if (s === undefined) throw argumentError(`The value of an argument '${name}' must be of type string`);
  return s;
}

/** A required positive integer argument (LINE and the like). */
export function requireInt(params: Params, name: string): number {
  const v = params[name];
  if (phpEmpty(v)) throw nullOrEmpty(name);
  const n = asInt(v);
  if (n === undefined || n <= 0) throw argumentError(`The value of an argument '${name}' must be of type integer`);
  return n;
}
