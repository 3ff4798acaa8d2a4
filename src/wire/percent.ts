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
  try {
    return decodeURIComponent(spaced);
  } catch {
    return slowDecode(spaced, where);
  }
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
    throw new GatewayError('B24GW_INVALID_UTF8', `${what} is not valid UTF-8 after percent-decoding`, where === 'name' ? {} : { path: where });
  }
  return out.toString('utf8');
}

const clip = (s: string): string => (s.length > 80 ? `${s.slice(0, 80)}…` : s);
