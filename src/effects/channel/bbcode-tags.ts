// The Bitrix24 IM BB-code vocabulary: which tag names exist, what form each
// takes, and which values are acceptable. Anything not described here is
// rendered as literal text by the caller.

export type TagForm =
  | 'pair' // [x]...[/x]
  | 'void' // [x] or [x=v], no closer
  | 'br' // line break
  | 'code'; // [code]...[/code], contents taken verbatim

interface TagSpec {
  form: TagForm;
  /** 'none': no "=value"; 'optional'; 'required' (non-empty). */
  value: 'none' | 'optional' | 'required';
  /** Extra check on the value (after quote stripping). */
  valid?: (value: string) => boolean;
  /** Accepts space-separated attributes, e.g. [img size=medium]. */
  attrs?: boolean;
}

const plain: TagSpec = { form: 'pair', value: 'none' };

// Sources: Bitrix24 REST docs "Message formatting" (im / imbot.v2) and the
// IM web client's parser (im.v2.lib.parser). Tables ([table]/[tr]/[td]) are
// not part of IM BB-code, so they stay literal.
const TAGS: Record<string, TagSpec> = {
  b: plain,
  i: plain,
  u: plain,
  s: plain,
  quote: plain,
  code: { form: 'code', value: 'none' },
  br: { form: 'br', value: 'none' },
  url: { form: 'pair', value: 'optional' },
  img: { form: 'pair', value: 'none', attrs: true },
  user: { form: 'pair', value: 'required' },
  chat: { form: 'pair', value: 'required' },
  context: { form: 'pair', value: 'required' },
  send: { form: 'pair', value: 'optional' },
  put: { form: 'pair', value: 'optional' },
  call: { form: 'pair', value: 'optional' },
  // Phone-call history reference; Bitrix's client shows its inner text.
  pch: { form: 'pair', value: 'required' },
  date: { form: 'pair', value: 'required' },
  color: { form: 'pair', value: 'required', valid: (v) => /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(v) },
  size: { form: 'pair', value: 'required', valid: (v) => /^\d{1,3}(?:pt|px)?$/i.test(v) },
  icon: { form: 'void', value: 'required' },
  disk: { form: 'void', value: 'required', valid: (v) => /^\d+$/.test(v) },
  attach: { form: 'void', value: 'required' },
  like: { form: 'void', value: 'none' },
  dislike: { form: 'void', value: 'none' },
  rating: { form: 'void', value: 'required', valid: (v) => /^[1-5]$/.test(v) },
};

export interface TagMatch {
  name: string; // lower-case
  form: TagForm;
  closing: boolean;
  value: string;
}

function stripQuotes(v: string): string {
  const q = v[0];
  if (v.length < 2 || (q !== '"' && q !== "'") || v[v.length - 1] !== q) return v;
  const inner = v.slice(1, -1);
  // Keep "a" b="c" intact: only a single quoted value loses its quotes.
  return inner.includes(q) ? v : inner;
}

/**
 * Recognise the text between "[" and "]" as a known tag, or return null.
 * Hand-written so no regex can backtrack over attacker-controlled input.
 */
export function matchTag(inner: string): TagMatch | null {
  const closing = inner.startsWith('/');
  let k = closing ? 1 : 0;
  const start = k;
  while (k < inner.length && isAsciiLetter(inner.charCodeAt(k))) k++;
  if (k === start) return null;
  const name = inner.slice(start, k).toLowerCase();
  const spec = Object.hasOwn(TAGS, name) ? TAGS[name] : undefined;
  if (!spec) return null;
  const rest = inner.slice(k);

  if (closing) {
    return rest === '' && (spec.form === 'pair' || spec.form === 'code')
      ? { name, form: spec.form, closing, value: '' }
      : null;
  }

  let value = '';
  if (rest === '') {
    if (spec.value === 'required') return null;
  } else if (rest[0] === '=') {
    if (spec.value === 'none') return null;
    value = stripQuotes(rest.slice(1).trim());
    if (value === '' && spec.value === 'required') return null;
  } else if (/^\s/.test(rest)) {
    const attrs = rest.trim();
    // "[br /]" is the only attribute-like form a non-attrs tag accepts.
    if (!(spec.attrs || (spec.form === 'br' && attrs === '/'))) return null;
  } else if (rest === '/' && spec.form === 'br') {
    // [br/]
  } else {
    return null;
  }
  if (value !== '' && spec.valid && !spec.valid(value)) return null;
  return { name, form: spec.form, closing, value };
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const LINK_SCHEMES = new Set(['http', 'https', 'mailto', 'tel']);

/** The URL if it is safe to emit as a link target, else null. */
export function safeHref(raw: string): string | null {
  const url = raw.trim();
  // Whitespace or controls inside a URL are either broken or an obfuscation
  // attempt ("java\tscript:"); neither becomes a link.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (url === '' || /[\s\u0000-\u001f\u007f]/.test(url)) return null;
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!m || !m[1]) return null;
  const scheme = m[1].toLowerCase();
  if (!LINK_SCHEMES.has(scheme)) return null;
  if ((scheme === 'http' || scheme === 'https') && !/^\/\/[^/]/.test(url.slice(m[0].length))) return null;
  if (url.length === m[0].length) return null;
  return url;
}
