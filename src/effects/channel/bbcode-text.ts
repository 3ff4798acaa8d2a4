import type { Sink } from './bbcode-render.js';

/**
 * Plain text: markup dropped, quotes as "> " lines, code blocks verbatim on
 * their own lines, links as "label (url)" unless the label is the url.
 */
export class TextSink implements Sink {
  private out = '';
  private depth = 0;
  private lineStart = true;
  // A block ended mid-line: the line must end before anything else follows,
  // and a break arriving now is that line end rather than an empty line.
  private eol = false;
  private link: { href: string; label: string } | null = null;

  text(s: string): void {
    if (s === '' || (this.eol && s.trim() === '')) return;
    this.write(s);
  }

  lineBreak(): void {
    this.newline();
  }

  open(): void {}

  close(): void {}

  linkStart(href: string): void {
    this.link = { href, label: '' };
  }

  linkEnd(): void {
    if (!this.link) return;
    const { href, label } = this.link;
    this.link = null;
    const shown = label.trim();
    if (shown === '') this.write(href);
    else if (shown !== href && shown !== href.replace(/^(?:mailto|tel):/i, '')) this.write(` (${href})`);
  }

  quoteStart(): void {
    if (!this.lineStart) this.newline();
    this.depth++;
  }

  quoteEnd(): void {
    this.depth--;
    if (!this.lineStart) this.eol = true;
  }

  code(text: string): void {
    if (!this.lineStart) this.newline();
    text.split('\n').forEach((line, k) => {
      if (k > 0) this.newline();
      this.write(line);
    });
    this.eol = true;
  }

  finish(): string {
    return this.out;
  }

  private write(s: string): void {
    if (this.eol) this.newline();
    if (this.lineStart) {
      this.out += '> '.repeat(this.depth);
      this.lineStart = false;
    }
    this.out += s;
    if (this.link) this.link.label += s;
  }

  private newline(): void {
    this.eol = false;
    if (this.lineStart) this.out += '> '.repeat(this.depth).trimEnd();
    this.out += '\n';
    this.lineStart = true;
  }
}
