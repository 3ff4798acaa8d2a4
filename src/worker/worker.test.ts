import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { tempDir, holdsWithin as until } from '../../test/helpers.js';
import type { EventMap } from '../events/registry.js';
import { Gateway } from '../gateway.js';
import { createLogger, type Logger } from '../log.js';
import { lapsedAttempt } from '../store/lapsed.js';
import { MAX_TIMER_MS } from '../queue/loop.js';
import { parseSchedule, nextAttemptAt } from '../queue/schedule.js';
import { SqliteStore } from '../store/sqlite/store.js';
import { newEvent } from '../../test/store/conformance.js';
import { Worker } from './worker.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const update = formFixture('imconnector-message-update');
const updateIn = (chat: string, n: number) =>
  update
    .replace('channel-123', chat)
    .replace('ext-msg-005', `m-${n}`)
    .replace('ts=1773760030', `ts=${1773760030 + n}`);

let tmp: ReturnType<typeof tempDir>;
let clock: number;
let gateway: Gateway;
const make = (worker: NonNullable<ConstructorParameters<typeof Gateway>[0]>['worker'] = {}, logger?: Logger) => {
  gateway = new Gateway({
    db: `${tmp.dir}/w.db`,
    appTokens: new Map([[MEMBER, TOKEN]]),
    logger,
    worker: { now: () => clock, pollMs: 10, ...worker },
  });
  return gateway;
};
const capture = () => {
  const lines: { msg: string; eventId?: number }[] = [];
  return {
    lines,
    logger: createLogger({
      level: 'warn',
      destination: { write: (c: string) => void lines.push(JSON.parse(c) as { msg: string }) },
    }),
  };
};
const receive = async (body: string) => {
  const r = await gateway.receive(body, 'application/x-www-form-urlencoded');
  if (!('id' in r)) throw r.error;
  return r.id;
};

beforeEach(() => {
  tmp = tempDir();
  clock = 1_000_000;
});
afterEach(async () => {
  await gateway.close();
  tmp.cleanup();
});

describe('handlers', () => {
  it('get the typed event for its code in any case, and onAny gets everything', async () => {
    make();
    const seen: string[] = [];
    gateway.on('OnImConnectorMessageUpdate', (e: EventMap['ONIMCONNECTORMESSAGEUPDATE'], ctx) => {
      seen.push(`camel:${e.data.MESSAGES?.[0]?.message.id[0]}:${ctx.attempt}:${ctx.memberId}`);
    });
    gateway.on('onimconnectormessageupdate', (e) => {
      seen.push(`lower:${e.data.LINE}`);
    });
    gateway.onAny((e) => {
      seen.push(`any:${e.event}`);
    });
    await receive(update);
    await receive(formFixture('imconnector-message-delete'));
    await gateway.worker.drain();
    expect(seen).toEqual([
      `camel:ext-msg-005:1:${MEMBER}`,
      'lower:107',
      'any:ONIMCONNECTORMESSAGEUPDATE',
      'any:ONIMCONNECTORMESSAGEDELETE',
    ]);
    expect((await gateway.store.countEvents()).done).toBe(2);
  });

  it("give a bot handler the addressed bot's own auth", async () => {
    make();
    let botToken: unknown;
    gateway.on('ONIMBOTMESSAGEUPDATE', (_e, ctx) => {
      botToken = ctx.bot?.auth.access_token;
    });
    await receive(formFixture('imbot-message-update-group'));
    await gateway.worker.drain();
    expect(botToken).toBe('2c1da06900071b00084400023bf0f107464a9d34dc68a6b185f');
  });

  it('report the errors of all handlers of one event together, and retry it', async () => {
    make();
    const reported: string[] = [];
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', () => {
      throw new Error('channel down');
    });
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', () => Promise.reject(new Error('crm down')));
    let third = 0;
    gateway.onAny(() => {
      third++;
    });
    gateway.onError((err) => {
      reported.push(err.message);
    });
    const id = await receive(update);
    await gateway.worker.drain();
    expect(third).toBe(1);
    expect(reported).toEqual(['2 handlers of ONIMCONNECTORMESSAGEUPDATE failed: channel down; crm down']);
    const stored = await gateway.store.getEvent(id);
    expect(stored?.status).toBe('retry');
    expect(stored?.lastError).toContain('channel down; crm down');
  });
});

describe('options', () => {
  it('an option given as undefined keeps its default', async () => {
    make({ concurrency: undefined, leaseMs: undefined, schedule: undefined });
    let runs = 0;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', async () => {
      // Longer than a NaN time limit's timer (1 ms): with the default limit it finishes.
      await new Promise((r) => setTimeout(r, 20));
      runs++;
    });
    const id = await receive(update);
    await gateway.worker.drain();
    expect(runs).toBe(1);
    expect((await gateway.store.getEvent(id))?.status).toBe('done');
  });
});

describe('options', () => {
  it('refuses a time that is no number of milliseconds above 0 a timer can hold', () => {
    make();
    const build = (over: Partial<ConstructorParameters<typeof Worker>[0]>) =>
      new Worker({ store: gateway.store, handlers: gateway.handlers, ...over });
    for (const name of ['leaseMs', 'handlerTimeoutMs', 'stopGraceMs', 'pollMs'] as const) {
      for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, MAX_TIMER_MS + 1])
        expect(() => build({ [name]: bad }), `${name} ${bad}`).toThrow(
          expect.objectContaining({ code: 'B24GW_BAD_CONFIG', message: expect.stringContaining(name) }),
        );
      expect(() => build({ [name]: MAX_TIMER_MS })).not.toThrow();
      expect(() => build({ [name]: 1 })).not.toThrow();
    }
  });
});

describe('retries and dead letters', () => {
  it('retries on the schedule, dies after it, and replay brings the event back', async () => {
    make({ schedule: parseSchedule('5s,5m,30m') });
    let fail = true;
    let runs = 0;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', () => {
      runs++;
      if (fail) throw new Error(`attempt ${runs} failed`);
    });
    const id = await receive(update);
    const retryTimes: number[] = [];
    for (let i = 0; i < 4; i++) {
      await gateway.worker.drain();
      const e = await gateway.store.getEvent(id);
      if (e?.nextAttemptAt) retryTimes.push(e.nextAttemptAt - clock);
      // Not due yet: nothing runs.
      clock += 1_000;
      await gateway.worker.drain();
      expect(runs).toBe(i + 1);
      clock = (e?.nextAttemptAt ?? clock) + 1;
    }
    expect(runs).toBe(4);
    const delays = [5_000, 300_000, 1_800_000];
    expect(retryTimes).toHaveLength(delays.length);
    retryTimes.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(delays[i]! * 0.8);
      expect(d).toBeLessThanOrEqual(delays[i]! * 1.2);
    });
    const dead = await gateway.store.getEvent(id);
    expect(dead).toMatchObject({
      status: 'dead',
      attempts: 4,
      lastError: '1 handler of ONIMCONNECTORMESSAGEUPDATE failed: attempt 4 failed',
    });
    expect((await gateway.store.attempts(id)).map((a) => a.ok)).toEqual([false, false, false, false]);

    fail = false;
    expect(await gateway.store.requeue([id])).toBe(1);
    await gateway.worker.drain();
    expect((await gateway.store.getEvent(id))?.status).toBe('done');
    expect(runs).toBe(5);
  });

  it('takes the work of a crashed worker again after its lease expires, and says so', async () => {
    const taken: number[] = [];
    make({ leaseMs: 60_000, onTakenOver: (e) => void taken.push(e.id) });
    const id = await receive(update);
    const [claimed] = await gateway.store.claim('crashed-worker', clock, 60_000, 10, 10);
    expect(claimed?.id).toBe(id);
    let runs = 0;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', () => {
      runs++;
    });
    await gateway.worker.drain();
    expect(runs).toBe(0);
    clock += 60_001;
    await gateway.worker.drain();
    expect(runs).toBe(1);
    expect(await gateway.store.finish(id, 'crashed-worker', { ok: true }, clock)).toBe(false);
    expect((await gateway.store.attempts(id)).map((a) => a.owner)).toEqual(['crashed-worker', gateway.worker.owner]);
    expect(taken).toEqual([id]);
    await receive(updateIn('another-chat', 1));
    await gateway.worker.drain();
    expect(runs).toBe(2);
    expect(taken).toEqual([id]);
  });

  it('reports each run: its outcome and time to onFinished, a retry as a warning, a dead event as an error', async () => {
    const log = capture();
    const finished: [number, string, number][] = [];
    make(
      { schedule: parseSchedule('5s'), onFinished: (e, outcome, ms) => void finished.push([e.id, outcome, ms]) },
      log.logger,
    );
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', (e) => {
      clock += 7;
      if (e.data.MESSAGES![0]!.chat.id === 'failing') throw new Error('channel down');
    });
    const failing = await receive(updateIn('failing', 1));
    await gateway.worker.drain();
    clock += 10_000;
    await gateway.worker.drain();
    const fine = await receive(updateIn('fine', 2));
    await gateway.worker.drain();
    expect(finished).toEqual([
      [failing, 'retry', 7],
      [failing, 'dead', 7],
      [fine, 'done', 7],
    ]);
    expect(log.lines.map((l) => ({ ...l, time: undefined, pid: undefined, hostname: undefined }))).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'event failed; it will be retried',
        eventId: failing,
        event: 'ONIMCONNECTORMESSAGEUPDATE',
        attempt: 1,
        error: '1 handler of ONIMCONNECTORMESSAGEUPDATE failed: channel down',
        retryAt: expect.any(Number),
      }),
      expect.objectContaining({
        level: 50,
        msg: 'event is dead after its last attempt; replay it when the cause is fixed',
        eventId: failing,
        attempt: 2,
        retryAt: null,
      }),
    ]);
  });

  it('retries an event whose portal cannot be read, as a failed attempt', async () => {
    make({ schedule: parseSchedule('5s') });
    let runs = 0;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', () => {
      runs++;
    });
    const id = await receive(update);
    const getPortal = gateway.store.getPortal.bind(gateway.store);
    gateway.store.getPortal = () => Promise.reject(new Error('database unreachable'));
    await gateway.worker.drain();
    expect(runs).toBe(0);
    expect(await gateway.store.getEvent(id)).toMatchObject({
      status: 'retry',
      attempts: 1,
      lastError: 'database unreachable',
    });
    gateway.store.getPortal = getPortal;
    clock += 10_000;
    await gateway.worker.drain();
    expect(runs).toBe(1);
    expect((await gateway.store.getEvent(id))?.status).toBe('done');
  });

  it('reads a portal once for the events a claim starts together, each handler getting its own copy of it', async () => {
    make({ concurrency: 8 });
    (gateway.store as SqliteStore).db
      .prepare(`INSERT INTO portals (member_id, domain, updated_at) VALUES ('${MEMBER}', 'a.bitrix24.com', 1)`)
      .run();
    let reads = 0;
    const getPortal = gateway.store.getPortal.bind(gateway.store);
    gateway.store.getPortal = async (memberId) => {
      reads++;
      await new Promise((r) => setTimeout(r, 20));
      return getPortal(memberId);
    };
    const portals: unknown[] = [];
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', (_e, ctx) => {
      portals.push(ctx.portal);
      (ctx.portal as { domain: string }).domain = 'changed.example';
    });
    for (let n = 0; n < 8; n++) await receive(updateIn(`chat-${n}`, n));
    await gateway.worker.drain();
    expect(portals).toHaveLength(8);
    expect(reads).toBeLessThan(8);
    expect(new Set(portals).size).toBe(8);
    expect(portals[0]).toMatchObject({ domain: 'changed.example' });
    expect(await getPortal(MEMBER)).toMatchObject({ domain: 'a.bitrix24.com' });
  });

  it('computes jittered delays and ends the budget', () => {
    expect(nextAttemptAt(1, 0, [1000], 0, () => 0)).toBe(800);
    expect(nextAttemptAt(1, 0, [1000], 0, () => 1)).toBe(1200);
    expect(nextAttemptAt(1, 0, [1000], 5000, () => 0.5)).toBe(5000);
    expect(nextAttemptAt(2, 0, [1000])).toBeNull();
    expect(() => parseSchedule('5s,soon')).toThrow('"soon"');
  });
});

describe('time limit, heartbeat and lost leases', () => {
  // Real milliseconds: the heartbeat renews every 50 ms, at the fake clock's time.
  const LEASE = 150;

  it('a handler that ignores its aborted signal keeps its event, renewed, until it settles: never two runs at once', async () => {
    const log = capture();
    make({ leaseMs: LEASE, handlerTimeoutMs: 20, schedule: parseSchedule('100ms') }, log.logger);
    let runs = 0;
    let running = 0;
    let maxRunning = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let signal: AbortSignal | undefined;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', async (_e, ctx) => {
      runs++;
      maxRunning = Math.max(maxRunning, ++running);
      signal ??= ctx.signal;
      if (runs === 1) await released; // deaf to ctx.signal
      running--;
    });
    let renewals = 0;
    const renewLeases = gateway.store.renewLeases.bind(gateway.store);
    gateway.store.renewLeases = (...args) => (renewals++, renewLeases(...args));
    // Another process on the same database.
    const other = new Worker({
      store: gateway.store,
      handlers: gateway.handlers,
      now: () => clock,
      leaseMs: LEASE,
      owner: 'other',
      schedule: parseSchedule('100ms'),
    });
    const id = await receive(update);
    gateway.start();
    expect(await until(() => signal?.aborted === true)).toBe(true);
    expect((signal!.reason as Error).name).toBe('TimeoutError');
    // 1,000 ms of the clock, more than six leases, while the handler still runs.
    for (let step = 0; step < 10; step++) {
      const seen = renewals;
      await until(() => renewals > seen, 1_000);
      clock += 100;
      await other.drain();
    }
    expect(runs).toBe(1);
    expect(await gateway.store.getEvent(id)).toMatchObject({ status: 'processing', attempts: 1 });
    const warnings = log.lines.filter((l) => l.eventId === id && /ignore their aborted signal/.test(l.msg));
    expect(warnings.length).toBeGreaterThanOrEqual(2);

    // Settled at last: only now is the timed-out attempt recorded, and the event runs again after it.
    release();
    expect(await until(async () => (await gateway.store.getEvent(id))?.status === 'retry')).toBe(true);
    expect(await gateway.store.getEvent(id)).toMatchObject({
      attempts: 1,
      lastError: 'handlers did not finish within 20 ms',
    });
    clock += 1_000;
    expect(await until(async () => (await gateway.store.getEvent(id))?.status === 'done')).toBe(true);
    expect((await gateway.store.attempts(id)).map((a) => [a.attempt, a.ok, a.error])).toEqual([
      [1, false, 'handlers did not finish within 20 ms'],
      [2, true, null],
    ]);
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('aborts the signal at the time limit; the attempt fails even when the handler then returns, and later handlers are not started', async () => {
    make({ handlerTimeoutMs: 30, schedule: parseSchedule('5s') });
    let reason: unknown;
    let later = 0;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', async (_e, ctx) => {
      await new Promise((r) => ctx.signal.addEventListener('abort', r));
      reason = ctx.signal.reason;
    });
    gateway.onAny(() => {
      later++;
    });
    const id = await receive(update);
    await gateway.worker.drain();
    expect(reason).toMatchObject({ name: 'TimeoutError', message: 'handlers did not finish within 30 ms' });
    expect(later).toBe(0);
    expect(await gateway.store.getEvent(id)).toMatchObject({
      status: 'retry',
      attempts: 1,
      lastError: 'handlers did not finish within 30 ms',
    });
  });

  it('aborts the signal when the lease was lost to another worker, and drops the outcome', async () => {
    const log = capture();
    make({ leaseMs: LEASE, handlerTimeoutMs: 60_000 }, log.logger);
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let reason: unknown;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', async (_e, ctx) => {
      started();
      await new Promise((r) => ctx.signal.addEventListener('abort', r));
      reason = ctx.signal.reason;
    });
    const id = await receive(update);
    const drained = gateway.worker.drain();
    await running;
    // Another process takes it, as if this one had stalled for longer than its lease.
    const later = clock + 10 * LEASE;
    expect((await gateway.store.claim('other', later, LEASE, 10, 10)).map((e) => e.id)).toEqual([id]);
    await drained;
    expect(reason).toMatchObject({
      name: 'AbortError',
      message: `the lease on event ${id} was lost to another worker`,
    });
    expect(await gateway.store.getEvent(id)).toMatchObject({ status: 'processing', attempts: 2, lastError: null });
    expect(await gateway.store.finish(id, 'other', { ok: true }, later)).toBe(true);
    expect((await gateway.store.attempts(id)).map((a) => [a.owner, a.ok, a.error])).toEqual([
      [gateway.worker.owner, false, lapsedAttempt],
      ['other', true, null],
    ]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        msg: "the lease was lost to another worker; this attempt's outcome is dropped",
        eventId: id,
        attempt: 1,
      }),
    );
  });

  it('on stop, aborts the handlers still running after the grace period and records a failed attempt', async () => {
    make({ stopGraceMs: 30, schedule: parseSchedule('5s') });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let reason: unknown;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', async (_e, ctx) => {
      started();
      await new Promise((r) => ctx.signal.addEventListener('abort', r));
      reason = ctx.signal.reason;
    });
    const id = await receive(update);
    gateway.start();
    await running;
    await gateway.worker.stop();
    expect(reason).toMatchObject({ name: 'AbortError' });
    const stored = await gateway.store.getEvent(id);
    expect(stored).toMatchObject({ status: 'retry', attempts: 1 });
    expect(stored?.lastError).toMatch(
      /the worker stopped, and the handlers did not finish within its 30 ms grace period/,
    );
  });

  it('does not run again an event whose process died during each of its attempts (a crash loop)', async () => {
    make({ leaseMs: 1_000, schedule: parseSchedule('5s') });
    let runs = 0;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', () => {
      runs++;
    });
    const id = await receive(update);
    const other = await receive(updateIn('another-chat', 1));
    // Two processes died during it: the budget of the schedule above (two attempts) is spent.
    for (const owner of ['died-1', 'died-2']) {
      await gateway.store.claim(owner, clock, 1_000, 1, 2);
      clock += 1_001;
    }
    await gateway.worker.drain();
    expect(runs).toBe(1);
    expect(await gateway.store.getEvent(id)).toMatchObject({ status: 'dead', attempts: 2 });
    expect((await gateway.store.getEvent(id))?.lastError).toMatch(/each of its 2 attempts/);
    expect((await gateway.store.getEvent(other))?.status).toBe('done');
  });
});

describe('order', () => {
  it('keeps the order of each chat while chats run in parallel', async () => {
    make({ concurrency: 8 });
    const order = new Map<string, number[]>();
    let running = 0;
    let maxRunning = 0;
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', async (e) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const item = e.data.MESSAGES![0]!;
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      const list = order.get(item.chat.id) ?? [];
      list.push(Number(item.message.id[0]!.slice(2)));
      order.set(item.chat.id, list);
      running--;
    });
    const sent = new Map<string, number[]>();
    for (let n = 0; n < 200; n++) {
      const chat = `chat-${n % 10}`;
      await receive(updateIn(chat, n));
      sent.set(chat, [...(sent.get(chat) ?? []), n]);
    }
    gateway.start();
    while ((await gateway.store.countEvents()).done < 200) await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(sent);
    expect(maxRunning).toBeGreaterThan(1);
    expect(maxRunning).toBeLessThanOrEqual(8);
  });

  it('holds later events of a chat while an earlier one waits for its retry', async () => {
    make();
    let failFirst = true;
    const ran: string[] = [];
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', (e) => {
      const id = e.data.MESSAGES![0]!.message.id[0]!;
      if (id === 'm-1' && failFirst) throw new Error('not yet');
      ran.push(id);
    });
    await receive(updateIn('a', 1));
    await receive(updateIn('a', 2));
    await receive(updateIn('b', 3));
    await gateway.worker.drain();
    expect(ran).toEqual(['m-3']);
    failFirst = false;
    clock += 10_000;
    await gateway.worker.drain();
    expect(ran).toEqual(['m-3', 'm-1', 'm-2']);
  });
});

it('a worker can be built on its own over a store, and runs what is in it', async () => {
  make();
  const ran: string[] = [];
  gateway.on('ONIMCONNECTORMESSAGEUPDATE', async (e) => void ran.push(e.data.MESSAGES![0]!.message.id[0]!));
  const id = await receive(updateIn('chat-alone', 1));
  // Its first claim lapsed: taken over by a worker given no onTakenOver.
  await gateway.store.claim('crashed', 0, 1, 10, 10);
  const w = new Worker({ store: gateway.store, handlers: gateway.handlers });
  await w.drain();
  expect(w.owner).toContain(String(process.pid));
  expect(ran).toEqual(['m-1']);
  expect((await gateway.store.getEvent(id))?.status).toBe('done');
  expect((await gateway.store.attempts(id)).map((a) => a.owner)).toEqual(['crashed', w.owner]);
});

it('a handler gets how the event came, a logger naming it, and a REST client that refuses when none is configured', async () => {
  const log = capture();
  make({}, log.logger);
  const seen: unknown[] = [];
  gateway.onAny(async (e, ctx) => {
    ctx.log.warn('handling');
    seen.push(ctx.delivery, await ctx.rest.call('profile').catch((err: { code?: string }) => err.code));
  });
  const posted = await receive(update);
  await gateway.store.keepPullCursors([{ memberId: MEMBER, kind: 'bot', target: '1' }], clock);
  const [cursor] = await gateway.store.claimPullCursors('puller', clock, 60_000, 1, 8);
  const [pulled] = (await gateway.store.appendPulled(
    cursor!.id,
    'puller',
    [newEvent({ memberId: MEMBER, receivedAt: clock })],
    'fetch',
    { position: '2' },
    clock,
  ))!;
  const alone = new Worker({ store: gateway.store, handlers: gateway.handlers, logger: log.logger, now: () => clock });
  await alone.drain();
  expect(seen).toEqual(['webhook', 'B24GW_BAD_CONFIG', 'fetch', 'B24GW_BAD_CONFIG']);
  expect(log.lines.filter((l) => l.msg === 'handling')).toEqual([
    expect.objectContaining({ eventId: posted, event: 'ONIMCONNECTORMESSAGEUPDATE' }),
    expect.objectContaining({ eventId: pulled!.id, event: 'ONIMCONNECTORMESSAGEUPDATE' }),
  ]);
});

it('a started worker is woken by an event another store of its database appends', async () => {
  make({ pollMs: 600_000 });
  const ran: number[] = [];
  gateway.onAny((_e, ctx) => void ran.push(ctx.eventId));
  gateway.start();
  const first = await receive(update);
  expect(await until(() => ran.length === 1)).toBe(true);
  // Idle now until its next poll, ten minutes away: only the other store's news wakes it.
  const other = new SqliteStore(`${tmp.dir}/w.db`);
  try {
    const { id } = await other.append(newEvent({ memberId: MEMBER, receivedAt: clock }));
    expect(await until(() => ran.length === 2)).toBe(true);
    expect(ran).toEqual([first, id]);
  } finally {
    await other.close();
  }
});
