import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { NewEvent, PortalChange } from './types.js';

/** The environment variable `openStore` reads the key from. */
export const SECRET_KEY_ENV = 'B24GW_SECRET_KEY';

/** Versioned, so that a later format or key can be told apart from this one. */
const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A 32-byte key from its text: 64 hex digits, or base64 (base64url too) of 32 bytes. */
export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) key = Buffer.from(t, 'base64');
  if (key?.length !== 32) {
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      `${SECRET_KEY_ENV} must be 32 bytes written as 64 hex digits or as base64 (e.g. \`openssl rand -base64 32\`); got ${key ? `${key.length} bytes` : 'neither'} (the key is not shown)`,
    );
  }
  return key;
}

/**
 * Encrypts the secrets a store keeps (OAuth tokens, handlers' secrets) with AES-256-GCM when it
 * has a key, and reads them back. Each value is bound to what it is (`what`: its column) and to
 * its portal, so a value copied into another portal's row or another column does not decrypt there.
 * Without a key, values are kept as they are; with one, a value kept before the key was set
 * (plain text) is still read, and is encrypted the next time it is written.
 */
export class SecretBox {
  private readonly key: Buffer | undefined;

  constructor(key?: string | Uint8Array) {
    this.key = key === undefined ? undefined : typeof key === 'string' ? parseSecretKey(key) : checkedKey(key);
  }

  get encrypts(): boolean {
    return this.key !== undefined;
  }

  seal(plain: string, what: SecretColumn, memberId: string): string;
  seal(plain: string | null, what: SecretColumn, memberId: string): string | null;
  seal(plain: string | null, what: SecretColumn, memberId: string): string | null {
    if (plain === null || !this.key) return plain;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${what}:${memberId}`));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(stored: string, what: SecretColumn, memberId: string): string;
  open(stored: string | null, what: SecretColumn, memberId: string): string | null;
  open(stored: string | null, what: SecretColumn, memberId: string): string | null {
    if (stored === null || !stored.startsWith(PREFIX)) return stored;
    const unreadable = (why: string) =>
      new GatewayError(
        'B24GW_SECRET_UNREADABLE',
        `A stored secret (${what} of portal ${memberId}) cannot be decrypted with ${SECRET_KEY_ENV}: ${why}`,
      );
    if (!this.key) throw unreadable('it is encrypted, and no key is set');
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw unreadable('it is cut short');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`${what}:${memberId}`));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw unreadable('it was encrypted with another key, or changed since');
    }
  }
}

/** The columns that hold secrets. */
export type SecretColumn = 'portals.access_token' | 'portals.refresh_token' | 'event_secrets.data';

function checkedKey(key: Uint8Array): Buffer {
  if (key.byteLength !== 32)
    throw new GatewayError('B24GW_BAD_CONFIG', `The secret key must be 32 bytes, not ${key.byteLength}`);
  return Buffer.from(key);
}

/** An install's OAuth pair as the portals table keeps it (encrypted when the store has a key). */
export function sealChange(change: PortalChange | undefined, box: SecretBox): PortalChange | undefined {
  if (change?.kind !== 'install' || !box.encrypts) return change;
  const p = change.portal;
  return {
    kind: 'install',
    portal: {
      ...p,
      accessToken: box.seal(p.accessToken, 'portals.access_token', p.memberId),
      refreshToken: box.seal(p.refreshToken, 'portals.refresh_token', p.memberId),
    },
  };
}

/** One encrypted value, if any (the same SQL on both stores): opening it at the start tells whether the key is the one it was written with. */
export const sampleSecretSql = `
  SELECT member_id AS "memberId", 'portals.access_token' AS what, access_token AS value FROM portals WHERE access_token LIKE 'enc:%'
  UNION ALL SELECT member_id, 'portals.refresh_token', refresh_token FROM portals WHERE refresh_token LIKE 'enc:%'
  UNION ALL SELECT e.member_id, 'event_secrets.data', s.data FROM event_secrets s JOIN events e ON e.id = s.event_id WHERE s.data LIKE 'enc:%'
  LIMIT 1`;

/** An encrypted value read at the start, with what it is. */
export interface SampleSecret {
  memberId: string;
  what: SecretColumn;
  value: string;
}

/**
 * Fails at the start, not on the first event, when the key is missing or is not the one the
 * stored secrets were written with.
 */
export function checkSecretKey(box: SecretBox, sample: SampleSecret | undefined): void {
  if (sample) box.open(sample.value, sample.what, sample.memberId);
}

/**
 * An event's secrets as event_secrets keeps them, or null: none, or the event will never run
 * (an invalid one), so nothing would ever erase them.
 */
export const sealedSecrets = (e: NewEvent, box: SecretBox): string | null =>
  e.secrets == null || e.status !== 'pending' ? null : box.seal(e.secrets, 'event_secrets.data', e.memberId);
