import { GatewayError } from '../errors.js';
import { defaultLimits, type DecodeLimits } from './limits.js';
import { percentDecode } from './percent.js';
import { toPlain, type PhpKey, PhpTable, type PhpValue } from './php-table.js';
import { readName } from './names.js';
import type { WireObject } from './types.js';

/**
 * Decodes an `application/x-www-form-urlencoded` body exactly as PHP's `parse_str` does
 * (the reverse of the `http_build_query` Bitrix24 uses), then renders it as
 * `json_encode` would: tables keyed 0..n-1 in order become lists, others objects.
 *
 * Unlike PHP it refuses what it cannot hold instead of dropping it: too many pairs,
 * too deep, an index past the limit, invalid UTF-8.
 */
export function decodeForm(body: string, limits: DecodeLimits = defaultLimits, secrets?: number[]): WireObject {
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
function addPair(root: PhpTable, body: string, start: number, end: number, limits: DecodeLimits, secrets?: number[]): void {
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
