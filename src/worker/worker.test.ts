import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { tempDir } from '../../test/helpers.js';
import type { EventMap } from '../events/registry.js';
import { Gateway } from '../gateway.js';
import { parseSchedule, nextAttemptAt } from './schedule.js';
import { Worker } from './worker.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const update = formFixture('imconnector-message-update');
const updateIn = (chat: string, n: number) =>
  update.replace('channel-123', chat).replace('ext-msg-005', `m-${n}`).replace('ts=1773760030', `ts=${1773760030 + n}`);

let tmp: ReturnType<typeof tempDir>;
let clock: number;
let gateway: Gateway;
const make = (worker: NonNullable<ConstructorParameters<typeof Gateway>[0]>['worker'] = {}) => {
  gateway = new Gateway({ db: `${tmp.dir}/w.db`, appTokens: new Map([[MEMBER, TOKEN]]), worker: { now: () => clock, pollMs: 10, ...worker } });
  return gateway;
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
    expect(seen).toEqual([`camel:ext-msg-005:1:${MEMBER}`, 'lower:107', 'any:ONIMCONNECTORMESSAGEUPDATE', 'any:ONIMCONNECTORMESSAGEDELETE']);
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
      // Longer than a NaN lease's timeout (1 ms): with the default lease it finishes.
      await new Promise((r) => setTimeout(r, 20));
      runs++;
    });
    const id = await receive(update);
    await gateway.worker.drain();
    expect(runs).toBe(1);
    expect((await gateway.store.getEvent(id))?.status).toBe('done');
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
    expect(dead).toMatchObject({ status: 'dead', attempts: 4, lastError: '1 handler of ONIMCONNECTORMESSAGEUPDATE failed: attempt 4 failed' });
    expect((await gateway.store.attempts(id)).map((a) => a.ok)).toEqual([false, false, false, false]);

    fail = false;
    expect(await gateway.store.requeue([id])).toBe(1);
    await gateway.worker.drain();
    expect((await gateway.store.getEvent(id))?.status).toBe('done');
    expect(runs).toBe(5);
  });

  it('takes the work of a crashed worker again after its lease expires', async () => {
    make({ leaseMs: 60_000 });
    const id = await receive(update);
    const [claimed] = await gateway.store.claim('crashed-worker', clock, 60_000, 10);
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
    expect(await gateway.store.getEvent(id)).toMatchObject({ status: 'retry', attempts: 1, lastError: 'database unreachable' });
    gateway.store.getPortal = getPortal;
    clock += 10_000;
    await gateway.worker.drain();
    expect(runs).toBe(1);
    expect((await gateway.store.getEvent(id))?.status).toBe('done');
  });

  it('computes jittered delays and ends the budget', () => {
    expect(nextAttemptAt(1, 0, [1000], 0, () => 0)).toBe(800);
    expect(nextAttemptAt(1, 0, [1000], 0, () => 1)).toBe(1200);
    expect(nextAttemptAt(1, 0, [1000], 5000, () => 0.5)).toBe(5000);
    expect(nextAttemptAt(2, 0, [1000])).toBeNull();
    expect(() => parseSchedule('5s,soon')).toThrow('"soon"');
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

it('a worker can be built on its own over a store', async () => {
  make();
  const w = new Worker({ store: gateway.store, handlers: gateway.handlers });
  await w.drain();
  expect(w.owner).toContain(String(process.pid));
});
