import { SandboxError } from '../errors.js';
import { PhpArray, phpKey, toJsonValue, type PhpKey } from './array.js';

/**
 * The sandbox's own reading of what a Bitrix24 portal receives, written from PHP's C sources
 * (main/php_variables.c) and checked against PHP 8.2's answers in fixtures/parse_str. It shares
 * nothing with the gateway's decoder, so a bug there shows up in tests against the sandbox.
 */

export interface PhpInputLimits {
  /** max_input_vars: pairs past it are dropped with a warning. */
  maxInputVars: number;
  /** max_input_nesting_level: a name nesting deeper is dropped, and so is what its base name held. */
  maxNestingLevel: number;
}

/** php.ini's defaults. */
export const phpDefaultLimits: Readonly<PhpInputLimits> = Object.freeze({ maxInputVars: 1000, maxNestingLevel: 64 });

export interface ParsedStr {
  array: PhpArray;
  /** The warnings PHP would raise (without its "parse_str(): " prefix); the data they name is dropped. */
  warnings: string[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const hexValue = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;

/**
 * PHP's urldecode: `+` is a space, `%` and two hex digits a byte, any other `%` itself. PHP keeps
 * whatever bytes come out; a JS string cannot hold bytes that are not UTF-8, so those are refused.
 */
export function urldecode(s: string): string {
  const spaced = s.includes('+') ? s.replaceAll('+', ' ') : s;
  if (!spaced.includes('%')) return spaced;
  const bytes = Buffer.from(spaced, 'utf8');
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hi = bytes[i] === 0x25 && i + 2 < bytes.length ? hexValue(bytes[i + 1]!) : -1;
    const lo = hi >= 0 ? hexValue(bytes[i + 2]!) : -1;
    if (lo >= 0) {
      bytes[n++] = hi * 16 + lo;
      i += 2;
    } else bytes[n++] = bytes[i]!;
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    throw new SandboxError(
      'B24SB_INVALID_UTF8',
      `"${s.length > 60 ? `${s.slice(0, 60)}…` : s}" is not valid UTF-8 once percent-decoded`,
    );
  }
}

/** C's isspace(). */
const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';

/**
 * PHP's `parse_str($input, $result)`: the query string or form body split at `&` (empty pieces
 * skipped), each name and value url-decoded, then stored with php_register_variable_ex's rules.
 */
export function parseStr(input: string, limits: PhpInputLimits = phpDefaultLimits): ParsedStr {
  const array = new PhpArray();
  const warnings: string[] = [];
  // PHP hands the input on as a C string: a raw NUL ends it.
  const end = input.indexOf('\0');
  const text = end < 0 ? input : input.slice(0, end);
  let count = 0;
  for (const piece of text.split('&')) {
    if (piece === '') continue;
    if (++count > limits.maxInputVars) {
      warnings.push(
        `Input variables exceeded ${limits.maxInputVars}. To increase the limit change max_input_vars in php.ini.`,
      );
      break;
    }
    const eq = piece.indexOf('=');
    const name = urldecode(eq < 0 ? piece : piece.slice(0, eq));
    const value = eq < 0 ? '' : urldecode(piece.slice(eq + 1));
    // The name is a C string too: it ends at a NUL, while a value keeps one.
    const nul = name.indexOf('\0');
    register(array, nul < 0 ? name : name.slice(0, nul), value, limits, warnings);
  }
  return { array, warnings };
}

/** php_register_variable_ex: where `name` puts `value` in `root`. */
function register(root: PhpArray, rawName: string, value: string, limits: PhpInputLimits, warnings: string[]): void {
  let at = 0;
  while (rawName[at] === ' ') at++;
  const name = rawName.slice(at);
  // Up to the first `[`, spaces and dots become underscores.
  let open = name.indexOf('[');
  if (open < 0) open = name.length;
  const base = name.slice(0, open).replace(/[ .]/g, '_');
  if (base === '') return;
  if (open === name.length) {
    root.set(phpKey(base), value);
    return;
  }

  let table = root;
  // The key the next level goes under; null is `[]` (append).
  let key: string | null = base;
  let pos = open;
  for (let level = 1; ; level++) {
    if (level > limits.maxNestingLevel) {
      root.delete(phpKey(base));
      warnings.push(
        `Input variable nesting level exceeded ${limits.maxNestingLevel}. To increase the limit change max_input_nesting_level in php.ini.`,
      );
      return;
    }
    const start = pos + 1;
    let p = start;
    if (isSpace(name[p])) p++;
    let next: string | null;
    if (name[p] === ']') {
      next = null;
      pos = p;
    } else {
      const close = name.indexOf(']', p);
      if (close < 0) {
        // An unclosed bracket is no index: at the first level it joins the name (mangled), later the rest is dropped.
        if (level === 1) key = `${base}_${name.slice(start).replace(/[ .[]/g, '_')}`;
        break;
      }
      next = name.slice(start, close);
      pos = close;
    }
    const child = descend(table, key);
    if (!child) return;
    table = child;
    key = next;
    if (name[pos + 1] !== '[') break; // whatever follows the last `]` is ignored
    pos += 1;
  }
  if (key === null) table.append(value);
  else table.set(phpKey(key), value);
}

/** The array under `key` (null: a new one appended), made or replacing a scalar in place when needed. */
function descend(table: PhpArray, key: string | null): PhpArray | undefined {
  if (key === null) {
    const child = new PhpArray();
    return table.append(child) ? child : undefined;
  }
  const k: PhpKey = phpKey(key);
  const existing = table.get(k);
  if (existing instanceof PhpArray) return existing;
  const child = new PhpArray();
  table.set(k, child);
  return child;
}

/** Parameters as a PHP script sees them in `$_REQUEST`-like form: always an object at the top. */
export type Params = Record<string, unknown>;

/** A form body or query string as Bitrix24's PHP reads it, as an object of parameters. */
export function decodeForm(input: string, limits?: PhpInputLimits): { params: Params; warnings: string[] } {
  const { array, warnings } = parseStr(input, limits);
  const params: Params = {};
  for (const [key, value] of array.entries) {
    Object.defineProperty(params, String(key), {
      value: toJsonValue(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { params, warnings };
}

/** A JSON body: it must be an object of parameters. `__proto__` stays an own key (JSON.parse does that). */
export function decodeJson(text: string): Params {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SandboxError('B24SB_MALFORMED_JSON', `Body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SandboxError('B24SB_NOT_AN_OBJECT');
  return value as Params;
}

/** A body's bytes as text; a body that is not UTF-8 is refused. */
export function bodyText(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new SandboxError('B24SB_INVALID_UTF8', 'Body is not valid UTF-8');
  }
}
