import { GatewayError } from '../errors.js';
import { defaultLimits, type DecodeLimits } from './limits.js';
import { percentDecode } from './percent.js';
import { toPlain, type PhpKey, PhpTable, type PhpValue } from './php-table.js';
import { secretNames } from './redact.js';
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
  let name = percentDecode(body.slice(start, hasValue ? eq : end), 'name');
  const value = hasValue ? percentDecode(body.slice(eq + 1, end), name) : '';
  // PHP reads names as C strings: a decoded NUL ends the name.
  const nul = name.indexOf('\0');
  if (nul >= 0) name = name.slice(0, nul);
  const target = parseName(name, limits.maxDepth);
  if (!target) return;
  assign(root, target, value, name, limits.maxIndex);
  if (secrets && hasValue) {
    const key = target.path.length > 0 ? target.path[target.path.length - 1] : target.base;
    if (key && secretNames.has(key)) secrets.push(eq + 1, end);
  }
}

interface Target {
  base: string;
  /** Bracket indexes after the base name; `null` is `[]` (append). */
  path: (string | null)[];
}

/** PHP's php_register_variable_ex name rules, including its handling of malformed brackets. */
function parseName(raw: string, maxDepth: number): Target | undefined {
  let s = 0;
  while (raw.charCodeAt(s) === 32) s++; // leading spaces are ignored
  let open = raw.indexOf('[', s);
  if (open < 0) open = raw.length;
  const base = raw.slice(s, open).replace(/[ .]/g, '_');
  if (base.length === 0) return undefined; // PHP skips a pair with no name
  const path: (string | null)[] = [];
  let ip = open;
  while (ip < raw.length) {
    if (path.length >= maxDepth) {
      throw new GatewayError('B24GW_TOO_DEEP', `Parameter "${raw}" nests deeper than ${maxDepth} levels`, { path: raw });
    }
    const indexStart = ip + 1;
    let p = indexStart;
    if (isCSpace(raw.charCodeAt(p))) p++; // one C isspace() char before `]` still means `[]`
    if (raw.charCodeAt(p) === 93 /* ] */) {
      path.push(null);
      ip = p + 1;
    } else {
      const close = raw.indexOf(']', p);
      if (close < 0) {
        // An unclosed first bracket makes it part of a plain name; a later one is dropped.
        if (path.length === 0) return { base: `${base}_${raw.slice(indexStart).replace(/[ .[]/g, '_')}`, path };
        return { base, path };
      }
      path.push(raw.slice(indexStart, close));
      ip = close + 1;
    }
    if (raw.charCodeAt(ip) !== 91 /* [ */) break; // anything after the last `]` is ignored
  }
  return { base, path };
}

function assign(root: PhpTable, target: Target, value: string, name: string, maxIndex: number): void {
  let table = root;
  let key: PhpKey | null = table.key(target.base, maxIndex, name);
  for (const index of target.path) {
    table = table.descend(key, maxIndex, name);
    key = index === null ? null : table.key(index, maxIndex, name);
  }
  table.put(key, value satisfies PhpValue, maxIndex, name);
}

const isCSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
