import type { Sink, Style } from './bbcode-render.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** HTML fragment: <b> <i> <u> <s> <a> <br> <blockquote> <pre><code>. */
export class HtmlSink implements Sink {
  private out = '';
  // A block already ends its line, so one break right after it is dropped
  // ("[/quote]\n" would otherwise add an empty line).
  private afterBlock = false;

  text(s: string): void {
    if (s.trim() !== '') this.afterBlock = false;
    this.out += escapeHtml(s);
  }

  lineBreak(): void {
    if (this.afterBlock) this.afterBlock = false;
    else this.out += '<br>';
  }

  open(style: Style): void {
    this.out += `<${style}>`;
  }

  close(style: Style): void {
    this.out += `</${style}>`;
  }

  linkStart(href: string): void {
    this.afterBlock = false;
    this.out += `<a href="${escapeHtml(href)}" rel="noopener noreferrer">`;
  }

  linkEnd(): void {
    this.out += '</a>';
  }

  quoteStart(): void {
    this.afterBlock = false;
    this.out += '<blockquote>';
  }

  quoteEnd(): void {
    this.out += '</blockquote>';
    this.afterBlock = true;
  }

  code(text: string): void {
    this.out += `<pre><code>${escapeHtml(text)}</code></pre>`;
    this.afterBlock = true;
  }

  finish(): string {
    return this.out;
  }
}
