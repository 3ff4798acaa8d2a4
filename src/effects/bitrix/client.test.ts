import { afterEach, describe, expect, it } from 'vitest';
import { commandsOf, requestsTo, rig, tokenFree, type Rig } from '../../../test/bitrix-sandbox.js';
import { FakeClock } from '../../../test/fake-clock.js';
import { BitrixApiError } from './errors.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

/** Sleeps that return at once and are recorded (the waits themselves are what is checked). */
function recordedSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

const generous = { burst: 1000, perSecond: 1000 };
const queryLimit = (times?: number) => ({
  status: 503,
  error: 'QUERY_LIMIT_EXCEEDED',
  description: 'Too many requests',
  ...(times ? { times } : {}),
});
const operationLimit = (o: { resetAt?: number; times?: number } = {}) => ({
  status: 429,
  error: 'OPERATION_TIME_LIMIT',
  description: 'Method is blocked due to operation time limit.',
  ...(o.resetAt ? { operatingResetAt: o.resetAt } : {}),
  ...(o.times ? { times: o.times } : {}),
});
const count = (rr: Rig, method: string) => requestsTo(rr.sb, method).length;

describe('rate limits', () => {
  it('spaces calls by the leaky bucket: never more than burst + 2/s by any time (standard plan)', async () => {
    r = await rig();
    const clock = new FakeClock();
    const t0 = clock.now();
    const sent: number[] = [];
    const c = r
      .clients({
        now: clock.now,
        sleep: clock.sleep,
        fetch: (input, init) => (sent.push(clock.now() - t0), fetch(input, init)),
      })
      .forPortal(r.memberId);

    await Promise.all(Array.from({ length: 60 }, () => c.call('app.info')));

    expect(sent).toHaveLength(60);
    expect(count(r, 'app.info')).toBe(60);
    sent.sort((a, b) => a - b);
    sent.forEach((t, k) => expect(k + 1).toBeLessThanOrEqual(50 + (2 * t) / 1000));
    // The 60th could not leave before (60 - 50) / 2 s.
    expect(sent[59]).toBeGreaterThanOrEqual(5000);
  });

  it('QUERY_LIMIT_EXCEEDED (503) is retried with growing backoff', async () => {
    r = await rig();
    r.sb.faults.set({ methodErrors: { 'app.info': queryLimit(2) } });
    const { waits, sleep } = recordedSleep();
    const c = r.clients({ sleep, plan: generous }).forPortal(r.memberId);

    await expect(c.call('app.info')).resolves.toMatchObject({ ID: r.portal.appId });
    expect(count(r, 'app.info')).toBe(3);
    const backoffs = waits.filter((w) => w >= 100);
    expect(backoffs).toHaveLength(2);
    expect(backoffs[0]).toBeGreaterThanOrEqual(1000);
    expect(backoffs[0]).toBeLessThanOrEqual(1200);
    expect(backoffs[1]).toBeGreaterThanOrEqual(2000);
    expect(backoffs[1]).toBeLessThanOrEqual(2400);
  });

  it('QUERY_LIMIT_EXCEEDED past the retry budget is thrown with retryAfterMs for the worker', async () => {
    r = await rig();
    r.sb.faults.set({ methodErrors: { '*': queryLimit() } });
    const { sleep } = recordedSleep();
    const err = (await r
      .clients({ sleep, plan: generous })
      .forPortal(r.memberId)
      .call('app.info')
      .catch((e: unknown) => e)) as BitrixApiError;

    expect(err).toBeInstanceOf(BitrixApiError);
    expect(err).toMatchObject({ bitrixCode: 'QUERY_LIMIT_EXCEEDED', httpStatus: 503, method: 'app.info' });
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(8000);
    expect(err.message).toMatch(
      /^Bitrix24 app\.info for portal member-1 failed with QUERY_LIMIT_EXCEEDED: Too many requests \(gave up after 4 attempts\) \(HTTP 503\); retry in \d+ s$/,
    );
    expect(count(r, 'app.info')).toBe(4);
  });

  it('after a 503 the bucket counts as full: the next call waits a slot', async () => {
    r = await rig();
    r.sb.faults.set({ methodErrors: { 'app.info': queryLimit(1) } });
    const { waits, sleep } = recordedSleep();
    const clock = new FakeClock(); // stands still: the wait is exact
    await r
      .clients({ sleep, now: clock.now, retry: { baseDelayMs: 10 } })
      .forPortal(r.memberId)
      .call('app.info');
    // standard plan: the backoff (10-12 ms), then one slot of 1/2 s.
    expect(waits).toHaveLength(2);
    expect(waits[1]).toBe(500);
  });

  it('OPERATION_TIME_LIMIT (429) waits until operating_reset_at, then retries', async () => {
    r = await rig();
    const resetAt = Math.floor(Date.now() / 1000) + 20;
    r.sb.faults.set({ methodErrors: { 'app.info': operationLimit({ resetAt, times: 1 }) } });
    const { waits, sleep } = recordedSleep();
    const c = r.clients({ sleep, plan: generous, retry: { maxWaitMs: 30_000 } }).forPortal(r.memberId);

    await expect(c.call('app.info')).resolves.toMatchObject({ ID: r.portal.appId });
    expect(count(r, 'app.info')).toBe(2);
    const w = waits.filter((x) => x >= 100);
    expect(w).toHaveLength(1);
    expect(w[0]).toBeGreaterThan(15_000); // reset time + 1 s, minus however slow this test ran
    expect(w[0]).toBeLessThanOrEqual(21_100);
  });

  it('OPERATION_TIME_LIMIT with a reset minutes away is thrown at once with retryAfterMs', async () => {
    r = await rig();
    r.sb.faults.set({ methodErrors: { '*': operationLimit({ resetAt: Math.floor(Date.now() / 1000) + 600 }) } });
    const { waits, sleep } = recordedSleep();
    const err = (await r
      .clients({ sleep, plan: generous })
      .forPortal(r.memberId)
      .call('app.info')
      .catch((e: unknown) => e)) as BitrixApiError;

    expect(err).toMatchObject({ bitrixCode: 'OPERATION_TIME_LIMIT', httpStatus: 429 });
    expect(err.retryAfterMs).toBeGreaterThan(595_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(601_100);
    expect(count(r, 'app.info')).toBe(1);
    expect(waits.filter((x) => x >= 100)).toHaveLength(0);
  });

  it('OPERATION_TIME_LIMIT without a time block uses operating_reset_at of the last successful answer', async () => {
    r = await rig();
    // The client reads time off the sandbox clock. A call 8 minutes ago started the operating-time
    // basket, so the answer now says it resets in 2 minutes.
    const c = r
      .clients({ sleep: recordedSleep().sleep, plan: generous, now: () => r!.sb.clock.now() })
      .forPortal(r.memberId);
    r.sb.faults.set({ operationTimeLimit: { costSeconds: 1, methods: ['app.info'] } });
    await c.call('app.info');
    r.sb.clock.advance(480_000);
    await c.call('app.info');
    r.sb.faults.set({ methodErrors: { '*': operationLimit() } });
    const err = (await c.call('app.info').catch((e: unknown) => e)) as BitrixApiError;
    expect(err.bitrixCode).toBe('OPERATION_TIME_LIMIT');
    expect(err.retryAfterMs).toBeGreaterThan(115_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(121_100);
  });
});

describe('errors', () => {
  it('names the method, the Bitrix24 code and its description', async () => {
    r = await rig();
    const err = (await r
      .clients()
      .forPortal(r.memberId)
      .call('imconnector.send.status.delivery', { LINE: 1 })
      .catch((e: unknown) => e)) as BitrixApiError;
    expect(err).toBeInstanceOf(BitrixApiError);
    expect(err).toMatchObject({
      code: 'B24GW_BITRIX_API',
      bitrixCode: 'ERROR_ARGUMENT',
      httpStatus: 400,
      method: 'imconnector.send.status.delivery',
    });
    expect(err.retryAfterMs).toBeUndefined();
    expect(err.message).toBe(
      "Bitrix24 imconnector.send.status.delivery for portal member-1 failed with ERROR_ARGUMENT: Argument 'CONNECTOR' is null or empty (HTTP 400)",
    );
    expect(count(r, 'imconnector.send.status.delivery')).toBe(1); // not retried
  });

  it('never carries a token, even when Bitrix24 echoes one', async () => {
    r = await rig();
    const t = r.pair.access_token;
    r.sb.faults.set({
      methodErrors: {
        '*': { status: 400, error: 'ERROR_CORE', description: `bad request ${t}; auth=${t.slice(0, 12)}xyz` },
      },
    });
    const err = (await r
      .clients()
      .forPortal(r.memberId)
      .call('app.info')
      .catch((e: unknown) => e)) as BitrixApiError;
    expect(err.bitrixCode).toBe('ERROR_CORE');
    expect(err.message).toContain('REDACTED');
    const all = `${err.message} ${err.description} ${err.stack} ${JSON.stringify(err)}`;
    expect(tokenFree(all, [t, t.slice(0, 12), r.pair.refresh_token, r.sb.clientSecret])).toBe(true);
    expect(tokenFree(r.logs.join(''), [t, r.pair.refresh_token])).toBe(true);
  });

  it('an unknown portal, and a portal whose server is down, fail clearly', async () => {
    r = await rig();
    const clients = r.clients();
    await expect(clients.forPortal('nobody').call('app.info')).rejects.toMatchObject({
      code: 'B24GW_PORTAL_NOT_INSTALLED',
      message: expect.stringContaining('portal nobody'),
    });
    const c = clients.forPortal(r.memberId);
    await c.call('app.info');
    await r.sb.stop();
    const err = (await c.call('app.info').catch((e: unknown) => e)) as BitrixApiError;
    expect(err).toBeInstanceOf(BitrixApiError);
    expect(err.message).toMatch(/^Bitrix24 app\.info for portal member-1 failed with \w+/);
  });
});

describe('batch', () => {
  it('sends 50 commands per request and keeps results in order', async () => {
    r = await rig();
    const calls = Array.from({ length: 120 }, (_, i) =>
      i === 70 ? { method: 'no.such.method' } : { method: 'app.info' },
    );
    const res = await r.clients().forPortal(r.memberId).batch(calls);
    expect(res.requests).toBe(3);
    expect(count(r, 'batch')).toBe(3);
    expect(commandsOf(r.sb).filter((c) => c.transport === 'batch')).toHaveLength(120);
    expect(res.items.filter((i) => i.ok)).toHaveLength(119);
    const bad = res.items[70]!;
    expect(bad.ok).toBe(false);
    if (!bad.ok)
      expect(bad.error.message).toBe(
        'Bitrix24 no.such.method for portal member-1 failed with ERROR_METHOD_NOT_FOUND: Method not found!',
      );
  });

  it('with halt, stops at the first failed command', async () => {
    r = await rig();
    const calls = [
      { method: 'app.info' },
      { method: 'no.such.method' },
      { method: 'app.info' },
      ...Array.from({ length: 60 }, () => ({ method: 'app.info' })),
    ];
    const res = await r.clients().forPortal(r.memberId).batch(calls, true);
    expect(res.requests).toBe(1);
    expect(res.items.map((i) => (i.ok ? 'ok' : i.error.reason)).slice(0, 4)).toEqual([
      'ok',
      'ERROR_METHOD_NOT_FOUND',
      'B24GW_BATCH_HALTED',
      'B24GW_BATCH_HALTED',
    ]);
    expect(res.items.filter((i) => !i.ok && i.error.code === 'B24GW_BATCH_HALTED')).toHaveLength(61);
  });

  it('a 503 on the batch request is retried like any call', async () => {
    r = await rig();
    r.sb.faults.set({ methodErrors: { batch: queryLimit(1) } });
    const res = await r
      .clients({ sleep: recordedSleep().sleep, plan: generous })
      .forPortal(r.memberId)
      .batch([{ method: 'app.info' }, { method: 'app.info' }]);
    expect(res.items.every((i) => i.ok)).toBe(true);
    expect(count(r, 'batch')).toBe(2);
  });
});

describe('one client per portal', () => {
  it('forPortal gives the same client each time, and none once the clients are closed', async () => {
    r = await rig();
    const clients = r.clients();
    const c = clients.forPortal(r.memberId);
    expect(clients.forPortal(r.memberId)).toBe(c);
    expect(await c.call('app.info')).toBeTruthy();
    clients.close();
    expect(() => clients.forPortal(r!.memberId)).toThrow(expect.objectContaining({ code: 'B24GW_SHUTTING_DOWN' }));
  });
});
