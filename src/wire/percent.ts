import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../errors.js';

/**
 * PHP's urldecode: `+` is a space, `%XX` a byte, any other `%` stays as it is.
 * The bytes must then be UTF-8: Bitrix24 sends nothing else, and replacing bad bytes
 * would change data silently.
 */
export function percentDecode(s: string, where: string): string {
  const spaced = s.includes('+') ? s.replaceAll('+', ' ') : s;
  if (!s.includes('%')) return spaced;
  let out: string;
  try {
    out = decodeURIComponent(spaced);
  } catch {
    out = slowDecode(spaced, where);
  }
  // Only `%00` decodes to U+0000 (a raw NUL is refused by decodeForm): checked on what was decoded, a short string.
  if (out.includes('\0')) throw nulByte(where, out);
  return out;
}

/**
 * The refusal of a NUL in a name (`where` is 'name', `text` the name) or in the value of `where`.
 * PostgreSQL's text columns cannot hold U+0000, and Bitrix24 never sends it.
 */
export function nulByte(where: string, text: string): GatewayError {
  // Shown as `%00`, so the answer and the log line carry no NUL themselves.
  if (where === 'name') {
    const name = text.replaceAll('\0', '%00');
    return new GatewayError('B24GW_NUL_BYTE', `Parameter name "${clip(name)}" holds a NUL character`, { path: name });
  }
  return new GatewayError('B24GW_NUL_BYTE', `Value of "${where}" holds a NUL character`, { path: where });
}

const hex = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;

/** Handles what decodeURIComponent refuses: stray `%` (kept, as PHP does) and invalid UTF-8 (refused). */
function slowDecode(s: string, where: string): string {
  const bytes: number[] = [];
  const text = Buffer.from(s, 'utf8');
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === 37 && i + 2 < text.length) {
      const hi = hex(text[i + 1]!);
      const lo = hex(text[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    bytes.push(c);
  }
  const out = Buffer.from(bytes);
  if (!isUtf8(out)) {
    const what = where === 'name' ? `Parameter name "${clip(s)}"` : `Value of "${where}"`;
    throw new GatewayError(
      'B24GW_INVALID_UTF8',
      `${what} is not valid UTF-8 after percent-decoding`,
      where === 'name' ? {} : { path: where },
    );
  }
  return out.toString('utf8');
}

const clip = (s: string): string => (s.length > 80 ? `${s.slice(0, 80)}…` : s);
