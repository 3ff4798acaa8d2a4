import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index.js';
import { callRest, control, frozenAt } from './testing.js';

let sb: Sandbox;
let auth: string;
let refresh: string;

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt() });
  ({ access_token: auth, refresh_token: refresh } = sb.issueTokens(sb.portal));
});
afterEach(() => sb.stop());

const refreshStatus = async () =>
  (
    await fetch(
      `${sb.oauthUrl}?grant_type=refresh_token&client_id=${sb.clientId}&client_secret=${sb.clientSecret}&refresh_token=${refresh}`,
    )
  ).status;

describe('outage', () => {
  it('http503: REST and OAuth answer 503 (an HTML page, as a load balancer would); control still works; clear restores', async () => {
    sb.faults.set({ outage: 'http503' });
    const res = await fetch(`${sb.restUrl}app.info?auth=${auth}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await refreshStatus()).toBe(503);
    expect((await control(sb.url, '/sandbox/faults')).body.outage).toBe('http503');
    sb.faults.clear();
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
    expect(sb.recorder.calls()).toHaveLength(1);
  });

  it('reset: the connection drops without an answer', async () => {
    sb.faults.set({ outage: 'reset' });
    await expect(fetch(`${sb.restUrl}app.info?auth=${auth}`)).rejects.toThrow();
    await expect(refreshStatus()).rejects.toThrow();
    sb.faults.set({ outage: false });
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
  });
});

describe('slowMs', () => {
  // Lower bounds only: a sleep never ends early, while how fast an answer comes depends on the machine.
  it('delays every REST and OAuth answer', async () => {
    sb.faults.set({ slowMs: 150 });
    let t = performance.now();
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
    t = performance.now();
    expect(await refreshStatus()).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
    sb.faults.set({ slowMs: 0 });
    expect(sb.faults.current.slowMs).toBe(0);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
  });
});

describe('methodErrors', () => {
  it('forces an error answer for a method, a given number of times', async () => {
    sb.faults.set({
      methodErrors: {
        'app.info': { status: 500, error: 'INTERNAL_SERVER_ERROR', description: 'Internal server error', times: 2 },
      },
    });
    expect((await callRest(sb.restUrl, 'app.info', { auth })).body).toEqual({
      error: 'INTERNAL_SERVER_ERROR',
      error_description: 'Internal server error',
    });
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(500);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
    expect((await callRest(sb.restUrl, 'event.get', { auth })).status).toBe(200);
  });

  it('`*` answers every method that has no entry of its own, made-up names too; names are case-insensitive', async () => {
    sb.faults.set({
      methodErrors: {
        '*': { status: 400, error: 'E_MADE_UP', description: 'made up' },
        'App.Info': { status: 503, error: 'QUERY_LIMIT_EXCEEDED', times: 1 },
      },
    });
    expect((await callRest(sb.restUrl, 'no.such.method', { auth })).body).toEqual({
      error: 'E_MADE_UP',
      error_description: 'made up',
    });
    expect((await callRest(sb.restUrl, 'app.info', { auth })).body.error).toBe('QUERY_LIMIT_EXCEEDED');
    expect((await callRest(sb.restUrl, 'app.info', { auth })).body.error).toBe('E_MADE_UP');
    const batch = await callRest(sb.restUrl, 'batch', { auth, cmd: { a: 'event.get' } });
    expect(batch.body.error).toBe('E_MADE_UP');
  });

  it('operatingResetAt adds a time block saying when the limit resets', async () => {
    sb.faults.set({
      methodErrors: { 'app.info': { status: 429, error: 'OPERATION_TIME_LIMIT', operatingResetAt: 1_773_759_181 } },
    });
    const { status, body } = await callRest(sb.restUrl, 'app.info', { auth });
    expect(status).toBe(429);
    expect(body).toMatchObject({
      error: 'OPERATION_TIME_LIMIT',
      time: { operating_reset_at: 1_773_759_181, start: 1_773_759_161 },
    });
  });
});

describe('methodResults', () => {
  it('answers a method with a given result, a given number of times, after its checks', async () => {
    sb.faults.set({ methodResults: { 'app.info': { result: { SUCCESS: false }, times: 1 } } });
    expect((await callRest(sb.restUrl, 'app.info', {})).status).toBe(401);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).body).toMatchObject({
      result: { SUCCESS: false },
      time: { start: 1_773_759_161 },
    });
    expect((await callRest(sb.restUrl, 'app.info', { auth })).body.result.INSTALLED).toBe(true);
  });
});

describe('slowOAuthMs', () => {
  it('holds the token endpoint back while REST answers at once', async () => {
    sb.faults.set({ slowOAuthMs: 300 });
    const order: string[] = [];
    const token = refreshStatus().then((s) => order.push(`oauth ${s}`));
    await new Promise((r) => setTimeout(r, 20));
    await callRest(sb.restUrl, 'app.info', { auth }).then((r) => order.push(`rest ${r.status}`));
    await token;
    expect(order).toEqual(['rest 200', 'oauth 200']);
  });
});

describe('switches over HTTP', () => {
  it('POST /sandbox/faults merges, DELETE clears, expire-tokens expires', async () => {
    const set = await control(sb.url, '/sandbox/faults', { rateLimit: false, slowMs: 5, operationTimeLimit: true });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      rateLimit: false,
      slowMs: 5,
      outage: false,
      operationTimeLimit: { limitSeconds: 480, costSeconds: 60 },
    });
    expect((await control(sb.url, '/sandbox/faults', { outage: 'http503' })).body).toMatchObject({
      rateLimit: false,
      outage: 'http503',
    });
    expect((await control(sb.url, '/sandbox/faults', { bogus: 1 })).status).toBe(400);
    const cleared = await control(sb.url, '/sandbox/faults', undefined, 'DELETE');
    expect(cleared.body).toEqual({
      rateLimit: { burst: 50, drainPerSecond: 2 },
      operationTimeLimit: false,
      slowMs: 0,
      slowOAuthMs: 0,
      outage: false,
      methodErrors: {},
      methodResults: {},
    });
    expect((await control(sb.url, '/sandbox/faults/expire-tokens', {})).status).toBe(200);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).body.error).toBe('expired_token');
  });
});
