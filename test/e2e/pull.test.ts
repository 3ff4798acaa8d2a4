import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callRest, startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import { Gateway, imbotV2, startServer, type GatewayOptions, type RunningServer } from '../../src/index.js';
import type { Delivery } from '../../src/store/types.js';
import { tempDir } from '../helpers.js';
import { createLogger } from '../../src/log.js';
import { freshDatabase, pgAvailable } from '../pg.js';

// The pull modes end to end over real sockets: the sandbox keeps the events (a fetch-mode bot's
// Event.get queue, the portal's offline queue), the gateway pulls them, stores each once and runs
// its handlers, and confirms them to the sandbox only once they are stored.

let sb: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let running: { gateway: Gateway; server: RunningServer } | undefined;

beforeEach(async () => {
  tmp = tempDir();
  sb = await startSandbox({ clientId: 'local.pull.1', clientSecret: 'pull-secret-0123456789' });
  sb.faults.set({ rateLimit: false });
});
afterEach(async () => {
  await stopGateway();
  await sb.stop();
  tmp.cleanup();
});

async function startGateway(pull: GatewayOptions['pull']): Promise<Gateway> {
  const gateway = new Gateway({
    db: `${tmp.dir}/pull.db`,
    allowDomains: [new URL(sb.url).host],
    bitrix: { clientId: sb.clientId, clientSecret: sb.clientSecret, oauthServer: sb.url },
    worker: { pollMs: 50, schedule: [50, 50] },
    pull,
    ...(process.env.PULL_DEBUG ? { logger: createLogger({ level: 'debug' }) } : {}),
  });
  const server = await startServer(gateway, { port: 0 });
  running = { gateway, server };
  return gateway;
}

async function stopGateway(): Promise<void> {
  if (!running) return;
  await running.server.close();
  await running.gateway.close();
  running = undefined;
}

const until = async (test: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

const eventsUrl = () => `${running!.server.url}/events`;

describe('Chatbots 2.0 fetch mode', () => {
  it('a fetch-mode bot is found, its queue pulled page by page, each event handled once and answered', async () => {
    const gateway = await startGateway({ offline: false, limit: 5, idleMs: 100, fetchGapMs: 20, discoverMs: 200 });
    const seen: string[] = [];
    const how = new Set<Delivery>();
    gateway.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
      seen.push(event.data.message.text);
      how.add(ctx.delivery);
      await imbotV2(ctx).reply(event, `Received: ${event.data.message.text}`);
    });
    gateway.start();
    await sb.install(sb.portal, eventsUrl());
    const token = sb.issueTokens(sb.portal).access_token;
    const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
      auth: token,
      fields: { code: 'puller', properties: { name: 'Puller' }, eventMode: 'fetch' },
    });
    const botId = r.body.result.bot.id as number;
    const texts = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const text of texts) await sb.act.chatbot(sb.portal, { kind: 'write', botId, text });
    await until(() => seen.length >= texts.length);
    await gateway.drain();
    expect(seen).toEqual(texts);
    expect([...how]).toEqual(['fetch']);
    const stored = (await gateway.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' })).filter((e) => e.status === 'done');
    expect(stored.map((e) => e.delivery)).toEqual(Array(texts.length).fill('fetch'));
    // Three pages of five: the last offset is confirmed by the next (empty) call.
    const queue = sb.portal.chatbots.settings.get(botId)!.queue;
    await until(() => queue.size === 0);
    const gets = sb.recorder.calls({ method: 'imbot.v2.event.get' });
    expect(gets.every((c) => c.params.botId === botId && c.params.limit === 5)).toBe(true);
    const replies = sb.recorder.calls({ method: 'imbot.v2.chat.message.send' });
    expect(replies.map((c) => (c.params.fields as { message: string }).message).sort()).toEqual(
      texts.map((t) => `Received: ${t}`).sort(),
    );
    expect(await gateway.metrics.registry.getSingleMetricAsString('b24gw_events_pulled_total')).toContain(
      `b24gw_events_pulled_total{delivery="fetch",duplicate="false"} ${texts.length}`,
    );
    const [cursor] = await gateway.store.listPullCursors({ kind: 'bot' });
    expect(cursor).toMatchObject({ target: String(botId), status: 'active', pulled: texts.length });

    // Unregistered: its ONIMBOTV2DELETE comes through the queue, and the bot is no longer pulled.
    await callRest(sb.restUrl, 'imbot.v2.Bot.unregister', { auth: token, botId });
    await until(async () => (await gateway.store.listPullCursors({ status: 'gone' })).length === 1);
  });
});

describe('im.v2 user events', () => {
  it("with userEvents, the authorized user's im.v2 log is pulled too", async () => {
    const gateway = await startGateway({
      offline: false,
      userEvents: true,
      idleMs: 50,
      fetchGapMs: 10,
      discoverMs: 100,
    });
    gateway.start();
    await sb.install(sb.portal, eventsUrl());
    const token = sb.issueTokens(sb.portal).access_token;
    expect((await callRest(sb.restUrl, 'im.v2.Event.subscribe', { auth: token })).body.result).toBe(true);
    const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
      auth: token,
      fields: { code: 'peer', properties: { name: 'Peer' }, eventMode: 'fetch' },
    });
    const botId = r.body.result.bot.id as number;
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'to the log', userId: 1 });
    await until(async () => (await gateway.store.listEvents({ code: 'ONIMV2MESSAGEADD' })).length > 0);
    const [event] = await gateway.store.listEvents({ code: 'ONIMV2MESSAGEADD' });
    expect(event!.delivery).toBe('fetch');
    expect((await gateway.store.listPullCursors({ kind: 'user' })).length).toBe(1);
  });
});

describe('failures', () => {
  it('a pull that fails is retried on its schedule; its budget spent, it is parked until requeued', async () => {
    const gateway = await startGateway({
      offline: false,
      idleMs: 50,
      fetchGapMs: 10,
      discoverMs: 100,
      pollMs: 20,
      schedule: [50, 50],
    });
    gateway.start();
    await sb.install(sb.portal, eventsUrl());
    const token = sb.issueTokens(sb.portal).access_token;
    const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
      auth: token,
      fields: { code: 'flaky', properties: { name: 'Flaky' }, eventMode: 'fetch' },
    });
    const botId = r.body.result.bot.id as number;
    const stored = async () => (await gateway.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' })).length;
    await until(async () => (await gateway.store.listPullCursors({ kind: 'bot' })).length === 1);
    // Two failures: within the budget (the first attempt and two retries), the pull goes on.
    sb.faults.set({
      methodErrors: { 'imbot.v2.Event.get': { status: 500, error: 'INTERNAL_SERVER_ERROR', times: 2 } },
    });
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'one' });
    await until(async () => (await stored()) === 1);
    expect((await gateway.store.listPullCursors())[0]).toMatchObject({ status: 'active', lastError: null });
    // Failing for good: parked after three attempts, nothing lost; requeued, it goes on.
    sb.faults.set({
      methodErrors: { 'imbot.v2.Event.get': { status: 500, error: 'INTERNAL_SERVER_ERROR', times: 3 } },
    });
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'two' });
    await until(async () => (await gateway.store.listPullCursors({ status: 'parked' })).length === 1);
    const [parked] = await gateway.store.listPullCursors({ status: 'parked' });
    expect(parked!.lastError).toMatch(/INTERNAL_SERVER_ERROR|Internal/i);
    expect(await stored()).toBe(1);
    expect(await gateway.store.requeuePullCursors([parked!.id], Date.now())).toBe(1);
    await until(async () => (await stored()) === 2);
  });
});

describe('offline events', () => {
  const bindOffline = async (token: string) => {
    for (const event of ['ONIMCONNECTORMESSAGEADD', 'ONIMCONNECTORMESSAGEUPDATE', 'ONIMCONNECTORMESSAGEDELETE'])
      await callRest(sb.restUrl, 'event.bind', { auth: token, event, event_type: 'offline' });
    await callRest(sb.restUrl, 'event.bind', { auth: token, event: 'ONOFFLINEEVENT', handler: eventsUrl() });
  };

  it('ONOFFLINEEVENT wakes the puller; each record stored once, in order, then cleared; a bad one kept invalid and marked', async () => {
    // A long rest: only ONOFFLINEEVENT (or a start) makes the queue due.
    const gateway = await startGateway({ fetch: false, idleMs: 60_000 });
    const seen: string[] = [];
    const how = new Set<Delivery>();
    gateway.on('ONIMCONNECTORMESSAGEADD', (event, ctx) => {
      how.add(ctx.delivery);
      for (const m of event.data.MESSAGES ?? []) seen.push(m.message.text);
    });
    gateway.start();
    await sb.install(sb.portal, eventsUrl());
    const token = sb.issueTokens(sb.portal).access_token;
    await bindOffline(token);
    const result = await sb.scenario('conversation', { messages: 4, statusWaitMs: 0 });
    expect(result.ok).toBe(true);
    await until(() => seen.length === 4 && sb.portal.offline.size === 0);
    await gateway.drain();
    expect(seen).toEqual([1, 2, 3, 4].map((i) => `[b]Sandbox Operator:[/b] [br]Operator message ${i}`));
    expect([...how]).toEqual(['offline']);
    const pulled = (await gateway.store.listEvents()).filter((e) => e.delivery === 'offline');
    expect(pulled.map((e) => [e.code, e.status])).toEqual([
      ...Array(4).fill(['ONIMCONNECTORMESSAGEADD', 'done']),
      ['ONIMCONNECTORMESSAGEUPDATE', 'done'],
      ['ONIMCONNECTORMESSAGEDELETE', 'done'],
    ]);
    expect(pulled.every((e) => e.duplicates === 0)).toBe(true);
    // Every get reserved under the cursor's own process_id, and every clear named it.
    const [cursor] = await gateway.store.listPullCursors({ kind: 'offline' });
    const gets = sb.recorder.calls({ method: 'event.offline.get' });
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.every((c) => c.params.clear === 0 && c.params.process_id === cursor!.position)).toBe(true);
    expect(
      sb.recorder.calls({ method: 'event.offline.clear' }).every((c) => c.params.process_id === cursor!.position),
    ).toBe(true);

    // A record that is no event: kept as invalid, marked with event.offline.error, the queue goes on.
    sb.portal.offline.push('ONIMCONNECTORMESSAGEADD', { MESSAGES: 'nonsense' }, false, new Date().toISOString());
    await sb.act.operatorWrites(sb.portal, {
      connector: 'sandbox_connector',
      line: 1,
      externalChatId: 'x',
      text: 'after',
    });
    await until(() => seen.length === 5);
    const invalid = await gateway.store.listEvents({ status: 'invalid' });
    expect(invalid.map((e) => [e.code, e.delivery])).toEqual([['ONIMCONNECTORMESSAGEADD', 'offline']]);
    await until(() => sb.portal.offline.records.every((r) => r.ERROR === 1));
    expect(sb.portal.offline.records.map((r) => r.EVENT_DATA)).toEqual([{ MESSAGES: 'nonsense' }]);
  });

  it('what arrives while the gateway is down waits in the portal and is pulled when it starts again', async () => {
    let gateway = await startGateway({ fetch: false, idleMs: 60_000 });
    gateway.start();
    await sb.install(sb.portal, eventsUrl());
    await bindOffline(sb.issueTokens(sb.portal).access_token);
    await stopGateway();
    for (let i = 0; i < 3; i++)
      await sb.act.operatorWrites(sb.portal, { connector: 'c', line: 1, externalChatId: 'down', text: `held ${i}` });
    expect(sb.portal.offline.size).toBe(3);
    gateway = await startGateway({ fetch: false, idleMs: 60_000 });
    gateway.start();
    await until(() => sb.portal.offline.size === 0);
    await gateway.drain();
    const stored = await gateway.store.listEvents({ code: 'ONIMCONNECTORMESSAGEADD' });
    expect(stored.map((e) => [e.delivery, e.status])).toEqual(Array(3).fill(['offline', 'done']));
  });
});

describe.skipIf(!pgAvailable)('two instances on PostgreSQL', () => {
  it('pull one bot from one instance at a time: each event stored once, the queue confirmed', async () => {
    const pgDb = await freshDatabase();
    const options = (name: string): GatewayOptions => ({
      db: pgDb.url,
      allowDomains: [new URL(sb.url).host],
      bitrix: { clientId: sb.clientId, clientSecret: sb.clientSecret, oauthServer: sb.url },
      worker: { pollMs: 50, schedule: [50, 50], owner: name },
      pull: { offline: false, limit: 7, idleMs: 100, fetchGapMs: 10, discoverMs: 200, pollMs: 20 },
    });
    const a = new Gateway(options('a'));
    const b = new Gateway(options('b'));
    const server = await startServer(a, { port: 0 });
    try {
      a.start();
      b.start();
      await sb.install(sb.portal, `${server.url}/events`);
      const token = sb.issueTokens(sb.portal).access_token;
      const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
        auth: token,
        fields: { code: 'shared', properties: { name: 'Shared' }, eventMode: 'fetch' },
      });
      const botId = r.body.result.bot.id as number;
      const queue = sb.portal.chatbots.settings.get(botId)!.queue;
      for (let i = 0; i < 60; i++) await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: `s${i}` });
      await until(async () => (await a.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' })).length === 60);
      await until(() => queue.size === 0);
      const events = await a.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' });
      const texts = events.map((e) => (e.event as { data: { message: { text: string } } }).data.message.text);
      expect(new Set(texts).size).toBe(60);
      // One cursor, pulled by one instance at a time: no page was fetched by both (it would be stored as a duplicate).
      expect(await a.store.listPullCursors({ kind: 'bot' })).toHaveLength(1);
      expect(events.map((e) => e.duplicates)).toEqual(Array(60).fill(0));
      // b takes over when a stops.
      await server.close();
      await a.close();
      for (let i = 60; i < 70; i++) await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: `s${i}` });
      await until(async () => (await b.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' })).length === 70, 30_000);
    } finally {
      await server.close().catch(() => undefined);
      await a.close().catch(() => undefined);
      await b.close();
      await pgDb.drop();
    }
  });
});
