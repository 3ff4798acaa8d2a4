import { GatewayError } from '../errors.js';
import type { WireObject, WireValue } from './types.js';

export type PhpKey = number | string;
export type PhpValue = string | PhpTable;

const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';
const canonicalInt = /^(?:0|-?[1-9][0-9]*)$/;

/** PHP turns canonical decimal strings within int64 into integer keys. */
export function phpKey(raw: string, maxIndex: number, name: string): PhpKey {
  const first = raw.charCodeAt(0);
  // Most keys are names (`data`, `MESSAGES`): no regex for them.
  if (!(first === 45 || (first >= 48 && first <= 57)) || raw.length > 20 || !canonicalInt.test(raw)) return raw;
  const negative = first === 45;
  const digits = negative ? raw.slice(1) : raw;
  if (digits.length === 19 && digits > (negative ? INT64_MIN_ABS : INT64_MAX)) return raw;
  if (digits.length > 19) return raw;
  const n = Number(raw);
  if (Math.abs(n) > maxIndex) throw indexTooLarge(name, raw, maxIndex);
  return n;
}

/** An ordered PHP array: integer and string keys, and the next position for `[]`. */
export class PhpTable {
  readonly entries = new Map<PhpKey, PhpValue>();
  /** PHP's nNextFreeElement: unset until the first integer key, then one past the largest, even a negative one. */
  private next: number | undefined;

  /** The table stored at `key`, created (or replacing a scalar, as PHP does) when missing. */
  descend(key: PhpKey | null, maxIndex: number, name: string): PhpTable {
    if (key !== null) {
      const existing = this.entries.get(key);
      if (existing instanceof PhpTable) return existing;
    }
    const child = new PhpTable();
    this.put(key, child, maxIndex, name);
    return child;
  }

  put(key: PhpKey | null, value: PhpValue, maxIndex: number, name: string): void {
    if (key === null) {
      key = this.next ?? 0;
      if (key > maxIndex) throw indexTooLarge(name, String(key), maxIndex);
    }
    this.entries.set(key, value);
    if (typeof key === 'number' && (this.next === undefined || key >= this.next)) this.next = key + 1;
  }
}

const indexTooLarge = (name: string, index: string, max: number): GatewayError =>
  new GatewayError('B24GW_INDEX_TOO_LARGE', `Parameter "${name}" uses index ${index}, over the limit of ${max}`, {
    path: name,
  });

/** Renders a table as json_encode does: keys 0..n-1 in order make a list, anything else an object. */
export function toPlain(table: PhpTable, forceObject = false): WireValue[] | WireObject {
  let isList = !forceObject;
  let i = 0;
  if (isList)
    for (const k of table.entries.keys()) {
      if (k !== i++) {
        isList = false;
        break;
      }
    }
  if (isList) {
    const list: WireValue[] = [];
    for (const v of table.entries.values()) list.push(typeof v === 'string' ? v : toPlain(v));
    return list;
  }
  const obj: WireObject = {};
  for (const [k, v] of table.entries) {
    const plain = typeof v === 'string' ? v : toPlain(v);
    // `__proto__` must become an own data key, never the object's prototype.
    if (k === '__proto__')
      Object.defineProperty(obj, k, { value: plain, enumerable: true, writable: true, configurable: true });
    else obj[k] = plain;
  }
  return obj;
}
