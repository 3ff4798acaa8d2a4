// Walks the BB-code tree and decides what each tag means; the Sink decides how
// that looks in one output format (and owns all escaping).

import type { BbNode } from './bbcode-parse.js';
import { safeHref } from './bbcode-tags.js';

export type Style = 'b' | 'i' | 'u' | 's';

export interface Sink {
  /** Literal text; never contains "\n". The sink escapes it. */
  text(s: string): void;
  lineBreak(): void;
  open(style: Style): void;
  close(style: Style): void;
  /** href has passed safeHref(). Links never nest and contain no breaks or blocks. */
  linkStart(href: string): void;
  linkEnd(): void;
  quoteStart(): void;
  quoteEnd(): void;
  code(text: string): void;
  finish(): string;
}

export function render(nodes: BbNode[], sink: Sink): string {
  walk(nodes, sink, false);
  return sink.finish();
}

// Inside a link label, line breaks become spaces and blocks become inline:
// no target format can put a paragraph inside a link.
function walk(nodes: BbNode[], sink: Sink, inLink: boolean): void {
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        sink.text(node.text);
        break;
      case 'break':
        if (inLink) sink.text(' ');
        else sink.lineBreak();
        break;
      case 'code':
        if (inLink) sink.text(node.text.replace(/\n/g, ' '));
        else if (node.text !== '') sink.code(node.text);
        break;
      case 'void':
        sink.text(voidText(node.name, node.value));
        break;
      case 'tag':
        walkTag(node.name, node.value, node.children, sink, inLink);
        break;
    }
  }
}

function walkTag(name: string, value: string, children: BbNode[], sink: Sink, inLink: boolean): void {
  const labelled = (): boolean => hasContent(children);
  switch (name) {
    case 'b':
    case 'i':
    case 'u':
    case 's':
      sink.open(name);
      walk(children, sink, inLink);
      sink.close(name);
      return;
    case 'quote':
      if (inLink) return walk(children, sink, inLink);
      if (children.length === 0) return;
      sink.quoteStart();
      walk(children, sink, inLink);
      sink.quoteEnd();
      return;
    case 'url':
    case 'img': {
      // [url=X]label[/url] links X; [url]X[/url] and [img]X[/img] link their text.
      const href = safeHref(name === 'url' && value !== '' ? value : plainText(children));
      if (!href || inLink) {
        if (value === '' || labelled()) walk(children, sink, inLink);
        else sink.text(value);
        return;
      }
      sink.linkStart(href);
      if (name === 'url' && labelled()) walk(children, sink, true);
      else sink.text(href);
      sink.linkEnd();
      return;
    }
    case 'user':
    case 'chat':
      if (labelled()) walk(children, sink, inLink);
      else sink.text(/^\d+$/.test(value) ? `${name === 'user' ? 'User' : 'Chat'} ${value}` : value);
      return;
    case 'send':
    case 'put':
    case 'call':
      // Keyboard-style commands: only the label means anything outside Bitrix.
      if (value === '' || labelled()) walk(children, sink, inLink);
      else sink.text(value);
      return;
    default:
      // context, pch, date, color, size: no portable meaning, keep the content.
      walk(children, sink, inLink);
  }
}

function voidText(name: string, value: string): string {
  switch (name) {
    case 'icon':
      return iconText(value);
    case 'disk':
      return '[file]';
    case 'attach':
      return '[attachment]';
    case 'like':
      return '[like]';
    case 'dislike':
      return '[dislike]';
    case 'rating':
      return `[rating ${value}]`;
    default:
      return '';
  }
}

// "[icon=URL size=20 title=Smiling face]": the title if any, else the URL.
function iconText(value: string): string {
  const url = value.split(/\s/, 1)[0] ?? '';
  const at = value.search(/(?:^|\s)title=/i);
  if (at < 0) return url;
  let title = value.slice(value.indexOf('=', at) + 1);
  const cut = title.search(/\s(?:width|height|size)=/i);
  if (cut >= 0) title = title.slice(0, cut);
  title = title.trim();
  if (title.length >= 2 && (title[0] === '"' || title[0] === "'") && title.endsWith(title[0])) {
    title = title.slice(1, -1).trim();
  }
  return title || url;
}

function hasContent(nodes: BbNode[]): boolean {
  return plainText(nodes).trim() !== '';
}

/** Text content with all markup dropped (breaks as spaces). */
function plainText(nodes: BbNode[]): string {
  let s = '';
  for (const node of nodes) {
    if (node.kind === 'text' || node.kind === 'code') s += node.text;
    else if (node.kind === 'break') s += ' ';
    else if (node.kind === 'void') s += voidText(node.name, node.value);
    else s += plainText(node.children);
  }
  return s;
}
