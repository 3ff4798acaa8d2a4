/**
 * PHP's `http_build_query($data)` with its defaults (numeric prefix none, `&` separator,
 * PHP_QUERY_RFC1738), which is how Bitrix24 builds every event body it POSTs.
 *
 * - keys and values are `urlencode`d: only `A-Za-z0-9 - _ .` stay, space becomes `+`,
 *   every other UTF-8 byte becomes `%XX` (upper case), so brackets appear as `%5B`/`%5D`;
 * - nested keys are `outer%5Binner%5D`;
 * - ints are decimal, floats use PHP's `%.14G`, `true` is `1`, `false` is `0`;
 * - `null`/`undefined` and empty arrays or objects produce nothing.
 *
 * JS objects list integer-like keys first whatever the insertion order; pass a `Map`
 * where PHP's order of mixed keys matters.
 */
export function httpBuildQuery(data: unknown): string {
  const parts: string[] = [];
  for (const [key, value] of entriesOf(data)) append(parts, urlencode(key), value);
  return parts.join('&');
}

function append(parts: string[], name: string, value: unknown): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, child] of entriesOf(value)) append(parts, `${name}%5B${urlencode(key)}%5D`, child);
    return;
  }
  parts.push(`${name}=${urlencode(scalar(value))}`);
}

function entriesOf(value: unknown): [string, unknown][] {
  if (value instanceof Map) return [...value.entries()].map(([k, v]) => [String(k), v]);
  if (Array.isArray(value)) return value.map((v, i) => [String(i), v]);
  if (typeof value === 'object' && value !== null) return Object.entries(value);
  return [];
}

/** A scalar as PHP's http_build_query writes it. */
export function scalar(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? '1' : '0';
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isSafeInteger(value) ? String(value === 0 ? 0 : value) : phpFloat(value);
    default:
      return value instanceof Date ? String(Math.floor(value.getTime() / 1000)) : String(value);
  }
}

/** PHP's `sprintf('%.14G')` as used for floats (precision = 14, zend_gcvt rules). */
export function phpFloat(v: number): string {
  if (Number.isNaN(v)) return 'NAN';
  if (!Number.isFinite(v)) return v > 0 ? 'INF' : '-INF';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  if (v === 0) return `${sign}0`;
  const { digits, decpt } = roundDigits(exactDecimal(Math.abs(v)), 14);
  if (decpt < -3 || decpt > 14) {
    const e = decpt - 1;
    return `${sign}${digits[0]}.${digits.length > 1 ? digits.slice(1) : '0'}E${e < 0 ? '-' : '+'}${Math.abs(e)}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  const whole = digits.slice(0, decpt).padEnd(decpt, '0');
  const frac = digits.slice(decpt);
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}

interface Decimal {
  /** Significant digits, no leading zeros. */
  digits: string;
  /** The decimal point sits after this many digits (may be zero or negative). */
  decpt: number;
}

/** The exact decimal value of a positive finite double (it always has a finite expansion). */
function exactDecimal(x: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const biased = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let e = -1074;
  if (biased !== 0) {
    m |= 1n << 52n;
    e = biased - 1075;
  }
  if (e >= 0) {
    const s = (m << BigInt(e)).toString();
    return { digits: s, decpt: s.length };
  }
  const s = (m * 5n ** BigInt(-e)).toString(); // m / 2^k = m * 5^k / 10^k
  return { digits: s, decpt: s.length + e };
}

/** Rounds to `n` significant digits half-to-even, as zend_dtoa mode 2 does, and drops trailing zeros. */
function roundDigits({ digits, decpt }: Decimal, n: number): Decimal {
  let head = digits.slice(0, n);
  const rest = digits.slice(n);
  const first = rest.charCodeAt(0) - 48;
  const tail = /[1-9]/.test(rest.slice(1));
  const up = first > 5 || (first === 5 && (tail || (Number(head.at(-1)) & 1) === 1));
  if (up) {
    const bumped = (BigInt(head) + 1n).toString();
    if (bumped.length > head.length) decpt++;
    head = bumped.slice(0, n);
  }
  return { digits: head.replace(/0+$/, '') || '0', decpt };
}

const UNRESERVED = /[A-Za-z0-9_.-]/;

/** PHP's `urlencode`: RFC 1738 style, byte-wise over UTF-8. */
export function urlencode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (byte < 0x80 && UNRESERVED.test(ch)) out += ch;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
