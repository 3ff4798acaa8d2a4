import { GatewayError } from '../errors.js';
import { defaultLimits, type DecodeLimits } from './limits.js';
import { nulByte, percentDecode } from './percent.js';
import { toPlain, type PhpKey, PhpTable, type PhpValue } from './php-table.js';
import { readName } from './names.js';
import type { WireObject } from './types.js';

/**
 * Decodes an `application/x-www-form-urlencoded` body exactly as PHP's `parse_str` does
 * (the reverse of the `http_build_query` Bitrix24 uses), then renders it as
 * `json_encode` would: tables keyed 0..n-1 in order become lists, others objects.
 *
 * Unlike PHP it refuses what it cannot hold instead of dropping it: too many pairs,
 * too deep, an index past the limit, invalid UTF-8, a NUL anywhere (PHP cuts a name at one
 * and keeps one in a value; no text column of PostgreSQL holds one, and Bitrix24 never sends one).
 */
export function decodeForm(body: string, limits: DecodeLimits = defaultLimits, secrets?: number[]): WireObject {
  // A raw NUL is found here in one scan of the body; a `%00` by percentDecode, in the values that hold a `%`.
  const nul = body.indexOf('\0');
  if (nul >= 0) throw nulError(body, nul);
  const root = new PhpTable();
  let pairs = 0;
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf('&', start);
    if (end < 0) end = body.length;
    if (end > start) {
      if (++pairs > limits.maxParams) {
        throw new GatewayError('B24GW_TOO_MANY_PARAMS', `Body has more than ${limits.maxParams} parameters`);
      }
      addPair(root, body, start, end, limits, secrets);
    }
    start = end + 1;
  }
  return toPlain(root, true) as WireObject;
}

/**
 * `secrets`, when given, collects the [start, end) of every value stored under a secret name
 * (`auth[access_token]`, `data[BOT][571][AUTH][refresh_token]`), so the raw body can be
 * redacted without a second pass.
 */
function addPair(
  root: PhpTable,
  body: string,
  start: number,
  end: number,
  limits: DecodeLimits,
  secrets?: number[],
): void {
  // Look for `=` within this pair only: a body of `a&a&…` must not rescan the rest each time.
  let eq = start;
  while (eq < end && body.charCodeAt(eq) !== 61) eq++;
  const hasValue = eq < end;
  const target = readName(body.slice(start, hasValue ? eq : end), limits);
  if (!target) return;
  const value = hasValue ? percentDecode(body.slice(eq + 1, end), target.name) : '';
  let table = root;
  let key: PhpKey | null = target.base;
  for (const next of target.path) {
    table = table.descend(key, limits.maxIndex, target.name);
    key = next;
  }
  table.put(key, value satisfies PhpValue, limits.maxIndex, target.name);
  if (secrets && hasValue && target.secret) secrets.push(eq + 1, end);
}

/** The refusal of a body with a raw NUL at `at`, naming the pair that holds it. */
function nulError(body: string, at: number): GatewayError {
  const start = body.lastIndexOf('&', at) + 1;
  const amp = body.indexOf('&', at);
  const end = amp < 0 ? body.length : amp;
  const eq = body.indexOf('=', start);
  const nameEnd = eq < 0 || eq > end ? end : eq;
  let name: string;
  try {
    name = percentDecode(body.slice(start, nameEnd), 'name');
  } catch (e) {
    // The name holds the NUL itself (or a `%00` first): percentDecode's own refusal names it.
    if (e instanceof GatewayError && e.code === 'B24GW_NUL_BYTE') return e;
    name = body.slice(start, nameEnd);
  }
  return nulByte(at < nameEnd ? 'name' : name, name);
}
