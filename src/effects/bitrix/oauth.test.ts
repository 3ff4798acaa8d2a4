import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers.js';
import { BitrixApiError } from './errors.js';
import { DEFAULT_OAUTH_SERVER, oauthServerFor } from './oauth.js';
import { rig, tokenFree, type Rig } from './testing/rig.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const newToken = async (rr: Rig) => (await rr.store.getPortal(rr.fake.memberId))!.accessToken!;

describe('token refresh', () => {
  it('a token stale by its stored expiry is refreshed once for 20 concurrent calls, and stored before use', async () => {
    r = await rig(tempDir(), { expiresAt: Date.now() - 1000, oauthDelayMs: 30, saveDelayMs: 100 });
    r.fake.expire(r.pair.access_token);
    const c = r.clients().forPortal(r.fake.memberId);

    // 10 at once, 10 more while the refreshed pair is being stored (the save takes 100 ms).
    const second: Promise<{ ID: string }>[] = [];
    r.beforeSave.fn = () => second.push(...Array.from({ length: 10 }, () => c.call<{ ID: string }>('app.info')));
    const first = await Promise.all(Array.from({ length: 10 }, () => c.call<{ ID: string }>('app.info')));
    expect(second).toHaveLength(10);
    const results = [...first, ...(await Promise.all(second))];

    expect(results.every((x) => x.ID === '7')).toBe(true);
    expect(r.fake.refreshes).toEqual([{ refreshToken: r.pair.refresh_token, ok: true }]);
    const fresh = await newToken(r);
    expect(fresh).not.toBe(r.pair.access_token);
    // The old token was never sent (the expiry was known), and the new one only after the store had it.
    expect(r.fake.requests.filter((q) => q.token === r!.pair.access_token)).toHaveLength(0);
    const saved = r.fake.timeline.indexOf(`saved:${fresh}`);
    expect(saved).toBeGreaterThanOrEqual(0);
    expect(saved).toBeLessThan(r.fake.timeline.indexOf(`rest:${fresh}`));
    expect(r.fake.requests.filter((q) => q.token === fresh)).toHaveLength(20);
    const stored = await r.store.getPortal(r.fake.memberId);
    expect(stored!.refreshToken).not.toBe(r.pair.refresh_token);
    expect(stored!.expiresAt).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('an expired_token answer to 20 concurrent calls refreshes once, late 401s included', async () => {
    r = await rig(tempDir(), { oauthDelayMs: 30 });
    const c = r.clients().forPortal(r.fake.memberId);
    await c.call('app.info'); // session open with the stored pair
    r.fake.expire(r.pair.access_token);
    let n = 0;
    // Every other 401 arrives after the refresh has finished: it must not trigger a second one.
    r.fake.hooks.delay = (_m, status) => (status === 401 && n++ % 2 === 1 ? 150 : 0);

    const results = await Promise.all(Array.from({ length: 20 }, () => c.call<{ ID: string }>('app.info')));

    expect(results).toHaveLength(20);
    expect(r.fake.refreshes).toHaveLength(1);
    const fresh = await newToken(r);
    // Each call ends with one request on the new token; normally all 20 first went out on the old one.
    expect(r.fake.requests.filter((q) => q.token === fresh)).toHaveLength(20);
    expect(r.fake.requests.filter((q) => q.token === r!.pair.access_token).length).toBeGreaterThanOrEqual(3);
    expect(r.fake.timeline.indexOf(`saved:${fresh}`)).toBeLessThan(r.fake.timeline.indexOf(`rest:${fresh}`));
  });

  it('the fake refuses a refresh token used twice (so a double refresh would fail these tests)', async () => {
    r = await rig(tempDir());
    const post = () =>
      fetch(`${r!.fake.origin}/oauth/token/`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: r!.fake.clientId, client_secret: r!.fake.clientSecret, refresh_token: r!.pair.refresh_token }),
      });
    expect((await post()).status).toBe(200);
    const second = await post();
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('two gateway instances on one store: the second adopts the stored pair instead of refreshing again', async () => {
    r = await rig(tempDir());
    const a = r.clients().forPortal(r.fake.memberId);
    const b = r.clients().forPortal(r.fake.memberId);
    await Promise.all([a.call('app.info'), b.call('app.info')]);
    r.fake.expire(r.pair.access_token);
    await a.call('app.info');
    await b.call('app.info');
    expect(r.fake.refreshes).toHaveLength(1);
    expect(r.fake.requests.at(-1)!.token).toBe(await newToken(r));
  });

  it('a refused refresh is a clear, token-free error; nothing is stored', async () => {
    r = await rig(tempDir(), { expiresAt: Date.now() - 1000 });
    // Spend the refresh token elsewhere first: the gateway's copy is now dead.
    await fetch(`${r.fake.origin}/oauth/token/`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: r.fake.clientId, client_secret: r.fake.clientSecret, refresh_token: r.pair.refresh_token }),
    });
    const err = (await r.clients().forPortal(r.fake.memberId).call('app.info').catch((e: unknown) => e)) as BitrixApiError;
    expect(err).toBeInstanceOf(BitrixApiError);
    expect(err.code).toBe('invalid_grant');
    expect(err.method).toBe('oauth/token');
    expect(err.status).toBe(400);
    expect(err.message).toBe('Bitrix24 oauth/token for portal member-1 failed with invalid_grant: Invalid authorization data (HTTP 400)');
    const secrets = [r.pair.access_token, r.pair.refresh_token, r.fake.clientSecret];
    expect(tokenFree(`${err.message} ${err.stack} ${JSON.stringify(err)}`, secrets)).toBe(true);
    expect(tokenFree(r.logs.join(''), secrets)).toBe(true);
    expect((await r.store.getPortal(r.fake.memberId))!.accessToken).toBe(r.pair.access_token);
  });

  it('without client credentials a needed refresh fails clearly', async () => {
    r = await rig(tempDir(), { expiresAt: Date.now() - 1000 });
    const err = await r.clients({ clientId: undefined, clientSecret: undefined }).forPortal(r.fake.memberId).call('app.info').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NO_CLIENT_CREDENTIALS' });
    expect(r.fake.refreshes).toHaveLength(0);
  });

  it('logs the refresh without any token', async () => {
    r = await rig(tempDir(), { expiresAt: Date.now() - 1000 });
    await r.clients().forPortal(r.fake.memberId).call('app.info');
    const fresh = await newToken(r);
    const stored = await r.store.getPortal(r.fake.memberId);
    expect(r.logs.join('')).toContain('bitrix24 oauth token refreshed');
    expect(tokenFree(r.logs.join(''), [r.pair.access_token, r.pair.refresh_token, fresh, stored!.refreshToken!, r.fake.clientSecret])).toBe(true);
  });
});

describe('oauthServerFor', () => {
  const real = { domain: 'acme.bitrix24.com', serverEndpoint: 'https://oauth.bitrix.info/rest/' };
  it('uses the configured server, else oauth.bitrix.info, never what an event claimed', () => {
    expect(oauthServerFor(real)).toBe(DEFAULT_OAUTH_SERVER);
    expect(oauthServerFor({ ...real, serverEndpoint: 'https://evil.example/rest/' })).toBe(DEFAULT_OAUTH_SERVER);
    expect(oauthServerFor({ ...real, serverEndpoint: 'http://127.0.0.1:9/rest/' })).toBe(DEFAULT_OAUTH_SERVER);
    expect(oauthServerFor({ ...real, serverEndpoint: 'https://evil.example/rest/' }, 'https://oauth.example.org/x')).toBe('https://oauth.example.org');
  });

  it('lets a loopback test portal use its loopback authorization server', () => {
    expect(oauthServerFor({ domain: '127.0.0.1:8080', serverEndpoint: 'http://127.0.0.1:8081/rest/' })).toBe('http://127.0.0.1:8081');
    expect(oauthServerFor({ domain: '127.0.0.1:8080', serverEndpoint: 'https://evil.example/rest/' })).toBe(DEFAULT_OAUTH_SERVER);
  });

  it('the configured server wins over a loopback portal claim (the refresh reaches the fake)', async () => {
    r = await rig(tempDir(), { expiresAt: Date.now() - 1000, serverEndpoint: 'http://127.0.0.1:1/rest/' });
    await r.clients().forPortal(r.fake.memberId).call('app.info');
    expect(r.fake.refreshes).toHaveLength(1);
  });
});
