// Builds a tree from tokens with an explicit stack.
//
// Broken markup policy (one rule, applied everywhere): a tag is formatting only
// when its own closer arrives in proper nesting. So
//  - an opener never closed (by end of input, or because an outer tag closed
//    first, e.g. [b][i]x[/b]) is shown as its literal source text;
//  - a closer with no open tag of that name is shown literally.
// This keeps every character of the message visible and mirrors Bitrix, whose
// own renderer leaves unmatched tags as text. ">>" quotes are line-based, so
// they end at the first line not starting with ">>" and are never unmatched.

import type { Token } from './bbcode-tokenize.js';

export type BbNode =
  | { kind: 'text'; text: string }
  | { kind: 'break' }
  | { kind: 'code'; text: string }
  | { kind: 'void'; name: string; value: string }
  | { kind: 'tag'; name: string; value: string; children: BbNode[] };

interface Frame {
  name: string; // tag name, or 'dash' / 'arrow' for Bitrix quote syntax
  value: string;
  raw: string;
  children: BbNode[];
}

// Deeper nesting is shown literally; this bounds recursion in the renderers
// and the cost of unwrapping unclosed tags.
const MAX_DEPTH = 32;

export function parse(tokens: Token[]): BbNode[] {
  const root: BbNode[] = [];
  const stack: Frame[] = [];
  // How many frames of each name are open: lets a closer with no opener be
  // rejected in O(1) instead of scanning the stack.
  const openCount = new Map<string, number>();
  const count = (name: string): number => openCount.get(name) ?? 0;
  const top = (): BbNode[] => stack[stack.length - 1]?.children ?? root;

  const append = (list: BbNode[], node: BbNode): void => {
    const last = list[list.length - 1];
    if (node.kind === 'text' && last?.kind === 'text') last.text += node.text;
    else list.push(node);
  };
  const pushText = (text: string): void => append(top(), { kind: 'text', text });

  const pushFrame = (name: string, value: string, raw: string): void => {
    if (stack.length >= MAX_DEPTH) return pushText(raw);
    stack.push({ name, value, raw, children: [] });
    openCount.set(name, count(name) + 1);
  };

  const popFrame = (asTag: boolean): void => {
    const f = stack.pop();
    if (!f) return;
    openCount.set(f.name, count(f.name) - 1);
    const parent = top();
    if (asTag) {
      append(parent, finish(f));
      return;
    }
    append(parent, { kind: 'text', text: f.raw });
    for (const child of f.children) append(parent, child);
  };

  // Close the nearest open `name`; anything opened after it was mis-nested.
  const closeTo = (name: string): void => {
    while (stack.length > 0 && stack[stack.length - 1]?.name !== name) {
      popFrame(stack[stack.length - 1]?.name === 'arrow');
    }
    popFrame(true);
  };

  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k] as Token;
    switch (tok.t) {
      case 'text':
        pushText(tok.v);
        break;
      case 'br':
        if (count('arrow') > 0) {
          if (tokens[k + 1]?.t === 'arrow') {
            top().push({ kind: 'break' });
            k++;
            break;
          }
          closeTo('arrow');
        }
        top().push({ kind: 'break' });
        break;
      case 'open':
        pushFrame(tok.name, tok.value, tok.raw);
        break;
      case 'close':
        if (count(tok.name) > 0) closeTo(tok.name);
        else pushText(tok.raw);
        break;
      case 'void':
        top().push({ kind: 'void', name: tok.name, value: tok.value });
        break;
      case 'code':
        top().push({ kind: 'code', text: tok.v });
        break;
      case 'dash':
        if (count('dash') > 0) closeTo('dash');
        else pushFrame('dash', '', tok.raw);
        break;
      case 'arrow':
        pushFrame('arrow', '', '>>');
        break;
    }
  }
  while (stack.length > 0) popFrame(stack[stack.length - 1]?.name === 'arrow');
  return root;
}

function finish(f: Frame): BbNode {
  if (f.name === 'dash' || f.name === 'arrow' || f.name === 'quote') {
    return { kind: 'tag', name: 'quote', value: '', children: trimBreaks(f.children) };
  }
  return { kind: 'tag', name: f.name, value: f.value, children: f.children };
}

// The line breaks just inside a quote's delimiters belong to the delimiters.
function trimBreaks(nodes: BbNode[]): BbNode[] {
  const a = nodes[0]?.kind === 'break' ? 1 : 0;
  const b = nodes.length > a && nodes[nodes.length - 1]?.kind === 'break' ? nodes.length - 1 : nodes.length;
  return a === 0 && b === nodes.length ? nodes : nodes.slice(a, b);
}
