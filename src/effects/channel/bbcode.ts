// Bitrix24 IM BB-code -> plain text, HTML or Markdown for external channels.
//
// Pipeline: normalise -> tokenize (bbcode-tokenize) -> tree with the broken
// markup policy (bbcode-parse) -> tag meanings (bbcode-render) -> one sink per
// format, which owns escaping (bbcode-text / bbcode-html / bbcode-markdown).
// Every stage is a single linear pass; nesting is capped (MAX_DEPTH).
//
// Decisions shared by all formats (details beside the code that applies them):
// - unmatched or mis-nested tags, unknown tags and tags with invalid values
//   are shown as literal text (bbcode-parse);
// - links only for http(s), mailto and tel; any other target shows the label;
// - [br], "#BR#" and "\n" are line breaks; quotes ([quote], ------ lines, >>)
//   and [code] are blocks, and one line break right after a block is absorbed;
// - mentions, [send]/[put]/[call] and [context]/[pch]/[date] keep their label
//   text; [color]/[size] keep their content; [icon] shows its title or URL;
//   [img] links its URL; [DISK]/[ATTACH]/[LIKE]/[DISLIKE]/[RATING] become
//   "[file]"-style placeholders.

import { HtmlSink } from './bbcode-html.js';
import { MarkdownSink } from './bbcode-markdown.js';
import { parse } from './bbcode-parse.js';
import { render, type Sink } from './bbcode-render.js';
import { TextSink } from './bbcode-text.js';
import { tokenize } from './bbcode-tokenize.js';

export type TextFormat = 'text' | 'html' | 'markdown';

export function convertBbcode(input: string, format: TextFormat): string {
  return render(parse(tokenize(normalize(input))), sinkFor(format));
}

function sinkFor(format: TextFormat): Sink {
  switch (format) {
    case 'html':
      return new HtmlSink();
    case 'markdown':
      return new MarkdownSink();
    case 'text':
      return new TextSink();
  }
}

// CR/CRLF become "\n"; other C0/C1 controls are dropped in every format (they
// are invisible, and some channels reject them); a lone UTF-16 surrogate
// becomes U+FFFD so the output is always encodable as UTF-8.
function normalize(s: string): string {
  return (
    s
      .replace(/\r\n?/g, '\n')
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, '')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
  );
}
