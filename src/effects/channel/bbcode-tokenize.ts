// Single left-to-right pass over Bitrix24 message text. Every character is
// looked at a bounded number of times, so hostile input ("[" x 1e6, an
// unterminated "[url=...") stays linear.

import { matchTag } from './bbcode-tags.js';

export type Token =
  | { t: 'text'; v: string }
  | { t: 'br' }
  | { t: 'open'; name: string; value: string; raw: string }
  | { t: 'close'; name: string; raw: string }
  | { t: 'void'; name: string; value: string }
  | { t: 'code'; v: string }
  | { t: 'dash'; raw: string } // a line of 54+ "-": Bitrix's quote delimiter
  | { t: 'arrow' }; // ">>" at the start of a line: Bitrix's one-line quote

// Bitrix's client matches exactly this many dashes (-{54}).
const QUOTE_RULE = 54;
const CODE_CLOSE = /\[\/code\]/gi;

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') out.push({ t: 'text', v: text });
    text = '';
  };
  const n = src.length;
  let i = 0;
  let lineStart = true;
  // Once a search for [/code] has failed, every later one would too; remembering
  // it keeps "[code]" x 1e5 from being quadratic.
  let noCodeClose = false;

  while (i < n) {
    if (lineStart) {
      lineStart = false;
      if (src.charCodeAt(i) === 45) {
        let j = i;
        while (j < n && src.charCodeAt(j) === 45) j++;
        if (j - i >= QUOTE_RULE && (j === n || src[j] === '\n' || breakTagLength(src, j) > 0)) {
          flush();
          out.push({ t: 'dash', raw: src.slice(i, j) });
        } else {
          text += src.slice(i, j);
        }
        i = j;
        continue;
      }
      if (src.startsWith('>>', i)) {
        flush();
        out.push({ t: 'arrow' });
        i += 2;
        continue;
      }
    }

    const c = src.charCodeAt(i);
    if (c === 10) {
      flush();
      out.push({ t: 'br' });
      i++;
      lineStart = true;
      continue;
    }
    if (c === 35) {
      // "#BR#" is a documented line-break spelling.
      if (src.startsWith('#BR#', i)) {
        flush();
        out.push({ t: 'br' });
        i += 4;
        lineStart = true;
      } else {
        text += '#';
        i++;
      }
      continue;
    }
    if (c === 91) {
      const end = tagEnd(src, i);
      const m = end < 0 ? null : matchTag(src.slice(i + 1, end));
      if (!m || (m.form === 'code' && m.closing)) {
        text += '[';
        i++;
        continue;
      }
      const raw = src.slice(i, end + 1);
      i = end + 1;
      if (m.form === 'br') {
        flush();
        out.push({ t: 'br' });
        lineStart = true;
      } else if (m.form === 'code') {
        CODE_CLOSE.lastIndex = i;
        const close = noCodeClose ? null : CODE_CLOSE.exec(src);
        if (!close) {
          noCodeClose = true;
          text += raw; // unclosed [code] stays literal, like any unclosed tag
          continue;
        }
        flush();
        out.push({ t: 'code', v: trimOneNewline(src.slice(i, close.index)) });
        i = close.index + close[0].length;
      } else {
        flush();
        if (m.closing) out.push({ t: 'close', name: m.name, raw });
        else if (m.form === 'void') out.push({ t: 'void', name: m.name, value: m.value });
        else out.push({ t: 'open', name: m.name, value: m.value, raw });
      }
      continue;
    }

    let j = i + 1;
    while (j < n) {
      const d = src.charCodeAt(j);
      if (d === 91 || d === 10 || d === 35) break;
      j++;
    }
    text += src.slice(i, j);
    i = j;
  }
  flush();
  return out;
}

/**
 * Index of the "]" closing the tag that starts at i, or -1. A tag never spans
 * a newline or contains "[", which also makes the scans from successive "["
 * disjoint.
 */
function tagEnd(src: string, i: number): number {
  for (let k = i + 1; k < src.length; k++) {
    const d = src.charCodeAt(k);
    if (d === 93) return k;
    if (d === 91 || d === 10) return -1;
  }
  return -1;
}

function breakTagLength(src: string, j: number): number {
  if (src.startsWith('#BR#', j)) return 4;
  if (src[j] !== '[') return 0;
  const end = tagEnd(src, j);
  const m = end < 0 ? null : matchTag(src.slice(j + 1, end));
  return m && m.form === 'br' && !m.closing ? end + 1 - j : 0;
}

// Bitrix drops the line break right after [code]; the one before [/code] is
// the last line's end, not an extra empty line.
function trimOneNewline(s: string): string {
  const a = s.startsWith('\n') ? 1 : 0;
  const b = s.length > a && s.endsWith('\n') ? s.length - 1 : s.length;
  return s.slice(a, b);
}
