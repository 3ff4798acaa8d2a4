import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One fenced code block of a Markdown file. */
export interface Snippet {
  file: string;
  /** The line of its opening fence. */
  line: number;
  lang: string;
  code: string;
}

/** Files whose examples are users' to copy: the README, the guides, and the READMEs the package ships. */
export const documented = (root: string): string[] => [
  ...guides(root),
  'src/effects/channel/README.md',
  'packages/sandbox/README.md',
];

/** The README and the guides. */
export const guides = (root: string): string[] => [
  'README.md',
  ...readdirSync(join(root, 'docs/guides'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/guides/${f}`),
];

/**
 * The fenced blocks of `lang` in the documented files. A block right after a line
 * `<!-- illustration -->` is left out: it shows a shape, not something to copy and run.
 */
export function snippets(root: string, lang = 'ts', files = documented(root)): Snippet[] {
  const out: Snippet[] = [];
  for (const file of files) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^(\s*)```(\w+)\s*$/.exec(lines[i]!);
      if (!open) continue;
      const indent = open[1]!.length;
      let end = i + 1;
      while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
      const illustration = i > 0 && lines[i - 1]!.trim() === '<!-- illustration -->';
      if (open[2] === lang && !illustration)
        out.push({
          file,
          line: i + 1,
          lang,
          code: lines
            .slice(i + 1, end)
            .map((l) => l.slice(indent))
            .join('\n'),
        });
      i = end;
    }
  }
  return out;
}
