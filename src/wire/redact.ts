/** Names whose values are secrets wherever they appear: in `auth`, in a bot's entry, in its `AUTH`. */
export const secretNames: ReadonlySet<string> = new Set([
  'access_token',
  'refresh_token',
  'application_token',
  'client_secret',
]);

export const REDACTED = 'REDACTED';

/** The body with the value ranges the form decoder reported as secrets replaced; everything else byte for byte. */
export function redactRanges(body: string, ranges: readonly number[]): string {
  if (ranges.length === 0) return body;
  let out = '';
  let from = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    out += body.slice(from, ranges[i]) + REDACTED;
    from = ranges[i + 1]!;
  }
  return out + body.slice(from);
}

/** JSON text of a value with the named keys' values replaced. */
export function redactedJson(value: unknown, names: ReadonlySet<string> = secretNames): string {
  return JSON.stringify(value, (key, v: unknown) => (names.has(key) && typeof v === 'string' ? REDACTED : v));
}
