import type { Sink, Style } from './bbcode-render.js';

// Every ASCII character that can start or close CommonMark/GFM syntax. Extra
// backslashes are harmless (any ASCII punctuation may be escaped); a missing
// one turns text into markup. "=" and "-" guard setext headings, "~" GFM
// strikethrough and fences, "|" GFM tables, "&" entity references.
const MD_SPECIAL = /[\\`*_{}[\]()#+\-.!|<>~=&]/g;

export function escapeMarkdown(s: string): string {
  return s.replace(MD_SPECIAL, '\\$&');
}

// Link destinations: backslash-escape what could end the destination early
// ("(", ")", "<", ">", "\"), and "&" only where it would read as an entity.
function escapeDestination(url: string): string {
  return url.replace(/[\\()<>]|&(?=#?[a-z0-9]+;)/gi, '\\$&');
}

// Italic uses "*", not "_": CommonMark ignores "_" inside a word, so
// "[b]B[i]I[/i][/b]" would lose its italic. Underline has no Markdown form;
// its text is kept unmarked.
const DELIM: Partial<Record<Style, string>> = { b: '**', i: '*', s: '~~' };

function isSpace(c: string | undefined): boolean {
  return c !== undefined && /\s/.test(c);
}

// CommonMark's "Unicode punctuation": general categories P and S.
const PUNCT = /^[\p{P}\p{S}]$/u;

function charAt(s: string, i: number): string {
  const cp = s.codePointAt(i);
  return cp === undefined ? '' : String.fromCodePoint(cp);
}

function charBefore(s: string, end: number): string {
  const low = s.charCodeAt(end - 1);
  const start = end >= 2 && low >= 0xdc00 && low <= 0xdfff ? end - 2 : end - 1;
  return start < 0 ? '' : s.slice(start, end);
}

/** Neither whitespace nor punctuation: a delimiter next to it must flank it. */
function isWordChar(c: string): boolean {
  return c !== '' && !isSpace(c) && !PUNCT.test(c);
}

/** Length of the run of punctuation at the start (or end) of s. */
function punctPrefix(s: string): number {
  let k = 0;
  for (let c = charAt(s, 0); c !== '' && PUNCT.test(c); c = charAt(s, k)) k += c.length;
  return k;
}

function punctSuffix(s: string): number {
  let k = s.length;
  for (let c = charBefore(s, k); c !== '' && PUNCT.test(c); c = charBefore(s, k)) k -= c.length;
  return s.length - k;
}

/**
 * CommonMark with GFM strikethrough. Line breaks are backslash hard breaks
 * ("\" at line end), written only between two pieces of content because a
 * trailing one would show as a literal backslash. Delimiters are opened only
 * when text arrives and closed before surrounding whitespace, so empty or
 * space-padded tags ("[b] x [/b]") never leave stray "**" behind, and they are
 * closed and reopened around every line break and block.
 */
export class MarkdownSink implements Sink {
  private parts: string[] = []; // the output, joined once at the end
  private depth = 0; // quote nesting
  private lastDepth = 0; // quote nesting of the last line written
  private inPara = false;
  private lineEmpty = true; // current line holds only its "> " prefix
  private breaks = 0; // hard breaks waiting for following content
  private ws = ''; // whitespace waiting for following content
  private afterBlock = false;
  private active: (Style | null)[] = []; // requested styles; null = no-op (u, repeats)
  private emitted: Style[] = []; // delimiters currently open in the output
  private linkFloor = 0; // emitted[0..linkFloor) were opened outside the link
  private href: string | null = null;
  // Index in `parts` of the last text's trailing punctuation while nothing
  // follows it: a closer may need to go in front of it (see closeBefore).
  private tailAt = -1;

  text(s: string): void {
    let a = 0;
    let b = s.length;
    while (a < b && isSpace(s[a])) a++;
    while (b > a && isSpace(s[b - 1])) b--;
    if (a === b) {
      this.ws += s;
      return;
    }
    this.ws += s.slice(0, a);
    let core = s.slice(a, b);
    this.beforeContent(core);
    // An opener after a letter and before punctuation ("x**.5**") cannot open;
    // moving that punctuation in front of it ("x.**5**") keeps the emphasis.
    const lead = punctPrefix(core);
    if (this.pendingOpeners() && isWordChar(this.lastChar()) && lead > 0 && isWordChar(charAt(core, lead))) {
      this.put(escapeMarkdown(core.slice(0, lead)));
      core = core.slice(lead);
    }
    this.openDelimiters();
    const trail = punctSuffix(core);
    const movable = trail > 0 && isWordChar(charBefore(core, core.length - trail));
    this.put(escapeMarkdown(movable ? core.slice(0, core.length - trail) : core));
    if (movable) this.put(escapeMarkdown(core.slice(core.length - trail)));
    this.tailAt = movable ? this.parts.length - 1 : -1;
    this.lineEmpty = false;
    this.ws = s.slice(b);
  }

  lineBreak(): void {
    if (this.afterBlock) this.afterBlock = false;
    else if (this.inPara) this.breaks++;
  }

  open(style: Style): void {
    const d = DELIM[style] ? style : null;
    this.active.push(d && !this.active.includes(d) ? d : null);
  }

  close(): void {
    this.active.pop();
  }

  linkStart(href: string): void {
    this.beforeContent('[');
    this.openDelimiters();
    this.put('[');
    this.lineEmpty = false;
    this.linkFloor = this.emitted.length;
    this.href = href;
  }

  linkEnd(): void {
    this.closeDelimiters(this.linkFloor);
    this.put(`](${escapeDestination(this.href ?? '')})`);
    this.linkFloor = 0;
    this.href = null;
  }

  quoteStart(): void {
    this.endParagraph();
    this.afterBlock = false;
    this.depth++;
  }

  quoteEnd(): void {
    this.endParagraph();
    this.depth--;
    this.afterBlock = true;
  }

  code(text: string): void {
    this.endParagraph();
    let longest = 0;
    for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
    const fence = '`'.repeat(Math.max(3, longest + 1));
    this.newLine();
    this.put(fence);
    for (const line of text.split('\n')) this.put(`\n${this.prefix()}${line}`);
    this.put(`\n${this.prefix()}${fence}`);
    this.afterBlock = true;
  }

  finish(): string {
    this.endParagraph();
    return this.parts.join('');
  }

  private put(s: string): void {
    if (s !== '') this.parts.push(s);
  }

  private lastChar(): string {
    const last = this.parts[this.parts.length - 1] ?? '';
    return charBefore(last, last.length);
  }

  private prefix(): string {
    return '> '.repeat(this.depth);
  }

  /** Starts a block-level line, separated from earlier output by a blank line. */
  private newLine(): void {
    if (this.parts.length > 0) {
      this.put(`\n${'> '.repeat(Math.min(this.depth, this.lastDepth)).trimEnd()}\n`);
    }
    this.put(this.prefix());
    this.lastDepth = this.depth;
    this.lineEmpty = true;
  }

  /** Everything due before the next content (`next` starts with its first character). */
  private beforeContent(next: string): void {
    this.afterBlock = false;
    if (!this.inPara) {
      this.newLine();
      this.inPara = true;
      this.breaks = 0;
    } else if (this.breaks > 0) {
      this.closeDelimiters(0);
      for (; this.breaks > 0; this.breaks--) this.put(`\\\n${this.prefix()}`);
      this.lineEmpty = true;
    }
    // Leading spaces are not content in Markdown, and four of them would start
    // an indented code block.
    if (this.lineEmpty) this.ws = '';
    const want = this.wanted();
    let same = 0;
    while (same < this.emitted.length && this.emitted[same] === want[same]) same++;
    this.closeBefore(Math.max(same, this.linkFloor), this.ws !== '' ? ' ' : charAt(next, 0));
    this.put(this.ws);
    this.ws = '';
  }

  private wanted(): Style[] {
    return this.active.filter((s): s is Style => s !== null);
  }

  private pendingOpeners(): boolean {
    return this.wanted().length > this.emitted.length;
  }

  private openDelimiters(): void {
    const want = this.wanted();
    for (let k = this.emitted.length; k < want.length; k++) {
      const style = want[k] as Style;
      this.put(DELIM[style] ?? '');
      this.emitted.push(style);
    }
  }

  // A closer after punctuation and before a letter ("**Hi:**there") cannot
  // close; closing in front of that punctuation ("**Hi**:there") keeps the
  // emphasis.
  private closeBefore(keep: number, next: string): void {
    if (this.emitted.length <= keep) return;
    const move = this.tailAt >= 0 && this.tailAt === this.parts.length - 1 && isWordChar(next);
    const tail = move ? this.parts.pop() : undefined;
    this.tailAt = -1;
    this.closeDelimiters(keep);
    if (tail !== undefined) this.put(tail);
  }

  private closeDelimiters(keep: number): void {
    while (this.emitted.length > keep) this.put(DELIM[this.emitted.pop() as Style] ?? '');
  }

  private endParagraph(): void {
    this.closeDelimiters(0);
    this.inPara = false;
    this.breaks = 0;
    this.ws = '';
  }
}
