import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { GatewayError } from '../errors.js';
import { openStore } from './open.js';
import { newEvent } from '../../test/store/conformance.js';
import { checkSecretKey, parseSecretKey, sealChange, sealedSecrets, SecretBox } from './secret-box.js';
import type { PortalChange, PortalRecord } from './types.js';
import type { SqliteStore } from './sqlite/store.js';

const key = Buffer.alloc(32, 1);
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof GatewayError) return e.code;
    throw e;
  }
  return undefined;
};

describe('SecretBox', () => {
  it('takes a 32-byte key as hex or base64, and refuses any other with a config error', () => {
    expect(parseSecretKey(key.toString('hex'))).toEqual(key);
    expect(parseSecretKey(key.toString('base64'))).toEqual(key);
    expect(parseSecretKey(` ${key.toString('base64url')}\n`)).toEqual(key);
    for (const bad of [
      '',
      'short',
      Buffer.alloc(16).toString('base64'),
      Buffer.alloc(31).toString('hex'),
      Buffer.alloc(33).toString('base64'),
      'not base64 at all!',
    ]) {
      expect(codeOf(() => parseSecretKey(bad))).toBe('B24GW_BAD_CONFIG');
    }
    expect(codeOf(() => new SecretBox(new Uint8Array(16)))).toBe('B24GW_BAD_CONFIG');
  });

  it('seals with a fresh IV each time, in the versioned format, and opens what it sealed', () => {
    const box = new SecretBox(key);
    const a = box.seal('token-1', 'portals.access_token', 'm1');
    const b = box.seal('token-1', 'portals.access_token', 'm1');
    expect(a).toMatch(/^enc:v1:[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('token-1');
    expect(box.open(a, 'portals.access_token', 'm1')).toBe('token-1');
    expect(box.open(b, 'portals.access_token', 'm1')).toBe('token-1');
    expect(box.seal(null, 'portals.access_token', 'm1')).toBeNull();
  });

  it('keeps values as they are without a key, and reads plain values with one', () => {
    expect(new SecretBox().seal('token-1', 'portals.access_token', 'm1')).toBe('token-1');
    expect(new SecretBox(key).open('plain-token', 'portals.access_token', 'm1')).toBe('plain-token');
  });

  it('refuses a value under another key, none, another portal or column, or changed, naming B24GW_SECRET_KEY', () => {
    const sealed = new SecretBox(key).seal('token-1', 'portals.access_token', 'm1');
    // A character in the middle: the last ones of base64url may only carry padding bits, which decode to the same bytes.
    const mid = Math.floor(sealed.length / 2);
    const changed = `${sealed.slice(0, mid)}${sealed[mid] === 'A' ? 'B' : 'A'}${sealed.slice(mid + 1)}`;
    const tries: (() => unknown)[] = [
      () => new SecretBox(Buffer.alloc(32, 2)).open(sealed, 'portals.access_token', 'm1'),
      () => new SecretBox().open(sealed, 'portals.access_token', 'm1'),
      () => new SecretBox(key).open(sealed, 'portals.access_token', 'm2'),
      () => new SecretBox(key).open(sealed, 'portals.refresh_token', 'm1'),
      () => new SecretBox(key).open(changed, 'portals.access_token', 'm1'),
      () => new SecretBox(key).open('enc:v1:AAAA', 'portals.access_token', 'm1'),
    ];
    for (const t of tries) {
      expect(codeOf(t)).toBe('B24GW_SECRET_UNREADABLE');
      expect(() => t()).toThrow(/B24GW_SECRET_KEY/);
    }
  });
});

describe('what is sealed, and why a value is refused', () => {
  const portal: PortalRecord = {
    memberId: 'm1',
    domain: 'a.bitrix24.com',
    applicationToken: 'app',
    accessToken: 'acc-token',
    refreshToken: 'ref-token',
    expiresAt: 1,
    clientEndpoint: null,
    serverEndpoint: null,
    scope: 'imconnector',
    status: 'L',
    installedAt: 1,
    uninstalledAt: null,
    updatedAt: 1,
  };

  it('says why: no key, cut short, or another key', () => {
    const sealed = new SecretBox(key).seal('token-1', 'portals.access_token', 'm1');
    const why = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as Error).message.replace(/.*: /, '');
      }
      return 'opened';
    };
    expect(why(() => new SecretBox().open(sealed, 'portals.access_token', 'm1'))).toBe(
      'it is encrypted, and no key is set',
    );
    expect(why(() => new SecretBox(key).open('enc:v1:AAAA', 'portals.access_token', 'm1'))).toBe('it is cut short');
    expect(why(() => new SecretBox(Buffer.alloc(32, 2)).open(sealed, 'portals.access_token', 'm1'))).toBe(
      'it was encrypted with another key, or changed since',
    );
    expect(new SecretBox().encrypts).toBe(false);
    expect(new SecretBox(key).encrypts).toBe(true);
  });

  it('checkSecretKey opens the sample it is given, and passes when there is none', () => {
    const sample = {
      memberId: 'm1',
      what: 'portals.access_token' as const,
      value: new SecretBox(key).seal('t', 'portals.access_token', 'm1'),
    };
    expect(() => checkSecretKey(new SecretBox(key), sample)).not.toThrow();
    expect(codeOf(() => checkSecretKey(new SecretBox(Buffer.alloc(32, 2)), sample))).toBe('B24GW_SECRET_UNREADABLE');
    expect(() => checkSecretKey(new SecretBox(), undefined)).not.toThrow();
  });

  it("an install's tokens are sealed with a key; other changes, and any change without a key, are kept as they are", () => {
    const box = new SecretBox(key);
    const sealed = sealChange({ kind: 'install', portal }, box);
    expect(sealed?.kind === 'install' && box.open(sealed.portal.accessToken, 'portals.access_token', 'm1')).toBe(
      'acc-token',
    );
    expect(sealed?.kind === 'install' && sealed.portal.refreshToken).toMatch(/^enc:v1:/);
    const other = { kind: 'uninstall', memberId: 'm1' } as unknown as PortalChange;
    expect(sealChange(other, box)).toBe(other);
    const install = { kind: 'install' as const, portal };
    expect(sealChange(install, new SecretBox())).toBe(install);
  });

  it("an event's secrets are kept sealed only while it will run", () => {
    const box = new SecretBox(key);
    const e = newEvent({ memberId: 'm1', secrets: '{"bots":{}}' });
    expect(box.open(sealedSecrets(e, box), 'event_secrets.data', 'm1')).toBe('{"bots":{}}');
    expect(sealedSecrets({ ...e, status: 'invalid' }, box)).toBeNull();
    expect(sealedSecrets({ ...e, secrets: null }, box)).toBeNull();
    expect(sealedSecrets({ ...e, secrets: undefined }, box)).toBeNull();
  });
});

describe('openStore', () => {
  it('encrypts with the key in B24GW_SECRET_KEY, and refuses a key of the wrong length', async () => {
    const tmp = tempDir();
    try {
      const store = openStore(`${tmp.dir}/k.db`, { env: { B24GW_SECRET_KEY: key.toString('base64') } }) as SqliteStore;
      store.db.prepare("INSERT INTO portals (member_id, domain, updated_at) VALUES ('m1', 'a.bitrix24.com', 1)").run();
      await store.savePortalTokens('m1', { accessToken: 'access-1', refreshToken: 'refresh-1', expiresAt: 1 });
      expect(store.db.prepare('SELECT access_token FROM portals').pluck().get()).toMatch(/^enc:v1:/);
      expect(await store.getPortal('m1')).toMatchObject({ accessToken: 'access-1', refreshToken: 'refresh-1' });
      await store.close();
      expect(codeOf(() => openStore(`${tmp.dir}/k.db`, { env: { B24GW_SECRET_KEY: 'abcd' } }))).toBe(
        'B24GW_BAD_CONFIG',
      );
    } finally {
      tmp.cleanup();
    }
  });
});
