import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertBbcode, type TextFormat } from './bbcode.js';
import { safeHref } from './bbcode-tags.js';

interface Case {
  name: string;
  input: string;
  text: string;
  html: string;
  markdown: string;
}

// Every Markdown expectation here was also checked against the CommonMark
// reference implementation while writing the table (it is not a dependency).
const cases: Case[] = [
  {
    name: 'Open Lines operator line (seed)',
    input: '[b]Samantha Johnson:[/b][br] What questions do you have?',
    text: 'Samantha Johnson:\n What questions do you have?',
    html: '<b>Samantha Johnson:</b><br> What questions do you have?',
    markdown: '**Samantha Johnson:**\\\nWhat questions do you have?',
  },
  {
    name: 'connector sample with space before [br]',
    input: '[b]Klaus Weber:[/b] [br]Guten Tag!',
    text: 'Klaus Weber: \nGuten Tag!',
    html: '<b>Klaus Weber:</b> <br>Guten Tag!',
    markdown: '**Klaus Weber:**\\\nGuten Tag\\!',
  },
  {
    name: 'nested bold italic',
    input: '[b][i]x[/i][/b]',
    text: 'x',
    html: '<b><i>x</i></b>',
    markdown: '***x***',
  },
  {
    name: 'four levels of nesting',
    input: '[b]B[i]I[u]U[s]S[/s][/u][/i][/b]',
    text: 'BIUS',
    html: '<b>B<i>I<u>U<s>S</s></u></i></b>',
    markdown: '**B*IU~~S~~***',
  },
  {
    name: 'unclosed opener stays literal',
    input: '[b]never closed',
    text: '[b]never closed',
    html: '[b]never closed',
    markdown: '\\[b\\]never closed',
  },
  {
    name: 'stray closer stays literal',
    input: 'stray [/i] closer',
    text: 'stray [/i] closer',
    html: 'stray [/i] closer',
    markdown: 'stray \\[/i\\] closer',
  },
  {
    name: 'mis-nested: inner opener becomes literal',
    input: '[b][i]x[/b][/i]',
    text: '[i]x[/i]',
    html: '<b>[i]x</b>[/i]',
    markdown: '**\\[i\\]x**\\[/i\\]',
  },
  {
    name: 'outer closes first',
    input: '[b]bold [i]oops[/b] more',
    text: 'bold [i]oops more',
    html: '<b>bold [i]oops</b> more',
    markdown: '**bold \\[i\\]oops** more',
  },
  {
    name: 'unclosed url stays literal',
    input: '[url=https://a.example]x',
    text: '[url=https://a.example]x',
    html: '[url=https://a.example]x',
    markdown: '\\[url\\=https://a\\.example\\]x',
  },
  {
    name: 'XSS in text',
    input: '<script>alert("x")</script>',
    text: '<script>alert("x")</script>',
    html: '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;',
    markdown: '\\<script\\>alert\\("x"\\)\\</script\\>',
  },
  {
    name: 'XSS with quotes and ampersands',
    input: '<img src=x onerror="alert(\'1\')"> & co',
    text: '<img src=x onerror="alert(\'1\')"> & co',
    html: '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; co',
    markdown: '\\<img src\\=x onerror\\="alert\\(\'1\'\\)"\\> \\& co',
  },
  {
    name: 'javascript: target',
    input: '[url=javascript:alert(1)]click[/url]',
    text: 'click',
    html: 'click',
    markdown: 'click',
  },
  {
    name: 'javascript: as [url] body',
    input: '[url]javascript:alert(1)[/url]',
    text: 'javascript:alert(1)',
    html: 'javascript:alert(1)',
    markdown: 'javascript:alert\\(1\\)',
  },
  {
    name: 'mixed-case scheme and tab obfuscation',
    input: '[url=JaVaScRiPt:alert(1)]a[/url] [url=java\tscript:alert(1)]b[/url]',
    text: 'a b',
    html: 'a b',
    markdown: 'a b',
  },
  {
    name: 'data: target',
    input: '[url=data:text/html;base64,PHNjcmlwdD4=]d[/url]',
    text: 'd',
    html: 'd',
    markdown: 'd',
  },
  {
    name: 'empty [url=] target',
    input: '[url=]empty[/url]',
    text: 'empty',
    html: 'empty',
    markdown: 'empty',
  },
  {
    name: 'empty url body',
    input: 'a[url][/url]b',
    text: 'ab',
    html: 'ab',
    markdown: 'ab',
  },
  {
    name: 'url with parentheses, underscore and query',
    input: '[url=https://example.com/a_(b)?x=1&y=2]Example[/url]',
    text: 'Example (https://example.com/a_(b)?x=1&y=2)',
    html: '<a href="https://example.com/a_(b)?x=1&amp;y=2" rel="noopener noreferrer">Example</a>',
    markdown: '[Example](https://example.com/a_\\(b\\)?x=1&y=2)',
  },
  {
    name: 'bare [url]',
    input: '[url]https://example.com/path[/url]',
    text: 'https://example.com/path',
    html: '<a href="https://example.com/path" rel="noopener noreferrer">https://example.com/path</a>',
    markdown: '[https://example\\.com/path](https://example.com/path)',
  },
  {
    name: 'quoted url value',
    input: "[url='https://example.com']site[/url]",
    text: 'site (https://example.com)',
    html: '<a href="https://example.com" rel="noopener noreferrer">site</a>',
    markdown: '[site](https://example.com)',
  },
  {
    name: 'attribute injection after quoted url',
    input: '[url="https://example.com" onclick="x"]q[/url]',
    text: 'q',
    html: 'q',
    markdown: 'q',
  },
  {
    name: 'quotes inside url',
    input: '[url=https://a.example/"onmouseover="alert(1)]x[/url]',
    text: 'x (https://a.example/"onmouseover="alert(1))',
    html: '<a href="https://a.example/&quot;onmouseover=&quot;alert(1)" rel="noopener noreferrer">x</a>',
    markdown: '[x](https://a.example/"onmouseover="alert\\(1\\))',
  },
  {
    name: 'entity-like sequence in url',
    input: '[url=https://a.example/?q=&lt;b]x[/url]',
    text: 'x (https://a.example/?q=&lt;b)',
    html: '<a href="https://a.example/?q=&amp;lt;b" rel="noopener noreferrer">x</a>',
    markdown: '[x](https://a.example/?q=\\&lt;b)',
  },
  {
    name: 'emphasis characters in text',
    input: '*not bold* _nor italic_ ~~nor struck~~',
    text: '*not bold* _nor italic_ ~~nor struck~~',
    html: '*not bold* _nor italic_ ~~nor struck~~',
    markdown: '\\*not bold\\* \\_nor italic\\_ \\~\\~nor struck\\~\\~',
  },
  {
    name: 'markdown link injection',
    input: '[x](javascript:alert(1)) ![i](https://t.example/p.png)',
    text: '[x](javascript:alert(1)) ![i](https://t.example/p.png)',
    html: '[x](javascript:alert(1)) ![i](https://t.example/p.png)',
    markdown: '\\[x\\]\\(javascript:alert\\(1\\)\\) \\!\\[i\\]\\(https://t\\.example/p\\.png\\)',
  },
  {
    name: 'heading marker',
    input: '# heading',
    text: '# heading',
    html: '# heading',
    markdown: '\\# heading',
  },
  {
    name: 'list, quote and setext markers at line starts',
    input: '1. item\n- item\n+ item\n> quote\n===\n---',
    text: '1. item\n- item\n+ item\n> quote\n===\n---',
    html: '1. item<br>- item<br>+ item<br>&gt; quote<br>===<br>---',
    markdown: '1\\. item\\\n\\- item\\\n\\+ item\\\n\\> quote\\\n\\=\\=\\=\\\n\\-\\-\\-',
  },
  {
    name: 'table and html in text',
    input: '| a | b |\n<div>x</div>',
    text: '| a | b |\n<div>x</div>',
    html: '| a | b |<br>&lt;div&gt;x&lt;/div&gt;',
    markdown: '\\| a \\| b \\|\\\n\\<div\\>x\\</div\\>',
  },
  {
    name: 'backticks and entities in text',
    input: '`code` ``` &copy; &amp; AT&T \\ end\\',
    text: '`code` ``` &copy; &amp; AT&T \\ end\\',
    html: '`code` ``` &amp;copy; &amp;amp; AT&amp;T \\ end\\',
    markdown: '\\`code\\` \\`\\`\\` \\&copy; \\&amp; AT\\&T \\\\ end\\\\',
  },
  {
    name: 'code keeps BB-code and backticks verbatim',
    input: '[code][b]x[/b] ``` `y` <i>[/code]',
    text: '[b]x[/b] ``` `y` <i>',
    html: '<pre><code>[b]x[/b] ``` `y` &lt;i&gt;</code></pre>',
    markdown: '````\n[b]x[/b] ``` `y` <i>\n````',
  },
  {
    name: 'code block between lines',
    input: 'before [code]\nline1\n  line2\n[/code]\nafter',
    text: 'before \nline1\n  line2\nafter',
    html: 'before <pre><code>line1\n  line2</code></pre>after',
    markdown: 'before\n\n```\nline1\n  line2\n```\n\nafter',
  },
  {
    name: 'code inside quote',
    input: '[quote]see:\n[code]a *b*\nc[/code][/quote]',
    text: '> see:\n> a *b*\n> c',
    html: '<blockquote>see:<br><pre><code>a *b*\nc</code></pre></blockquote>',
    markdown: '> see:\n>\n> ```\n> a *b*\n> c\n> ```',
  },
  {
    name: 'unclosed code is literal and the rest is parsed',
    input: '[code][b]x[/b]',
    text: '[code]x',
    html: '[code]<b>x</b>',
    markdown: '\\[code\\]**x**',
  },
  {
    name: 'stray [/code]',
    input: 'x[/code]y',
    text: 'x[/code]y',
    html: 'x[/code]y',
    markdown: 'x\\[/code\\]y',
  },
  {
    name: 'unicode and emoji',
    input: 'Привет 👋🏽 [b]мир[/b] 日本語',
    text: 'Привет 👋🏽 мир 日本語',
    html: 'Привет 👋🏽 <b>мир</b> 日本語',
    markdown: 'Привет 👋🏽 **мир** 日本語',
  },
  {
    name: 'empty tags',
    input: '[b][/b][i] [/i][quote][/quote][code][/code]ok',
    text: ' ok',
    html: '<b></b><i> </i>ok',
    markdown: 'ok',
  },
  {
    name: 'br variants',
    input: 'a[br]b[BR]c[br/]d[br /]e#BR#f#br#g',
    text: 'a\nb\nc\nd\ne\nf#br#g',
    html: 'a<br>b<br>c<br>d<br>e<br>f#br#g',
    markdown: 'a\\\nb\\\nc\\\nd\\\ne\\\nf\\#br\\#g',
  },
  {
    name: 'tag names in any case',
    input: '[B]Up[/b] [I]low[/I] [S]st[/s] [U]un[/u]',
    text: 'Up low st un',
    html: '<b>Up</b> <i>low</i> <s>st</s> <u>un</u>',
    markdown: '**Up** *low* ~~st~~ un',
  },
  {
    name: 'user mentions',
    input: '[USER=12]Samantha[/USER], [user=13][/user], [USER=5 REPLACE]Bob[/USER], [USER=all]All[/USER]',
    text: 'Samantha, User 13, Bob, All',
    html: 'Samantha, User 13, Bob, All',
    markdown: 'Samantha, User 13, Bob, All',
  },
  {
    name: 'chat mentions',
    input: '[CHAT=5]Team[/CHAT] [chat=imol|789]Line[/chat] [chat=6][/chat]',
    text: 'Team Line Chat 6',
    html: 'Team Line Chat 6',
    markdown: 'Team Line Chat 6',
  },
  {
    name: 'send and put commands',
    input: '[send=/help]Help[/send] [put=/search ]Search[/put] [SEND]go[/SEND] [put=/x][/put]',
    text: 'Help Search go /x',
    html: 'Help Search go /x',
    markdown: 'Help Search go /x',
  },
  {
    name: 'icons',
    input: '[icon=https://x.example/i.png size=20 title=Smiling face] and [icon=https://x.example/j.png]',
    text: 'Smiling face and https://x.example/j.png',
    html: 'Smiling face and https://x.example/j.png',
    markdown: 'Smiling face and https://x\\.example/j\\.png',
  },
  {
    name: 'icon with quoted title',
    input: '[icon=https://x.example/i.png title="Hi <b>" size=20]',
    text: 'Hi <b>',
    html: 'Hi &lt;b&gt;',
    markdown: 'Hi \\<b\\>',
  },
  {
    name: 'image',
    input: '[img size=medium]https://x.example/p.jpg [/img] [img]javascript:alert(1)[/img]',
    text: 'https://x.example/p.jpg javascript:alert(1)',
    html: '<a href="https://x.example/p.jpg" rel="noopener noreferrer">https://x.example/p.jpg</a> javascript:alert(1)',
    markdown: '[https://x\\.example/p\\.jpg](https://x.example/p.jpg) javascript:alert\\(1\\)',
  },
  {
    name: 'file, attach and rating markers',
    input: '[DISK=12] [ATTACH=3] [LIKE] [DISLIKE] [RATING=5] [disk=x]',
    text: '[file] [attachment] [like] [dislike] [rating 5] [disk=x]',
    html: '[file] [attachment] [like] [dislike] [rating 5] [disk=x]',
    markdown: '\\[file\\] \\[attachment\\] \\[like\\] \\[dislike\\] \\[rating 5\\] \\[disk\\=x\\]',
  },
  {
    name: 'call history and context',
    input: '[PCH=3]Call history[/PCH] [context=chat12/34]link[/context]',
    text: 'Call history link',
    html: 'Call history link',
    markdown: 'Call history link',
  },
  {
    name: 'color and size',
    input: '[color=#ff0000]red[/color] [size=20]big[/size] [color=red]x[/color]',
    text: 'red big [color=red]x[/color]',
    html: 'red big [color=red]x[/color]',
    markdown: 'red big \\[color\\=red\\]x\\[/color\\]',
  },
  {
    name: 'tables are not IM BB-code',
    input: '[table][tr][td]1[/td][/tr][/table]',
    text: '[table][tr][td]1[/td][/tr][/table]',
    html: '[table][tr][td]1[/td][/tr][/table]',
    markdown: '\\[table\\]\\[tr\\]\\[td\\]1\\[/td\\]\\[/tr\\]\\[/table\\]',
  },
  {
    name: 'unknown tags and near-tags',
    input: '[foo]bar[/foo] [b=1]x[/b] [b ]y [ b]',
    text: '[foo]bar[/foo] [b=1]x[/b] [b ]y [ b]',
    html: '[foo]bar[/foo] [b=1]x[/b] [b ]y [ b]',
    markdown: '\\[foo\\]bar\\[/foo\\] \\[b\\=1\\]x\\[/b\\] \\[b \\]y \\[ b\\]',
  },
  {
    name: '>> quote lines',
    input: '>>first\n>>second\nafter a >> b',
    text: '> first\n> second\nafter a >> b',
    html: '<blockquote>first<br>second</blockquote>after a &gt;&gt; b',
    markdown: '> first\\\n> second\n\nafter a \\>\\> b',
  },
  {
    name: 'Bitrix dashed quote',
    input:
      'Hi\n------------------------------------------------------\nJohn Doe [08.04.2016 13:06:49]\nHello everyone!\n------------------------------------------------------\nThanks',
    text: 'Hi\n> John Doe [08.04.2016 13:06:49]\n> Hello everyone!\nThanks',
    html: 'Hi<br><blockquote>John Doe [08.04.2016 13:06:49]<br>Hello everyone!</blockquote>Thanks',
    markdown: 'Hi\n\n> John Doe \\[08\\.04\\.2016 13:06:49\\]\\\n> Hello everyone\\!\n\nThanks',
  },
  {
    name: 'single dashed line is literal',
    input: 'x\n------------------------------------------------------\ny',
    text: 'x\n------------------------------------------------------\ny',
    html: 'x<br>------------------------------------------------------<br>y',
    markdown:
      'x\\\n\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\-\\\ny',
  },
  {
    name: 'quote with formatting across lines',
    input: '[quote]q1\n[b]bold\nline[/b][/quote]\nnext',
    text: '> q1\n> bold\n> line\nnext',
    html: '<blockquote>q1<br><b>bold<br>line</b></blockquote>next',
    markdown: '> q1\\\n> **bold**\\\n> **line**\n\nnext',
  },
  {
    name: 'nested quotes',
    input: '[quote][quote]in[/quote]out[/quote]',
    text: '> > in\n> out',
    html: '<blockquote><blockquote>in</blockquote>out</blockquote>',
    markdown: '> > in\n>\n> out',
  },
  {
    name: 'block inside bold',
    input: '[b]a[quote]b[/quote]c[/b]',
    text: 'a\n> b\nc',
    html: '<b>a<blockquote>b</blockquote>c</b>',
    markdown: '**a**\n\n> **b**\n\n**c**',
  },
  {
    name: 'whitespace inside bold',
    input: '[b] padded [/b]x',
    text: ' padded x',
    html: '<b> padded </b>x',
    markdown: '**padded** x',
  },
  {
    name: 'blank lines',
    input: 'a\n\nb\n\n\nc',
    text: 'a\n\nb\n\n\nc',
    html: 'a<br><br>b<br><br><br>c',
    markdown: 'a\\\n\\\nb\\\n\\\n\\\nc',
  },
  {
    name: 'leading and trailing newlines',
    input: '\n\nlead\n',
    text: '\n\nlead\n',
    html: '<br><br>lead<br>',
    markdown: 'lead',
  },
  {
    name: 'adjacent same styles merge',
    input: '[i]a[/i][i]b[/i] [b]x[/b][b]y[/b]',
    text: 'ab xy',
    html: '<i>a</i><i>b</i> <b>x</b><b>y</b>',
    markdown: '*ab* **xy**',
  },
  {
    name: 'formatting inside link',
    input: '[url=https://a.example][b]bold[/b] link[/url]',
    text: 'bold link (https://a.example)',
    html: '<a href="https://a.example" rel="noopener noreferrer"><b>bold</b> link</a>',
    markdown: '[**bold** link](https://a.example)',
  },
  {
    name: 'link inside formatting',
    input: '[b]x[url=https://a.example]y[/url]z[/b]',
    text: 'xy (https://a.example)z',
    html: '<b>x<a href="https://a.example" rel="noopener noreferrer">y</a>z</b>',
    markdown: '**x[y](https://a.example)z**',
  },
  {
    name: 'nested links keep only the outer one',
    input: '[url=https://a.example]a[url=https://b.example]b[/url][/url]',
    text: 'ab (https://a.example)',
    html: '<a href="https://a.example" rel="noopener noreferrer">ab</a>',
    markdown: '[ab](https://a.example)',
  },
  {
    name: 'line break inside link label',
    input: '[url=https://a.example]x\ny[/url]',
    text: 'x y (https://a.example)',
    html: '<a href="https://a.example" rel="noopener noreferrer">x y</a>',
    markdown: '[x y](https://a.example)',
  },
  {
    name: 'indentation',
    input: '    indented\n\tTab',
    text: '    indented\n\tTab',
    html: '    indented<br>\tTab',
    markdown: 'indented\\\nTab',
  },
  {
    name: 'mailto and tel',
    input: '[url=mailto:a@b.example]a@b.example[/url] [url=tel:+123]call[/url] [url=ftp://f.example]ftp[/url]',
    text: 'a@b.example call (tel:+123) ftp',
    html: '<a href="mailto:a@b.example" rel="noopener noreferrer">a@b.example</a> <a href="tel:+123" rel="noopener noreferrer">call</a> ftp',
    markdown: '[a@b\\.example](mailto:a@b.example) [call](tel:+123) ftp',
  },
  {
    name: 'CRLF and control characters',
    input: 'a\r\nb\u0000c\u001bd\u007f\u0085e\rf',
    text: 'a\nbcde\nf',
    html: 'a<br>bcde<br>f',
    markdown: 'a\\\nbcde\\\nf',
  },
  {
    name: 'lone surrogate',
    input: 'x\ud800y',
    text: 'x\ufffdy',
    html: 'x\ufffdy',
    markdown: 'x\ufffdy',
  },
  {
    name: 'punctuation at an emphasis edge next to a letter',
    input: '[b]Name:[/b]Hello, see[b].5[/b] and [i]there,[/i]friend',
    text: 'Name:Hello, see.5 and there,friend',
    html: '<b>Name:</b>Hello, see<b>.5</b> and <i>there,</i>friend',
    markdown: '**Name**:Hello, see\\.**5** and *there*,friend',
  },
  {
    name: 'emphasis inside a word',
    input: 'foo[i]bar[/i]baz un[b]believ[/b]able',
    text: 'foobarbaz unbelievable',
    html: 'foo<i>bar</i>baz un<b>believ</b>able',
    markdown: 'foo*bar*baz un**believ**able',
  },
  {
    name: 'nesting past the depth limit is literal',
    input: '[b]'.repeat(40) + 'x' + '[/b]'.repeat(40),
    text: '[b]'.repeat(8) + 'x' + '[/b]'.repeat(8),
    html: '<b>'.repeat(32) + '[b]'.repeat(8) + 'x' + '</b>'.repeat(32) + '[/b]'.repeat(8),
    markdown: '**' + '\\[b\\]'.repeat(8) + 'x**' + '\\[/b\\]'.repeat(8),
  },
  {
    name: 'long run of unclosed openers',
    input: '[b]'.repeat(10_000) + 'x',
    text: '[b]'.repeat(10_000) + 'x',
    html: '[b]'.repeat(10_000) + 'x',
    markdown: '\\[b\\]'.repeat(10_000) + 'x',
  },
];

const formats: TextFormat[] = ['text', 'html', 'markdown'];

describe('convertBbcode', () => {
  it.each(cases)('$name', (c) => {
    expect({
      text: convertBbcode(c.input, 'text'),
      html: convertBbcode(c.input, 'html'),
      markdown: convertBbcode(c.input, 'markdown'),
    }).toEqual({ text: c.text, html: c.html, markdown: c.markdown });
  });

  it('has at least 40 table rows', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });
});

// Mutation runs (vitest.mutation.config.ts) use 64 KB: 1 MB held each bbcode mutant for about 7 s (the hostile cases alone).
const SIZE = Number(process.env.B24GW_HOSTILE_BYTES ?? 1 << 20);

describe(`hostile ${SIZE >> 10} KB inputs`, () => {
  const inputs: Record<string, string> = {
    'unclosed [b]': '[b]'.repeat(SIZE / 3),
    'bare [': '['.repeat(SIZE),
    'openers then closers': '[b]'.repeat(SIZE / 8) + '[/b]'.repeat(SIZE / 8),
    'mis-nested pairs': '[b][i]x[/b][/i]'.repeat(SIZE / 15),
    'unclosed [code]': '[code]'.repeat(SIZE / 6),
    'unterminated [url=': '[url='.repeat(SIZE / 5),
    'one endless tag': '[url=' + 'a'.repeat(SIZE),
    '>> lines': '>>[b]x\n'.repeat(SIZE / 7),
    'dash lines': ('-'.repeat(54) + '\n').repeat(SIZE / 55),
    newlines: '\n'.repeat(SIZE),
  };
  // No timing assertion: a quadratic path would not finish within the test
  // timeout at this size, which is the check.
  for (const [name, input] of Object.entries(inputs)) {
    it(name, () => {
      for (const format of formats) {
        const out = convertBbcode(input, format);
        expect(out.length).toBeLessThanOrEqual(input.length * 4);
      }
    });
  }
});

// Fragments that make for dense, often broken markup.
const fragment = fc.constantFrom(
  '[b]',
  '[/b]',
  '[i]',
  '[/i]',
  '[u]',
  '[/U]',
  '[s]',
  '[/s]',
  '[br]',
  '\n',
  '[quote]',
  '[/quote]',
  '[code]',
  '[/code]',
  '[url]',
  '[url=https://a.example/?x=1&y=2]',
  '[url=javascript:alert(1)]',
  '[url="https://a.example" x="y"]',
  '[/url]',
  '[img]',
  '[/img]',
  '[USER=1]',
  '[/USER]',
  '[icon=https://i.example/i.png title=t]',
  '[DISK=1]',
  '>>',
  '-'.repeat(54),
  'https://x.example',
  'javascript:',
  '<',
  '>',
  '"',
  "'",
  '&',
  '*',
  '_',
  '`',
  '#',
  ' ',
  'text',
  '[',
  ']',
  '=',
  '(',
  ')',
);
const markup = fc.array(fragment, { maxLength: 40 }).map((parts) => parts.join(''));

describe('properties', () => {
  it('HTML contains only the tags it emits and only safe links', () => {
    const allowed =
      /<\/?(?:b|i|u|s|blockquote|pre|code)>|<br>|<\/a>|<a href="(?:https?:\/\/|mailto:|tel:)[^"<>]*" rel="noopener noreferrer">/g;
    fc.assert(
      fc.property(markup, (s) => {
        expect(convertBbcode(s, 'html').replace(allowed, '')).not.toMatch(/[<>"']/);
      }),
      { numRuns: 500 },
    );
  });

  it('plain text keeps no control characters besides newline and tab', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), markup, (a, b) => {
        // eslint-disable-next-line no-control-regex -- looking for control characters is the point
        expect(convertBbcode(a + b, 'text')).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      }),
    );
  });

  it('text without markup survives every format unchanged', () => {
    const unmarked = fc
      .string({ maxLength: 80 })
      .filter((s) => !/[[\n\r#]/.test(s) && !s.startsWith('>>') && !s.includes('-'.repeat(54)));
    const unescapeHtml = (s: string): string =>
      s.replace(
        /&(amp|lt|gt|quot|#39);/g,
        (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? '',
      );
    fc.assert(
      fc.property(unmarked, (s) => {
        expect(convertBbcode(s, 'text')).toBe(s);
        expect(unescapeHtml(convertBbcode(s, 'html'))).toBe(s);
        // Markdown drops only edge whitespace; every other character survives behind a backslash.
        expect(convertBbcode(s, 'markdown').replace(/\\([!-/:-@[-`{-~])/g, '$1')).toBe(s.trim());
      }),
      { numRuns: 500 },
    );
  });
});

describe('safeHref: which link targets are emitted', () => {
  it.each([
    ['https://a.example/x?y=1', 'https://a.example/x?y=1'],
    ['  HTTPS://A.example  ', 'HTTPS://A.example'],
    ['http://a.example', 'http://a.example'],
    ['mailto:a@b.example', 'mailto:a@b.example'],
    ['tel:+4930123', 'tel:+4930123'],
  ])('keeps %j', (raw, href) => {
    expect(safeHref(raw)).toBe(href);
  });
  it.each([
    '',
    '   ',
    'https://a.example/x y',
    'https://a\u0000.example',
    'https://a.example\u007f',
    'javascript:alert(1)',
    'data:text/html,x',
    '1https://a.example',
    '//a.example',
    'http:/a.example',
    'https:///a.example',
    'mailto:',
    'tel:',
  ])('refuses %j', (raw) => {
    expect(safeHref(raw)).toBeNull();
  });
});

describe('tag values are checked whole', () => {
  it.each([
    ['[color=#ff0000]a[/color]', 'a'],
    ['[color=#f00]a[/color]', 'a'],
    ['[size=12pt]a[/size]', 'a'],
    ['[rating=5]', '[rating 5]'],
    ['[disk=12]', '[file]'],
  ])('%j is a tag', (input, text) => {
    expect(convertBbcode(input, 'text')).toBe(text);
  });
  it.each([
    '[color=#ff0000x]a[/color]',
    '[color=x#ff0000]a[/color]',
    '[color=#ff00]a[/color]',
    '[color=#gg0000]a[/color]',
    '[size=12ptx]a[/size]',
    '[size=x12]a[/size]',
    '[rating=55]',
    '[rating=x5]',
    '[disk=12x]',
    '[disk=x12]',
  ])('%j stays text', (input) => {
    expect(convertBbcode(input, 'text')).toBe(input);
  });
});
