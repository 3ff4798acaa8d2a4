/**
 * A small reference model of PHP 8.2 `parse_str` (main/php_variables.c), written from the
 * behaviours recorded in fixtures/parse_str/cases.json, independently of src/wire. Each rule
 * names a fixture case that shows it. It has none of PHP's limits (max_input_vars,
 * max_input_nesting_level); the gateway's own refusals it states are the three the README
 * documents for what PHP would keep: invalid UTF-8, integer keys past --max-index, and a NUL.
 */

const APPEND = Symbol('append');
type Index = string | typeof APPEND;
type Key = number | string;
export type PhpValue = string | PhpArray;

export class PhpArray {
  readonly map = new Map<Key, PhpValue>();
  /** nNextFreeElement; undefined stands for its initial ZEND_LONG_MIN. */
  next: number | undefined;
}

/** Where the gateway refuses what PHP would keep. */
export class Refusal extends Error {
  constructor(readonly code: 'B24GW_INVALID_UTF8' | 'B24GW_INDEX_TOO_LARGE' | 'B24GW_NUL_BYTE') {
    super(code);
  }
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** ZEND_HANDLE_NUMERIC_STR: a canonical decimal within zend_long is an integer key ("key 01", "key -1", "numeric-looking keys", "around 64-bit limits"). */
function keyOf(s: string, maxIndex: number): Key {
  if (!/^(?:0|-?[1-9][0-9]*)$/.test(s)) return s;
  const n = BigInt(s);
  if (n > INT64_MAX || n < INT64_MIN) return s;
  if (n > BigInt(maxIndex) || n < -BigInt(maxIndex)) throw new Refusal('B24GW_INDEX_TOO_LARGE');
  return Number(n);
}

function put(table: PhpArray, index: Index | Key, value: PhpValue, maxIndex: number): void {
  let key: Key;
  if (index === APPEND) {
    // "negative index then append" (-5 → -4), "index -1 then append", "append mixed with explicit index"
    key = table.next ?? 0;
    if (key > maxIndex) throw new Refusal('B24GW_INDEX_TOO_LARGE');
  } else key = index;
  table.map.set(key, value); // "duplicate last wins": an existing key keeps its place
  if (typeof key === 'number' && (table.next === undefined || key >= table.next)) table.next = key + 1;
}

/** urldecode: `+` is a space ("plus is space in value"), %XX a byte ("lowercase hex"), any other % stays ("invalid escape %zz", "double percent"). */
export function urldecode(s: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(s, 'utf8');
  const hex = (c: number | undefined) => (c === undefined ? NaN : parseInt(String.fromCharCode(c), 16));
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x2b) bytes.push(0x20);
    else if (c === 0x25 && !Number.isNaN(hex(src[i + 1])) && !Number.isNaN(hex(src[i + 2]))) {
      bytes.push(hex(src[i + 1]) * 16 + hex(src[i + 2]));
      i += 2;
    } else bytes.push(c);
  }
  // PHP keeps a NUL in a value and cuts a name at one ("NUL in value", "NUL in key truncates name"). The gateway refuses it.
  if (bytes.includes(0)) throw new Refusal('B24GW_NUL_BYTE');
  try {
    return strictUtf8.decode(Buffer.from(bytes));
  } catch {
    // PHP keeps any bytes; its json_encode then fails ("invalid utf8 %ff value" → null). The gateway refuses them.
    throw new Refusal('B24GW_INVALID_UTF8');
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const isCSpace = (c: string | undefined) =>
  c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';

/** php_register_variable_ex for one decoded name and its value, decoded once the name's keys are read (the gateway's order of refusals). */
function register(root: PhpArray, name: string, rawValue: string, maxIndex: number): void {
  let i = 0;
  while (name[i] === ' ') i++; // "leading space stripped"; only spaces: "leading tab kept"
  let base = '';
  for (; i < name.length && name[i] !== '['; i++) base += name[i] === ' ' || name[i] === '.' ? '_' : name[i]; // "dot in top-level name", "spaces before bracket"
  if (base === '') return; // "empty key", "no name before index", "name of one space"
  const path: Index[] = [];
  let ip = i;
  while (ip < name.length) {
    const start = ip + 1;
    let p = start;
    if (isCSpace(name[p])) p++; // "single space index appends", "tab index appends"
    if (name[p] === ']') {
      path.push(APPEND);
      ip = p + 1;
    } else {
      const close = name.indexOf(']', p);
      if (close < 0) {
        // "unclosed bracket", "unclosed bracket with dot": the first bracket then belongs to the name;
        // "unclosed second index": a later one is dropped.
        if (path.length === 0) base = `${base}_${name.slice(start).replace(/[ .[]/g, '_')}`;
        break;
      }
      path.push(name.slice(start, close)); // "key space 1": the index keeps the space it started with
      ip = close + 1;
    }
    if (name[ip] !== '[') break; // "text after index", "extra closing bracket"
  }
  const keys = [base, ...path].map((k) => (k === APPEND ? APPEND : keyOf(k, maxIndex)));
  const value = urldecode(rawValue);
  let table = root;
  let key: Index | Key = keys[0]!;
  for (const index of keys.slice(1)) {
    // "scalar then array", "index 0 scalar then append below": a scalar in the way is replaced;
    // "append then explicit 0": an existing array is entered; an append always makes a new one ("append objects").
    const existing = key === APPEND ? undefined : table.map.get(key);
    if (existing instanceof PhpArray) table = existing;
    else {
      const child = new PhpArray();
      put(table, key, child, maxIndex);
      table = child;
    }
    key = index;
  }
  put(table, key, value, maxIndex);
}

/** parse_str of a whole body: `&`-separated ("semicolon is not a separator"), empty segments skipped, first `=` splits ("equals in value"). */
export function parseStr(body: string, maxIndex = 2_147_483_647): PhpArray {
  const root = new PhpArray();
  for (const segment of body.split('&')) {
    if (segment === '') continue; // "double ampersand"
    const eq = segment.indexOf('=');
    const name = urldecode(eq < 0 ? segment : segment.slice(0, eq)); // "no equals sign": value ''
    register(root, name, eq < 0 ? '' : segment.slice(eq + 1), maxIndex);
  }
  return root;
}

/** json_encode's view: an array keyed 0..n-1 in order is a list ("out of order indexes" is not); the gateway's top level is always an object. */
export function render(value: PhpValue, top = false): unknown {
  if (typeof value === 'string') return value;
  let i = 0;
  const isList = !top && [...value.map.keys()].every((k) => k === i++);
  if (isList) return [...value.map.values()].map((v) => render(v));
  const out: Record<string, unknown> = {};
  for (const [k, v] of value.map)
    Object.defineProperty(out, String(k), { value: render(v), enumerable: true, writable: true, configurable: true });
  return out;
}

/** The model's answer for a body: the decoded object, or the gateway's refusal code. */
export function modelDecode(
  body: string,
  maxIndex?: number,
): { ok: true; value: unknown } | { ok: false; code: string } {
  try {
    // A raw NUL anywhere is refused before any pair is read.
    if (body.includes('\0')) throw new Refusal('B24GW_NUL_BYTE');
    return { ok: true, value: render(parseStr(body, maxIndex), true) };
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, code: e.code };
    throw e;
  }
}
