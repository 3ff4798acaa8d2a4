import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from './index.js';
import { LeakyBucket, OperatingBudget } from './limits.js';
import { callRest, frozenAt } from './testing.js';

describe('LeakyBucket', () => {
  const params = { burst: 50, drainPerSecond: 2 };

  it('allows the burst, refuses the next one and does not count refusals', () => {
    const b = new LeakyBucket(0);
    for (let i = 0; i < 50; i++) expect(b.take(0, params)).toBe(true);
    expect(b.take(0, params)).toBe(false);
    expect(b.take(0, params)).toBe(false);
    expect(b.level(0, params)).toBe(50);
  });

  it('drains continuously at the drain rate', () => {
    const b = new LeakyBucket(0);
    for (let i = 0; i < 50; i++) b.take(0, params);
    expect(b.take(499, params)).toBe(false);
    expect(b.take(500, params)).toBe(true);
    expect(b.take(500, params)).toBe(false);
    expect(b.level(25_500, params)).toBe(0);
  });
});

describe('OperatingBudget', () => {
  it('sums one-minute baskets, each counted for 10 minutes from its first call', () => {
    const o = new OperatingBudget();
    o.spend(0, 100);
    o.spend(59_000, 100); // same basket
    o.spend(60_000, 50); // next basket
    expect(o.operating(60_000)).toBe(250);
    expect(o.resetAt(60_000)).toBe(600);
    expect(o.operating(600_000)).toBe(50);
    expect(o.resetAt(600_000)).toBe(660);
    expect(o.operating(660_000)).toBe(0);
  });

  it('blocks only once the sum already exceeds the limit', () => {
    const o = new OperatingBudget();
    o.spend(0, 480);
    expect(o.blocked(0, 480)).toBe(false);
    o.spend(0, 1);
    expect(o.blocked(0, 480)).toBe(true);
  });
});

describe('limits over HTTP', () => {
  let sb: Sandbox;
  afterEach(() => sb.stop());

  it('standard plan: 50 calls pass, the 51st gets 503 QUERY_LIMIT_EXCEEDED, and the bucket recovers as the clock moves', async () => {
    sb = await startSandbox({ now: frozenAt() });
    const auth = sb.issueTokens(sb.portal).access_token;
    const statuses = await Promise.all(
      Array.from({ length: 50 }, () => callRest(sb.restUrl, 'app.info', { auth }).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    const refused = await callRest(sb.restUrl, 'app.info', { auth });
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });
    sb.clock.advance(500); // 2 per second: one slot back
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(503);
    // A batch is one request whatever it holds.
    sb.clock.advance(500);
    const batch = await callRest(sb.restUrl, 'batch', { auth, cmd: Array.from({ length: 50 }, () => 'app.info') });
    expect(batch.status).toBe(200);
    expect(batch.body.result.result).toHaveLength(50);
  });

  it('tracks each portal separately', async () => {
    sb = await startSandbox({ now: frozenAt() });
    const a = sb.issueTokens(sb.portal).access_token;
    const b = sb.issueTokens(sb.addPortal()).access_token;
    for (let i = 0; i < 50; i++) await callRest(sb.restUrl, 'app.info', { auth: a });
    expect((await callRest(sb.restUrl, 'app.info', { auth: a })).status).toBe(503);
    expect((await callRest(sb.restUrl, 'app.info', { auth: b })).status).toBe(200);
  });

  it('enterprise plan: 250 burst, 5 per second', async () => {
    sb = await startSandbox({ now: frozenAt(), plan: 'enterprise' });
    const auth = sb.issueTokens(sb.portal).access_token;
    const statuses = await Promise.all(
      Array.from({ length: 251 }, () => callRest(sb.restUrl, 'app.info', { auth }).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 503)).toHaveLength(1);
    sb.clock.advance(200);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
  });

  it('the rate limit can be switched off and retuned at run time', async () => {
    sb = await startSandbox({ now: frozenAt() });
    const auth = sb.issueTokens(sb.portal).access_token;
    sb.faults.set({ rateLimit: { burst: 2 } });
    expect(sb.faults.current.rateLimit).toEqual({ burst: 2, drainPerSecond: 2 });
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(503);
    sb.faults.set({ rateLimit: false });
    for (let i = 0; i < 60; i++) expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
  });

  it('OPERATION_TIME_LIMIT: a method over its operating budget answers 429 until the oldest basket resets; other methods still work', async () => {
    sb = await startSandbox({ now: frozenAt(1_773_759_161_000) });
    const auth = sb.issueTokens(sb.portal).access_token;
    sb.faults.set({
      rateLimit: false,
      operationTimeLimit: { limitSeconds: 480, costSeconds: 100, methods: ['event.get'] },
    });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await callRest(sb.restUrl, 'event.get', { auth });
      expect(r.status).toBe(200);
      seen.push(r.body.time.operating);
    }
    expect(seen).toEqual([100, 200, 300, 400, 500]);
    const blocked = await callRest(sb.restUrl, 'event.get', { auth });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toBe('OPERATION_TIME_LIMIT');
    expect(blocked.body.error_description).toBe('Method is blocked due to operation time limit.');
    expect(blocked.body.time.operating_reset_at).toBe(1_773_759_161 + 600);
    expect(blocked.body.time.operating).toBe(500);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).status).toBe(200);
    // Inside a batch, the blocked method fails on its own.
    const batch = await callRest(sb.restUrl, 'batch', { auth, cmd: ['app.info', 'event.get'] });
    expect(batch.body.result.result_error[1].error).toBe('OPERATION_TIME_LIMIT');
    sb.clock.advance(600_000);
    expect((await callRest(sb.restUrl, 'event.get', { auth })).status).toBe(200);
  });

  it('without the switch, operating time is the real (tiny) run time against 480 s', async () => {
    sb = await startSandbox({ now: frozenAt() });
    const auth = sb.issueTokens(sb.portal).access_token;
    const r = await callRest(sb.restUrl, 'event.get', { auth });
    expect(r.body.time.operating).toBeGreaterThan(0);
    expect(r.body.time.operating).toBeLessThan(1);
  });
});
