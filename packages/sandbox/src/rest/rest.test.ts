import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../index.js';
import { callRest, frozenAt } from '../testing.js';

let sb: Sandbox;
let auth: string;

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt(1_773_759_161_000) });
  auth = sb.issueTokens(sb.portal).access_token;
});
afterEach(() => sb.stop());

describe('answer shape', () => {
  it('is {result, time} with every documented time field', async () => {
    const { status, body } = await callRest(sb.restUrl, 'app.info', { auth });
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['result', 'time']);
    expect(Object.keys(body.time)).toEqual([
      'start',
      'finish',
      'duration',
      'processing',
      'date_start',
      'date_finish',
      'operating_reset_at',
      'operating',
    ]);
    expect(body.time).toMatchObject({
      start: 1_773_759_161,
      finish: 1_773_759_161,
      duration: 0,
      date_start: '2026-03-17T14:52:41+00:00',
      date_finish: '2026-03-17T14:52:41+00:00',
      operating_reset_at: 1_773_759_161 + 600,
    });
    expect(body.time.operating).toBeGreaterThanOrEqual(0);
  });

  it('app.info describes the installed application', async () => {
    const { body } = await callRest(sb.restUrl, 'app.info', { auth });
    expect(body.result).toEqual({
      ID: 1,
      CODE: sb.portal.appCode,
      VERSION: 1,
      STATUS: 'F',
      INSTALLED: true,
      PAYMENT_EXPIRED: 'N',
      DAYS: null,
      LANGUAGE_ID: 'en',
      LICENSE: 'en_std',
      LICENSE_TYPE: 'std',
      LICENSE_FAMILY: 'std',
    });
  });

  it('serves /rest/<method>.json, auth in the query string, and form bodies with PHP brackets', async () => {
    expect((await callRest(sb.restUrl, 'app.info.json', { auth })).status).toBe(200);
    expect((await callRest(sb.restUrl, 'app.info', { auth }, 'query')).status).toBe(200);
    const res = await fetch(`${sb.restUrl}event.bind?auth=${auth}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'event=ONAPPTEST&handler=http%3A%2F%2F127.0.0.1%3A9%2Fh',
    });
    expect(res.status).toBe(200);
    expect(sb.portal.handlersFor('ONAPPTEST')).toHaveLength(1);
  });
});

describe('errors', () => {
  it('no auth: 401 NO_AUTH_FOUND', async () => {
    const { status, body } = await callRest(sb.restUrl, 'app.info', {});
    expect(status).toBe(401);
    expect(body).toEqual({ error: 'NO_AUTH_FOUND', error_description: 'Wrong authorization data' });
  });

  it('unknown token: 401 invalid_token', async () => {
    const { status, body } = await callRest(sb.restUrl, 'app.info', { auth: 'nope' });
    expect(status).toBe(401);
    expect(body).toEqual({ error: 'invalid_token', error_description: 'The access token provided is invalid.' });
  });

  it('unknown method: 404 ERROR_METHOD_NOT_FOUND', async () => {
    const { status, body } = await callRest(sb.restUrl, 'crm.deal.list', { auth });
    expect(status).toBe(404);
    expect(body).toEqual({ error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' });
  });

  it('bad parameters: 400 with the documented code', async () => {
    const { status, body } = await callRest(sb.restUrl, 'imconnector.activate', { auth, CONNECTOR: 'x', LINE: 1 });
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'ERROR_ARGUMENT', error_description: "Argument 'ACTIVE' is null or empty" });
  });

  it('unreadable bodies: 400 with the sandbox’s code', async () => {
    const res = await fetch(`${sb.restUrl}app.info`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('B24SB_MALFORMED_JSON');
    const bytes = await fetch(`${sb.restUrl}app.info?auth=${auth}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'a=%ff',
    });
    expect(((await bytes.json()) as { error: string }).error).toBe('B24SB_INVALID_UTF8');
  });

  it('a form body is read as PHP reads it: what PHP drops is dropped, and the call record says so', async () => {
    const res = await fetch(`${sb.restUrl}event.bind?auth=${auth}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `event=ONAPPTEST&handler=http%3A%2F%2F127.0.0.1%3A9%2Fh&deep${'[x]'.repeat(65)}=1&a.b=2`,
    });
    expect(res.status).toBe(200);
    const [call] = sb.recorder.calls({ method: 'event.bind' });
    expect(call!.params).toEqual({ event: 'ONAPPTEST', handler: 'http://127.0.0.1:9/h', a_b: '2' });
    expect(call!.warnings).toEqual([
      'Input variable nesting level exceeded 64. To increase the limit change max_input_nesting_level in php.ini.',
    ]);
    expect(call!.accessToken).toBe(auth);
  });

  it('a portal with its own domain refuses another portal’s token on that domain', async () => {
    const other = sb.addPortal({ domain: 'other.example:443' });
    // fetch cannot set Host, so use node:http.
    const statusOn = (host: string, token: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${sb.restUrl}app.info?auth=${token}`, { headers: { Host: host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await statusOn(other.domain, auth)).toBe(401);
    expect(await statusOn(other.domain, sb.issueTokens(other).access_token)).toBe(200);
    expect(await statusOn(sb.portal.domain, auth)).toBe(200);
  });
});

describe('the access token picks the portal', () => {
  it('answers each portal its own state on the shared domain', async () => {
    const second = sb.addPortal();
    const token2 = sb.issueTokens(second).access_token;
    await callRest(sb.restUrl, 'event.bind', { auth: token2, event: 'ONAPPTEST', handler: 'http://127.0.0.1:9/two' });
    expect((await callRest(sb.restUrl, 'event.get', { auth })).body.result).toEqual([]);
    expect((await callRest(sb.restUrl, 'event.get', { auth: token2 })).body.result).toHaveLength(1);
    expect(second.domain).toBe(sb.portal.domain);
  });
});

describe('recorder', () => {
  it('logs each call with portal, parameters (without auth), status and error', async () => {
    await callRest(sb.restUrl, 'app.info', { auth }, 'form');
    await callRest(sb.restUrl, 'nope.nope', { auth, x: 1 });
    await callRest(sb.restUrl, 'app.info', {});
    const calls = sb.recorder.calls();
    expect(calls.map((c) => [c.method, c.httpStatus, c.error, c.memberId, c.transport])).toEqual([
      ['app.info', 200, undefined, sb.portal.memberId, 'form'],
      ['nope.nope', 404, 'ERROR_METHOD_NOT_FOUND', sb.portal.memberId, 'json'],
      ['app.info', 401, 'NO_AUTH_FOUND', undefined, 'json'],
    ]);
    expect(calls[1]!.params).toEqual({ x: 1 });
    expect(calls[0]!.at).toBe(1_773_759_161_000);
    expect(sb.recorder.calls({ method: 'nope.nope' })).toHaveLength(1);
  });
});
