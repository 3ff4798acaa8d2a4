/** Names whose values are secrets wherever they appear: in `auth`, in a bot's entry, in its `AUTH`. */
export const secretNames: ReadonlySet<string> = new Set(['access_token', 'refresh_token', 'application_token', 'client_secret']);

export const REDACTED = 'REDACTED';

const lastName = (encodedName: string): string => {
  let name: string;
  try {
    name = decodeURIComponent(encodedName.replaceAll('+', ' '));
  } catch {
    name = encodedName;
  }
  const open = name.lastIndexOf('[');
  return open >= 0 ? name.slice(open + 1).replace(/\]$/, '') : name;
};

/** The form body with every secret's value replaced; everything else byte for byte. */
export function redactForm(body: string): string {
  return body
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0 || !secretNames.has(lastName(pair.slice(0, eq)))) return pair;
      return `${pair.slice(0, eq + 1)}${REDACTED}`;
    })
    .join('&');
}

/** JSON text of a value with the named keys' values replaced. */
export function redactedJson(value: unknown, names: ReadonlySet<string> = secretNames): string {
  return JSON.stringify(value, (key, v: unknown) => (names.has(key) && typeof v === 'string' ? REDACTED : v));
}
