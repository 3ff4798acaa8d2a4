import { GatewayError } from '../errors.js';
import type { DecodeLimits } from './limits.js';
import { percentDecode } from './percent.js';
import { phpKey, type PhpKey } from './php-table.js';
import { secretNames } from './redact.js';

/** A parameter name read once: where its value goes, as PHP would put it. */
export interface ParsedName {
  /** The decoded name, for errors. */
  name: string;
  base: PhpKey;
  /** Keys after the base; `null` is `[]` (append). */
  path: (PhpKey | null)[];
  /** The value is a secret (`auth[access_token]`, `data[BOT][571][AUTH][refresh_token]`). */
  secret: boolean;
  /** The largest numeric key, in absolute value: a cached name is reused only under limits it meets. */
  maxIndex: number;
}

/**
 * Bitrix24 sends the same few dozen names in every event, so each raw name is read once
 * and kept (a profile showed name decoding as a third of the decoder's time). Bounded:
 * long names are not kept, and the cache starts over when full.
 */
const cache = new Map<string, ParsedName>();
const cacheSize = 4096;
const cacheableLength = 256;

/** The name of a pair, from its raw (still percent-encoded) text, or undefined when PHP would skip the pair. */
export function readName(raw: string, limits: DecodeLimits): ParsedName | undefined {
  const hit = cache.get(raw);
  if (hit && hit.path.length <= limits.maxDepth && hit.maxIndex <= limits.maxIndex) return hit;
  const parsed = parseName(raw, limits);
  if (parsed && raw.length <= cacheableLength) {
    if (cache.size >= cacheSize) cache.clear();
    cache.set(raw, parsed);
  }
  return parsed;
}

/** PHP's php_register_variable_ex name rules, including its handling of malformed brackets. */
function parseName(raw: string, limits: DecodeLimits): ParsedName | undefined {
  // A NUL, which PHP would take as the end of the name, never gets here: decodeForm refuses it.
  const name = percentDecode(raw, 'name');
  let s = 0;
  while (name.charCodeAt(s) === 32) s++; // leading spaces are ignored
  let open = name.indexOf('[', s);
  if (open < 0) open = name.length;
  let base = name.slice(s, open).replace(/[ .]/g, '_');
  if (base.length === 0) return undefined; // PHP skips a pair with no name
  const path: (string | null)[] = [];
  let ip = open;
  while (ip < name.length) {
    if (path.length >= limits.maxDepth) {
      throw new GatewayError('B24GW_TOO_DEEP', `Parameter "${name}" nests deeper than ${limits.maxDepth} levels`, {
        path: name,
      });
    }
    const indexStart = ip + 1;
    let p = indexStart;
    if (isCSpace(name.charCodeAt(p))) p++; // one C isspace() char before `]` still means `[]`
    if (name.charCodeAt(p) === 93 /* ] */) {
      path.push(null);
      ip = p + 1;
    } else {
      const close = name.indexOf(']', p);
      if (close < 0) {
        // An unclosed first bracket makes it part of a plain name; a later one is dropped.
        if (path.length === 0) base = `${base}_${name.slice(indexStart).replace(/[ .[]/g, '_')}`;
        break;
      }
      path.push(name.slice(indexStart, close));
      ip = close + 1;
    }
    if (name.charCodeAt(ip) !== 91 /* [ */) break; // anything after the last `]` is ignored
  }
  const last = path.length > 0 ? path[path.length - 1] : base;
  const keys = [base, ...path].map((k) => (k === null ? null : phpKey(k, limits.maxIndex, name)));
  return {
    name,
    base: keys[0]!,
    path: keys.slice(1),
    secret: typeof last === 'string' && secretNames.has(last),
    maxIndex: keys.reduce<number>((m, k) => (typeof k === 'number' ? Math.max(m, Math.abs(k)) : m), 0),
  };
}

const isCSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
