import { afterEach, describe, expect, it } from 'vitest';
import { refreshesOf, requestsTo, rig, tokenFree, type Rig } from '../../../test/bitrix-sandbox.js';
import { BitrixApiError } from './errors.js';
import { DEFAULT_OAUTH_SERVER, oauthServerFor } from './oauth.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const newToken = async (rr: Rig) => (await rr.store.getPortal(rr.memberId))!.accessToken!;
const usedToken = (rr: Rig, token: string) => requestsTo(rr.sb).filter((q) => q.accessToken === token);

describe('token refresh', () => {
  it('a token stale by its stored expiry is refreshed once for 20 concurrent calls, and stored before use', async () => {
    r = await rig({ expiresAt: Date.now() - 1000, slowOAuthMs: 30, saveDelayMs: 100 });
    r.sb.faults.expireTokens({ portal: r.portal });
    const c = r.clients().forPortal(r.memberId);

    // 10 at once, 10 more while the refreshed pair is being stored (the save takes 100 ms).
    const second: Promise<{ ID: number }>[] = [];
    r.beforeSave.fn = () => second.push(...Array.from({ length: 10 }, () => c.call<{ ID: number }>('app.info')));
    const first = await Promise.all(Array.from({ length: 10 }, () => c.call<{ ID: number }>('app.info')));
    expect(second).toHaveLength(10);
    const results = [...first, ...(await Promise.all(second))];

    expect(results.every((x) => x.ID === r!.portal.appId)).toBe(true);
    expect(refreshesOf(r.sb)).toEqual([{ refreshToken: r.pair.refresh_token, ok: true }]);
    const fresh = await newToken(r);
    expect(fresh).not.toBe(r.pair.access_token);
    // The old token was never sent (the expiry was known), and the new one only after the store had it.
    expect(usedToken(r, r.pair.access_token)).toHaveLength(0);
    const saved = r.timeline.indexOf(`saved:${fresh}`);
    expect(saved).toBeGreaterThanOrEqual(0);
    expect(saved).toBeLessThan(r.timeline.indexOf(`rest:${fresh}`));
    expect(usedToken(r, fresh)).toHaveLength(20);
    const stored = await r.store.getPortal(r.memberId);
    expect(stored!.refreshToken).not.toBe(r.pair.refresh_token);
    expect(stored!.expiresAt).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('an expired_token answer to 20 concurrent calls refreshes once, late 401s included', async () => {
    r = await rig({ slowOAuthMs: 30 });
    let n = 0;
    // Every other 401 arrives after the refresh has finished: it must not trigger a second one.
    const lateUnauthorized: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 401 && n++ % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 150));
      return res;
    };
    const c = r.clients({ fetch: lateUnauthorized }).forPortal(r.memberId);
    await c.call('app.info'); // session open with the stored pair
    r.sb.faults.expireTokens({ portal: r.portal });

    const results = await Promise.all(Array.from({ length: 20 }, () => c.call<{ ID: number }>('app.info')));

    expect(results).toHaveLength(20);
    expect(refreshesOf(r.sb)).toHaveLength(1);
    const fresh = await newToken(r);
    // Each call ends with one request on the new token; normally all 20 first went out on the old one.
    expect(usedToken(r, fresh)).toHaveLength(20);
    expect(usedToken(r, r.pair.access_token).length).toBeGreaterThanOrEqual(3);
    expect(r.timeline.indexOf(`saved:${fresh}`)).toBeLessThan(r.timeline.indexOf(`rest:${fresh}`));
  });

  it('the sandbox refuses a refresh token used twice (so a double refresh would fail these tests)', async () => {
    r = await rig();
    const post = () =>
      fetch(r!.sb.oauthUrl, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: r!.sb.clientId,
          client_secret: r!.sb.clientSecret,
          refresh_token: r!.pair.refresh_token,
        }),
      });
    expect((await post()).status).toBe(200);
    const second = await post();
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('two gateway instances on one store: the second adopts the stored pair instead of refreshing again', async () => {
    r = await rig();
    const a = r.clients().forPortal(r.memberId);
    const b = r.clients().forPortal(r.memberId);
    await Promise.all([a.call('app.info'), b.call('app.info')]);
    r.sb.faults.expireTokens({ portal: r.portal });
    await a.call('app.info');
    await b.call('app.info');
    expect(refreshesOf(r.sb)).toHaveLength(1);
    expect(requestsTo(r.sb).at(-1)!.accessToken).toBe(await newToken(r));
  });

  it('a refused refresh is a clear, token-free error; nothing is stored', async () => {
    r = await rig({ expiresAt: Date.now() - 1000 });
    // Spend the refresh token elsewhere first: the gateway's copy is now dead.
    await fetch(r.sb.oauthUrl, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: r.sb.clientId,
        client_secret: r.sb.clientSecret,
        refresh_token: r.pair.refresh_token,
      }),
    });
    const err = (await r
      .clients()
      .forPortal(r.memberId)
      .call('app.info')
      .catch((e: unknown) => e)) as BitrixApiError;
    expect(err).toBeInstanceOf(BitrixApiError);
    expect(err.bitrixCode).toBe('invalid_grant');
    expect(err.method).toBe('oauth/token');
    expect(err.httpStatus).toBe(400);
    expect(err.message).toBe(
      'Bitrix24 oauth/token for portal member-1 failed with invalid_grant: Refresh token is invalid, expired or already used (HTTP 400)',
    );
    const secrets = [r.pair.access_token, r.pair.refresh_token, r.sb.clientSecret];
    expect(tokenFree(`${err.message} ${err.stack} ${JSON.stringify(err)}`, secrets)).toBe(true);
    expect(tokenFree(r.logs.join(''), secrets)).toBe(true);
    expect((await r.store.getPortal(r.memberId))!.accessToken).toBe(r.pair.access_token);
  });

  it('without client credentials a needed refresh fails clearly', async () => {
    r = await rig({ expiresAt: Date.now() - 1000 });
    const err = await r
      .clients({ clientId: undefined, clientSecret: undefined })
      .forPortal(r.memberId)
      .call('app.info')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'B24GW_NO_OAUTH_CLIENT' });
    expect(refreshesOf(r.sb)).toHaveLength(0);
  });

  it('logs the refresh without any token', async () => {
    r = await rig({ expiresAt: Date.now() - 1000 });
    await r.clients().forPortal(r.memberId).call('app.info');
    const fresh = await newToken(r);
    const stored = await r.store.getPortal(r.memberId);
    expect(r.logs.join('')).toContain('bitrix24 oauth token refreshed');
    expect(
      tokenFree(r.logs.join(''), [
        r.pair.access_token,
        r.pair.refresh_token,
        fresh,
        stored!.refreshToken!,
        r.sb.clientSecret,
      ]),
    ).toBe(true);
  });
});

describe('oauthServerFor', () => {
  const real = { domain: 'acme.bitrix24.com', serverEndpoint: 'https://oauth.bitrix.info/rest/' };
  it('uses the configured server, else oauth.bitrix.info, never what an event claimed', () => {
    expect(oauthServerFor(real)).toBe(DEFAULT_OAUTH_SERVER);
    expect(oauthServerFor({ ...real, serverEndpoint: 'https://evil.example/rest/' })).toBe(DEFAULT_OAUTH_SERVER);
    expect(oauthServerFor({ ...real, serverEndpoint: 'http://127.0.0.1:9/rest/' })).toBe(DEFAULT_OAUTH_SERVER);
    expect(
      oauthServerFor({ ...real, serverEndpoint: 'https://evil.example/rest/' }, 'https://oauth.example.org/x'),
    ).toBe('https://oauth.example.org');
  });

  it('lets a loopback test portal use its loopback authorization server', () => {
    expect(oauthServerFor({ domain: '127.0.0.1:8080', serverEndpoint: 'http://127.0.0.1:8081/rest/' })).toBe(
      'http://127.0.0.1:8081',
    );
    expect(oauthServerFor({ domain: '127.0.0.1:8080', serverEndpoint: 'https://evil.example/rest/' })).toBe(
      DEFAULT_OAUTH_SERVER,
    );
  });

  it('the configured server wins over a loopback portal claim (the refresh reaches the sandbox)', async () => {
    r = await rig({ expiresAt: Date.now() - 1000, serverEndpoint: 'http://127.0.0.1:1/rest/' });
    await r.clients().forPortal(r.memberId).call('app.info');
    expect(refreshesOf(r.sb)).toHaveLength(1);
  });
});
