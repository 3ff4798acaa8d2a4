import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_ID, CLIENT_SECRET, rig } from '../test/bitrix-sandbox.js';
import { FakeClock } from '../test/fake-clock.js';
import { tempDir } from '../test/helpers.js';
import { newEvent } from '../test/store/conformance.js';
import { KNOWN_ERROR_CODES } from './effects/bitrix/errors.js';
import { Gateway } from './gateway.js';
import { MAX_METHODS } from './metric-labels.js';
import { Metrics, QUEUE_DEPTH_TTL_MS } from './metrics.js';
import { SqliteStore } from './store/sqlite/store.js';

describe('b24gw_queue_depth', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let counts: number;
  let clock: number;
  beforeEach(() => {
    tmp = tempDir();
    store = new SqliteStore(`${tmp.dir}/m.db`);
    counts = 0;
    clock = 1_000_000;
    const count = store.countEvents.bind(store);
    store.countEvents = ((statuses?: never) => (counts++, count(statuses))) as typeof store.countEvents;
  });
  afterEach(async () => {
    await store.close();
    tmp.cleanup();
  });

  const depth = async (m: Metrics) => {
    const text = await m.registry.metrics();
    return Object.fromEntries(
      [...text.matchAll(/^b24gw_queue_depth\{status="(\w+)"\} (\d+)$/gm)].map(([, s, n]) => [s, Number(n)]),
    );
  };

  it('costs one count however many scrapes come within its window, and never counts done events', async () => {
    const metrics = new Metrics(store, { defaultMetrics: false, now: () => clock });
    await store.append(newEvent());
    // Scrapes at once share the count in flight; those after it, within the window, reuse its answer.
    const together = await Promise.all(Array.from({ length: 10 }, () => depth(metrics)));
    expect(counts).toBe(1);
    expect(together.every((d) => d.pending === 1)).toBe(true);
    expect(together[0]).toEqual({ pending: 1, processing: 0, retry: 0, dead: 0, invalid: 0 });
    await store.append(newEvent());
    for (let i = 0; i < 10; i++) {
      clock += (QUEUE_DEPTH_TTL_MS - 1) / 10;
      expect((await depth(metrics)).pending).toBe(1);
    }
    expect(counts).toBe(1);
    clock += 1;
    expect((await depth(metrics)).pending).toBe(2);
    expect(counts).toBe(2);
  });

  it('counts again after a failed count, and not at all when switched off', async () => {
    const metrics = new Metrics(store, { defaultMetrics: false, now: () => clock });
    const count = store.countEvents;
    store.countEvents = (() => (counts++, Promise.reject(new Error('disk gone')))) as typeof store.countEvents;
    await expect(metrics.registry.metrics()).rejects.toThrow('disk gone');
    store.countEvents = count;
    expect((await depth(metrics)).pending).toBe(0);
    expect(counts).toBe(2);
    await new Metrics(store, { defaultMetrics: false, queueDepth: false }).registry.metrics();
    expect(counts).toBe(2);
  });

  it('b24gw_queue_age_seconds: how long the oldest pending event has waited, 0 when none waits', async () => {
    const metrics = new Metrics(store, { defaultMetrics: false, now: () => clock });
    const age = async () => Number(/^b24gw_queue_age_seconds (\S+)$/m.exec(await metrics.registry.metrics())?.[1]);
    expect(await age()).toBe(0);
    clock += QUEUE_DEPTH_TTL_MS;
    await store.append(newEvent({ receivedAt: clock - 90_000 }));
    expect(await age()).toBe(90);
  });
});

const series = async (m: Metrics, name: string) =>
  (await m.registry.getSingleMetric(name)!.get()).values.map((v) => v.labels);

describe('metric labels', () => {
  it('a stream of made-up error codes and methods leaves the label set bounded', async () => {
    const metrics = new Metrics(undefined as never, { defaultMetrics: false, queueDepth: false });
    const random = () => randomBytes(1 + (randomBytes(1)[0]! % 12)).toString('base64url');
    const sizes: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5_000; i++) {
        metrics.restCall(i % 2 ? `im.${random()}` : random(), random());
        metrics.reject(`B24GW_${random()}`);
      }
      sizes.push((await metrics.registry.metrics()).split('\n').length);
    }
    const rest = await series(metrics, 'b24gw_rest_calls_total');
    const results = new Set(rest.map((l) => String(l.result)));
    const methods = new Set(rest.map((l) => String(l.method)));
    expect([...results]).toEqual(['other']);
    expect(methods.size).toBeLessThanOrEqual(MAX_METHODS + 1);
    expect(methods.has('other')).toBe(true);
    expect((await series(metrics, 'b24gw_events_rejected_total')).map((l) => l.reason)).toEqual(['other']);
    // Once the method cap is reached, more made-up values add no series: /metrics stops growing.
    expect(sizes[2]).toBe(sizes[1]);
  });

  it('keeps ok, known codes and methods of a REST method’s shape', async () => {
    const metrics = new Metrics(undefined as never, { defaultMetrics: false, queueDepth: false });
    metrics.restCall('imconnector.send.status.delivery', 'ok');
    metrics.restCall('imbot.v2.Chat.Message.send', 'QUERY_LIMIT_EXCEEDED');
    metrics.restCall('batch', 'expired_token');
    metrics.restCall('batch', 'HTTP_502');
    metrics.restCall(`a.${'b'.repeat(70)}`, 'ok');
    metrics.restCall('../../etc', 'ok');
    metrics.reject('token_mismatch');
    metrics.reject('B24GW_BUSY');
    metrics.reject('made_up_reason');
    expect(KNOWN_ERROR_CODES.has('QUERY_LIMIT_EXCEEDED') && KNOWN_ERROR_CODES.has('expired_token')).toBe(true);
    expect(await series(metrics, 'b24gw_rest_calls_total')).toEqual([
      { method: 'imconnector.send.status.delivery', result: 'ok' },
      { method: 'imbot.v2.Chat.Message.send', result: 'QUERY_LIMIT_EXCEEDED' },
      { method: 'batch', result: 'expired_token' },
      { method: 'batch', result: 'other' },
      { method: 'other', result: 'ok' },
    ]);
    expect(await series(metrics, 'b24gw_events_rejected_total')).toEqual([
      { reason: 'token_mismatch' },
      { reason: 'B24GW_BUSY' },
      { reason: 'other' },
    ]);
  });
});

describe('a portal answering made-up error codes', () => {
  it('gives the gateway’s REST metric no label it does not know', async () => {
    const r = await rig();
    const clock = new FakeClock();
    const gateway = new Gateway({
      db: r.store,
      defaultMetrics: false,
      bitrix: {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        oauthServer: r.sb.url,
        now: clock.now,
        sleep: clock.sleep,
        plan: 'enterprise',
      },
    });
    try {
      const portal = gateway.bitrix.forPortal(r.memberId);
      for (let i = 0; i < 150; i++) {
        // A new made-up code for every call.
        r.sb.faults.set({
          methodErrors: {
            '*': { status: 400, error: `E_${randomBytes(6).toString('hex')}`, description: 'made up', times: 1 },
          },
        });
        await expect(
          portal.call(i % 3 ? 'app.info' : `made.up${i}.${randomBytes(40).toString('hex')}`),
        ).rejects.toThrow('made up');
      }
      r.sb.faults.set({
        methodErrors: {
          'app.info': { status: 503, error: 'QUERY_LIMIT_EXCEEDED', description: 'slow down', times: 1 },
        },
      });
      await portal.call('app.info');
      const labels = await series(gateway.metrics, 'b24gw_rest_calls_total');
      expect(labels).toHaveLength(4);
      expect(labels).toEqual(
        expect.arrayContaining([
          { method: 'app.info', result: 'other' },
          { method: 'other', result: 'other' },
          { method: 'app.info', result: 'QUERY_LIMIT_EXCEEDED' },
          { method: 'app.info', result: 'ok' },
        ]),
      );
    } finally {
      gateway.bitrix.close();
      await r.close();
    }
  });
});
