import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index.js';
import { callRest, frozenAt } from './testing.js';

let sb: Sandbox;

beforeEach(async () => {
  sb = await startSandbox({
    now: frozenAt(),
    clientId: 'local.app.1',
    clientSecret: 'secret-1',
    tokenTtlSeconds: 3600,
  });
});
afterEach(() => sb.stop());

const refreshQuery = (refresh: string, extra: Record<string, string> = {}) =>
  new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: 'local.app.1',
    client_secret: 'secret-1',
    refresh_token: refresh,
    ...extra,
  });

async function refreshGet(refresh: string, extra?: Record<string, string>) {
  const res = await fetch(`${sb.oauthUrl}?${refreshQuery(refresh, extra).toString()}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function refreshPostForm(refresh: string) {
  // What @bitrix24/b24jssdk does: a form POST to `${server_endpoint without rest/}oauth/token/`.
  const endpoint = `${sb.portal.serverEndpoint.replace(/rest\/$/, '')}oauth/token/`;
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: refreshQuery(refresh).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('/oauth/token/ refresh_token grant', () => {
  it('answers the documented fields with a new pair bound to the portal', async () => {
    const pair = sb.issueTokens(sb.portal);
    const { status, body } = await refreshGet(pair.refresh_token);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual([
      'access_token',
      'client_endpoint',
      'domain',
      'expires',
      'expires_in',
      'member_id',
      'refresh_token',
      'scope',
      'server_endpoint',
      'status',
      'user_id',
    ]);
    expect(body).toMatchObject({
      client_endpoint: `${sb.url}/rest/`,
      server_endpoint: `${sb.url}/rest/`,
      domain: new URL(sb.url).host,
      member_id: sb.portal.memberId,
      expires_in: 3600,
      expires: 1_773_759_161 + 3600,
      status: 'F',
      user_id: 1,
    });
    expect(body.access_token).not.toBe(pair.access_token);
    expect(body.refresh_token).not.toBe(pair.refresh_token);
    const call = await callRest(sb.restUrl, 'app.info', { auth: body.access_token });
    expect(call.status).toBe(200);
  });

  it('accepts the form POST the official SDK sends', async () => {
    const pair = sb.issueTokens(sb.portal);
    const { status, body } = await refreshPostForm(pair.refresh_token);
    expect(status).toBe(200);
    expect(body.member_id).toBe(sb.portal.memberId);
  });

  it('treats a refresh token as single-use: the second use is invalid_grant', async () => {
    const pair = sb.issueTokens(sb.portal);
    const first = await refreshGet(pair.refresh_token);
    expect(first.status).toBe(200);
    const again = await refreshPostForm(pair.refresh_token);
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
    // The pair from the first refresh still works, and its refresh token can be spent once.
    const next = await refreshGet(String(first.body.refresh_token));
    expect(next.status).toBe(200);
  });

  it('refuses wrong client credentials, unknown tokens and missing parameters', async () => {
    const pair = sb.issueTokens(sb.portal);
    expect((await refreshGet(pair.refresh_token, { client_secret: 'nope' })).body).toMatchObject({
      error: 'invalid_client',
    });
    expect((await refreshGet(pair.refresh_token, { client_secret: 'nope' })).status).toBe(401);
    expect((await refreshGet('unknown')).body).toMatchObject({ error: 'invalid_grant' });
    const res = await fetch(`${sb.oauthUrl}?grant_type=refresh_token`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    // The refused attempts did not spend the token.
    expect((await refreshGet(pair.refresh_token)).status).toBe(200);
  });

  it('records every token request', async () => {
    const pair = sb.issueTokens(sb.portal);
    await refreshGet(pair.refresh_token);
    await refreshGet(pair.refresh_token);
    expect(sb.recorder.tokenRequests().map((r) => [r.grantType, r.ok, r.error])).toEqual([
      ['refresh_token', true, undefined],
      ['refresh_token', false, 'invalid_grant'],
    ]);
  });
});

describe('access token lifetime on the injected clock', () => {
  it('works until tokenTtlSeconds pass, then answers 401 expired_token; a refresh brings it back', async () => {
    const pair = sb.issueTokens(sb.portal);
    sb.clock.advance(3599_000);
    expect((await callRest(sb.restUrl, 'app.info', { auth: pair.access_token })).status).toBe(200);
    sb.clock.advance(1_000);
    const expired = await callRest(sb.restUrl, 'app.info', { auth: pair.access_token });
    expect(expired.status).toBe(401);
    expect(expired.body).toEqual({
      error: 'expired_token',
      error_description: 'The access token provided has expired.',
    });
    const fresh = await refreshGet(pair.refresh_token);
    expect(fresh.status).toBe(200);
    expect(fresh.body.expires).toBe(1_773_759_161 + 3600 + 3600);
    expect((await callRest(sb.restUrl, 'app.info', { auth: fresh.body.access_token })).status).toBe(200);
  });

  it('refresh tokens last 180 days', async () => {
    const pair = sb.issueTokens(sb.portal);
    sb.clock.advance(180 * 24 * 3600 * 1000);
    expect((await refreshGet(pair.refresh_token)).body).toMatchObject({ error: 'invalid_grant' });
  });

  it('expireTokens() expires every access token at once; with refresh, refresh tokens die too', async () => {
    const a = sb.issueTokens(sb.portal);
    const b = sb.issueTokens(sb.portal);
    sb.faults.expireTokens();
    expect((await callRest(sb.restUrl, 'app.info', { auth: a.access_token })).body.error).toBe('expired_token');
    expect((await refreshGet(a.refresh_token)).status).toBe(200);
    sb.faults.expireTokens({ refresh: true });
    expect((await refreshGet(b.refresh_token)).body).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('authorization_code grant', () => {
  it('exchanges a code once, within 30 seconds', async () => {
    const code = sb.issueAuthCode(sb.portal);
    const q = (c: string) =>
      new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: 'local.app.1',
        client_secret: 'secret-1',
        code: c,
      });
    const ok = await fetch(`${sb.oauthUrl}?${q(code).toString()}`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { member_id: string }).member_id).toBe(sb.portal.memberId);
    expect((await fetch(`${sb.oauthUrl}?${q(code).toString()}`)).status).toBe(400);
    const late = sb.issueAuthCode(sb.portal);
    sb.clock.advance(30_000);
    expect((await fetch(`${sb.oauthUrl}?${q(late).toString()}`)).status).toBe(400);
  });
});

describe('uninstall', () => {
  it('revokes the portal tokens: REST answers invalid_token and refresh invalid_grant', async () => {
    const pair = sb.issueTokens(sb.portal);
    await sb.uninstall(sb.portal);
    expect((await callRest(sb.restUrl, 'app.info', { auth: pair.access_token })).body.error).toBe('invalid_token');
    expect((await refreshGet(pair.refresh_token)).body).toMatchObject({ error: 'invalid_grant' });
  });
});
