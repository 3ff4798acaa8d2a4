// ANSI colours and shortening of values for the demo's transcript.

export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  ok(s: string): string;
  bad(s: string): string;
  b24(s: string): string;
  gw(s: string): string;
  ch(s: string): string;
}

export function painter(on: boolean): Paint {
  const wrap = (open: number, close: number) => (s: string) => (on ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    ok: wrap(32, 39),
    bad: wrap(31, 39),
    b24: wrap(36, 39),
    gw: wrap(35, 39),
    ch: wrap(33, 39),
  };
}

export const short = (s: unknown, n = 8): string => {
  const text = String(s ?? '');
  return text.length > n ? `${text.slice(0, n)}...` : text;
};

export const quote = (s: unknown, n = 72): string => {
  const text = JSON.stringify(String(s ?? ''));
  return text.length > n ? `${text.slice(0, n - 2)}..."` : text;
};

export const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
