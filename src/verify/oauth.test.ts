import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { newEvent, portalRecord } from '../../test/records.js';
import { SqliteStore } from '../store/sqlite/store.js';
import { secretDigest } from './compare.js';
import { DEFAULT_OAUTH_SERVER, exchangeRefreshToken, expiresAtOf, OAuthError, oauthServerFor } from './oauth.js';
import { digestOfStored, parseTokenPairs, storedTokenOf, TokenBook } from './tokens.js';

/** An authorization server on a real socket that answers what the test says, and keeps what it was asked. */
let server: Server | undefined;
const asked: { url: string; contentType: string; form: URLSearchParams }[] = [];
async function authServer(answer: (req: IncomingMessage) => { status: number; body: string }): Promise<string> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      asked.push({
        url: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        form: new URLSearchParams(body),
      });
      const a = answer(req);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}
afterEach(async () => {
  asked.length = 0;
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

const client = (url: string) => ({ server: url, clientId: 'app.1', clientSecret: 'secret', now: () => 1_000_000 });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('exchanged');
    },
    (e: unknown) => e as OAuthError,
  );

describe('the authorization server a refresh goes to', () => {
  it('is the configured one (its origin), else a loopback one a loopback portal names, else oauth.bitrix.info', () => {
    const portal = (domain: string, serverEndpoint: string | null) => ({ domain, serverEndpoint });
    expect(oauthServerFor(portal('a.bitrix24.com', 'https://evil.example/rest/'), 'https://auth.example:8443/x/')).toBe(
      'https://auth.example:8443',
    );
    expect(oauthServerFor(portal('127.0.0.1:9000', 'http://127.0.0.1:9001/rest/'))).toBe('http://127.0.0.1:9001');
    expect(oauthServerFor(portal('localhost:9000', 'http://127.0.0.1:9001/rest/'))).toBe('http://127.0.0.1:9001');
    for (const [domain, endpoint] of [
      ['a.bitrix24.com', 'http://127.0.0.1:9001/rest/'],
      ['127.0.0.1:9000', 'https://evil.example/rest/'],
      ['127.0.0.1:9000', 'http://localhost:9001/rest/'],
      ['127.0.0.1:9000', null],
      ['127.0.0.1:9000', 'not a url'],
    ] as const)
      expect(oauthServerFor(portal(domain, endpoint)), `${domain} ${endpoint}`).toBe(DEFAULT_OAUTH_SERVER);
  });
});

describe('exchangeRefreshToken', () => {
  it('posts the refresh grant as a form, and returns the pair with whose portal it is', async () => {
    const url = await authServer(() => ({
      status: 200,
      body: JSON.stringify({
        access_token: 'acc',
        refresh_token: 'ref',
        expires_in: 3600,
        member_id: 'm1',
        client_endpoint: 'https://a.bitrix24.com/rest/',
        server_endpoint: '',
      }),
    }));
    expect(await exchangeRefreshToken(client(url), 'old-refresh')).toEqual({
      accessToken: 'acc',
      refreshToken: 'ref',
      expiresAt: 1_000_000 + 3_600_000,
      memberId: 'm1',
      clientEndpoint: 'https://a.bitrix24.com/rest/',
      serverEndpoint: null,
    });
    expect(asked.map((a) => [a.url, a.contentType, Object.fromEntries(a.form)])).toEqual([
      [
        '/oauth/token/',
        'application/x-www-form-urlencoded',
        { grant_type: 'refresh_token', client_id: 'app.1', client_secret: 'secret', refresh_token: 'old-refresh' },
      ],
    ]);
  });

  it("fails with the server's own code and words, or the HTTP status when it gives none", async () => {
    let answer = { status: 400, body: '{"error":"invalid_grant","error_description":"The refresh token is invalid"}' };
    const url = await authServer(() => answer);
    const e = await failure(exchangeRefreshToken(client(url), 'r'));
    expect(e).toBeInstanceOf(OAuthError);
    expect([e.name, e.oauthCode, e.httpStatus, e.description, e.message]).toEqual([
      'OAuthError',
      'invalid_grant',
      400,
      'The refresh token is invalid',
      'invalid_grant: The refresh token is invalid',
    ]);
    answer = { status: 200, body: '{"error":"expired_token","access_token":"a","refresh_token":"b"}' };
    expect(await failure(exchangeRefreshToken(client(url), 'r'))).toMatchObject({
      oauthCode: 'expired_token',
      httpStatus: 200,
      description: 'token refresh refused',
    });
    answer = { status: 502, body: 'Bad gateway' };
    expect(await failure(exchangeRefreshToken(client(url), 'r'))).toMatchObject({
      oauthCode: undefined,
      httpStatus: 502,
      message: expect.stringMatching(/^HTTP 502: /),
    });
    answer = { status: 503, body: '[1]' };
    expect(await failure(exchangeRefreshToken(client(url), 'r'))).toMatchObject({
      oauthCode: undefined,
      httpStatus: 503,
    });
  });

  it('refuses an answer without both tokens, a non-JSON answer, an oversized one', async () => {
    let body = '';
    const url = await authServer(() => ({ status: 200, body }));
    for (body of [
      '{"access_token":"a"}',
      '{"refresh_token":"b"}',
      '{"access_token":"","refresh_token":"b"}',
      '{"access_token":"a","refresh_token":""}',
      '{"access_token":1,"refresh_token":"b"}',
      '{"access_token":"a","refresh_token":["b"]}',
      'null',
      'not json',
    ])
      expect(await failure(exchangeRefreshToken(client(url), 'r')), body).toMatchObject({
        code: 'B24GW_OAUTH_FAILED',
        oauthCode: undefined,
        httpStatus: 200,
        description: 'token answer has no access_token/refresh_token',
      });
    body = `{"access_token":"${'a'.repeat(70_000)}","refresh_token":"b"}`;
    expect(await failure(exchangeRefreshToken(client(url), 'r'))).toMatchObject({
      code: 'B24GW_OAUTH_FAILED',
      oauthCode: undefined,
      description: expect.stringContaining('byte limit'),
    });
  });

  it('tells an unreachable server (status 0) from a refusal', async () => {
    const url = await authServer(() => ({ status: 200, body: '{}' }));
    await new Promise((r) => server!.close(r));
    server = undefined;
    const e = await failure(exchangeRefreshToken(client(url), 'r'));
    expect(e).toMatchObject({ code: 'B24GW_OAUTH_FAILED', oauthCode: undefined, httpStatus: 0 });
    expect(e.description).toMatch(/^authorization server unreachable \(/);
  });

  it('keeps null for portal fields the answer leaves out or gives as other than text', async () => {
    const url = await authServer(() => ({
      status: 200,
      body: '{"access_token":"a","refresh_token":"b","member_id":7,"client_endpoint":null}',
    }));
    expect(await exchangeRefreshToken(client(url), 'r')).toMatchObject({
      memberId: null,
      clientEndpoint: null,
      serverEndpoint: null,
      expiresAt: null,
    });
  });
});

it('expiresAtOf: expires_in from now first, then expires (Unix seconds), else none', () => {
  expect(expiresAtOf(3600, 5, 1_000)).toBe(1_000 + 3_600_000);
  expect(expiresAtOf('60', undefined, 1_000)).toBe(61_000);
  for (const ttl of [0, -5, 'x', undefined, null, Infinity])
    expect(expiresAtOf(ttl, 1_700_000_000, 1_000)).toBe(1_700_000_000_000);
  for (const at of [0, -1, 'soon', undefined, Infinity]) expect(expiresAtOf(undefined, at, 1_000)).toBeNull();
});

describe('application tokens', () => {
  it('parseTokenPairs: pairs from flags and comma lists, trimmed; a malformed one refused without showing its token', () => {
    expect([...parseTokenPairs(['m1=t1', ' m2 = t2 , m3=t=3,', ''])]).toEqual([
      ['m1', 't1'],
      ['m2', 't2'],
      ['m3', 't=3'],
    ]);
    for (const [bad, shown] of [
      ['=secret', '=…'],
      ['m1=', 'm1=…'],
      ['m1 =  ', 'm1 =…'],
      ['secret', '=…'],
    ]) {
      let error: unknown;
      try {
        parseTokenPairs([bad!]);
      } catch (e) {
        error = e;
      }
      expect(error, bad).toMatchObject({
        code: 'B24GW_BAD_CONFIG',
        message: `Expected MEMBER_ID=TOKEN, got "${shown}" (the token is not shown)`,
      });
    }
  });

  it('a stored token is its digest; a record from before digests holds the token itself', () => {
    const stored = storedTokenOf('tok');
    expect(stored).toBe(`sha256:${secretDigest('tok').toString('hex')}`);
    expect(digestOfStored(stored).equals(secretDigest('tok'))).toBe(true);
    expect(digestOfStored('tok').equals(secretDigest('tok'))).toBe(true);
  });

  it('TokenBook: the stored install first, then the configured token; cached for its time, forgotten on demand', async () => {
    const tmp = tempDir();
    const store = new SqliteStore(`${tmp.dir}/t.db`);
    try {
      const book = new TokenBook(store, new Map([['m1', 'configured']]), 60_000);
      expect(book.cached('m1')).toBeUndefined();
      expect((await book.load('m1'))?.equals(secretDigest('configured'))).toBe(true);
      expect(book.cached('m1')?.equals(secretDigest('configured'))).toBe(true);
      expect(await book.load('nobody')).toBeNull();
      expect(book.cached('nobody')).toBeNull();
      await store.append(newEvent({ dedupKey: 'install', status: 'invalid' }), {
        kind: 'install',
        portal: portalRecord({ applicationToken: storedTokenOf('installed') }),
      });
      // Still the cached digest until it is forgotten.
      expect(book.cached('m1')?.equals(secretDigest('configured'))).toBe(true);
      book.forget('m1');
      expect(book.cached('m1')).toBeUndefined();
      expect((await book.load('m1'))?.equals(secretDigest('installed'))).toBe(true);
      const expired = new TokenBook(store, new Map(), -1);
      await expired.load('m1');
      expect(expired.cached('m1')).toBeUndefined();
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });
});
