import { GatewayError } from '../../errors.js';
// Standard Webhooks signing (https://www.standardwebhooks.com), symmetric scheme `v1`:
// base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)), key = base64-decoded secret after `whsec_`.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** The spec asks for at least 24 random bytes. */
const MIN_KEY_BYTES = 24;
const base64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Headers as a Fetch `Headers`, or a plain object such as Node's `req.headers`. */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** A new secret to share with a channel: `whsec_` + 32 random bytes in base64. */
export const generateSecret = (): string => SECRET_PREFIX + randomBytes(32).toString('base64');

/** The HMAC key of a secret; the `whsec_` prefix is optional, as in the reference libraries. */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  // Buffer.from skips bad characters silently; a mistyped secret must fail loudly instead.
  const key = base64.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
  if (key.length < MIN_KEY_BYTES) {
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      `Channel secret must be "${SECRET_PREFIX}" + base64 of at least ${MIN_KEY_BYTES} random bytes`,
    );
  }
  return key;
}

const hmac = (key: Buffer, id: string, timestamp: string, body: string | Uint8Array): string =>
  createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');

/** The `webhook-signature` value (`v1,<base64>`) of one attempt. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  // A dot or space in the id would make the signed string or the header ambiguous.
  if (!/^[^\s.]+$/.test(id))
    throw new GatewayError(
      'B24GW_BAD_INPUT',
      `Webhook id must be non-empty, without dots or spaces: ${JSON.stringify(id)}`,
    );
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new GatewayError('B24GW_BAD_INPUT', `Webhook timestamp must be unix seconds: ${timestamp}`);
  return `v1,${hmac(secretKey(secret), id, String(timestamp), body)}`;
}

/**
 * Whether a request carries a valid signature by any of `secrets` (several during a rotation)
 * and a timestamp within `toleranceSeconds` of now. `body` must be the raw body, unparsed.
 */
export function verifySignature(
  secrets: string | readonly string[],
  headers: HeaderSource,
  body: string | Uint8Array,
  toleranceSeconds = 300,
): boolean {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures || !/^[0-9]{1,15}$/.test(timestamp)) return false;
  if (Math.abs(Math.floor(Date.now() / 1000) - Number(timestamp)) > toleranceSeconds) return false;

  const given = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,')) // other schemes (v1a, ...) are not ours to check
    .map((s) => Buffer.from(s.slice(3)));
  const keys = (typeof secrets === 'string' ? [secrets] : secrets).map(secretKey);
  let ok = false;
  for (const key of keys) {
    const expected = Buffer.from(hmac(key, id, timestamp, body));
    // No early exit, so the time taken does not tell which entry matched.
    for (const sig of given) if (sig.length === expected.length && timingSafeEqual(sig, expected)) ok = true;
  }
  return ok;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return typeof value === 'string' ? value : value?.join(' ');
}
