/** A PHP array key: a 64-bit integer or a string. */
export type PhpKey = bigint | string;
export type PhpValue = string | PhpArray;

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/**
 * The key PHP's symbol tables use for a string (ZEND_HANDLE_NUMERIC_STR): a canonical decimal
 * within 64 bits becomes an integer, anything else ("007", "-0", "1e3", 2^63) stays a string.
 */
export function phpKey(s: string): PhpKey {
  if (s.length === 0 || s.length > 20 || !/^(?:0|-?[1-9]\d*)$/.test(s)) return s;
  const n = BigInt(s);
  return n >= LONG_MIN && n <= LONG_MAX ? n : s;
}

/** An ordered PHP array, enough of one to model what parse_str builds. */
export class PhpArray {
  readonly entries = new Map<PhpKey, PhpValue>();
  /** PHP's nNextFreeElement; undefined until an integer key is stored (the next append is 0 then). */
  #nextFree: bigint | undefined;

  get(key: PhpKey): PhpValue | undefined {
    return this.entries.get(key);
  }

  /** Stores or replaces in place: a replaced key keeps its position, as in a PHP hash. */
  set(key: PhpKey, value: PhpValue): void {
    this.entries.set(key, value);
    if (typeof key === 'bigint' && (this.#nextFree === undefined || key >= this.#nextFree)) {
      this.#nextFree = key < LONG_MAX ? key + 1n : LONG_MAX;
    }
  }

  /** `$a[] = value`; false when PHP cannot (the next key is already taken at PHP_INT_MAX). */
  append(value: PhpValue): boolean {
    const key = this.#nextFree ?? 0n;
    if (this.entries.has(key)) return false;
    this.set(key, value);
    return true;
  }

  delete(key: PhpKey): void {
    this.entries.delete(key);
  }
}

/**
 * What `json_encode` makes of a PHP array: a list when its keys are 0..n-1 in order,
 * else an object (integer keys in decimal). `__proto__` is an own key like any other.
 */
export function toJsonValue(value: PhpValue): unknown {
  if (typeof value === 'string') return value;
  let i = 0n;
  let isList = true;
  for (const key of value.entries.keys()) {
    if (key !== i++) {
      isList = false;
      break;
    }
  }
  if (isList) return [...value.entries.values()].map(toJsonValue);
  const out: Record<string, unknown> = {};
  for (const [key, child] of value.entries) {
    Object.defineProperty(out, String(key), {
      value: toJsonValue(child),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
