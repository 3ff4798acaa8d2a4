import { describe, expect, it } from 'vitest';
import { callRest } from '@b24-im-gateway/sandbox';
import { Gateway, imbotV2, startServer, type GatewayOptions } from '../../src/index.js';
import type { Delivery } from '../../src/store/types.js';
import { useGatewayRig } from '../gateway-rig.js';
import { until } from '../helpers.js';
import { createLogger } from '../../src/log.js';
import { freshDatabase, pgAvailable } from '../pg.js';

// The pull modes end to end over real sockets: the sandbox keeps the events (a fetch-mode bot's
// Event.get queue, the portal's offline queue), the gateway pulls them, stores each once and runs
// its handlers, and confirms them to the sandbox only once they are stored.

const rig = useGatewayRig({ clientId: 'local.pull.1', clientSecret: 'pull-secret-0123456789' });

function startGateway(pull: GatewayOptions['pull']): Promise<Gateway> {
  return rig.start({
    db: `${rig.dir}/pull.db`,
    allowDomains: [new URL(rig.sb.url).host],
    bitrix: { clientId: rig.sb.clientId, clientSecret: rig.sb.clientSecret, oauthServer: rig.sb.url },
    worker: { pollMs: 50, schedule: [50, 50] },
    pull,
    ...(process.env.PULL_DEBUG ? { logger: createLogger({ level: 'debug' }) } : {}),
  });
}

const eventsUrl = () => `${rig.url}/events`;

/** Starts the gateway's loops and installs it on the portal; the portal's access token. */
async function installed(gateway: Gateway): Promise<string> {
  gateway.start();
  await rig.sb.install(rig.sb.portal, eventsUrl());
  return rig.sb.issueTokens(rig.sb.portal).access_token;
}

/** Registers a Chatbots 2.0 bot in fetch mode; its id. */
async function fetchBot(token: string, code: string, name: string): Promise<number> {
  const r = await callRest(rig.sb.restUrl, 'imbot.v2.Bot.register', {
    auth: token,
    fields: { code, properties: { name }, eventMode: 'fetch' },
  });
  return r.body.result.bot.id as number;
}

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
    const token = await installed(gateway);
    const botId = await fetchBot(token, 'puller', 'Puller');
    const texts = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const text of texts) await rig.sb.act.chatbot(rig.sb.portal, { kind: 'write', botId, text });
    await until(() => seen.length >= texts.length);
    await gateway.drain();
    expect(seen).toEqual(texts);
    expect([...how]).toEqual(['fetch']);
    const stored = (await gateway.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' })).filter((e) => e.status === 'done');
    expect(stored.map((e) => e.delivery)).toEqual(Array(texts.length).fill('fetch'));
    // Three pages of five: the last offset is confirmed by the next (empty) call.
    const queue = rig.sb.portal.chatbots.settings.get(botId)!.queue;
    await until(() => queue.size === 0);
    const gets = rig.sb.recorder.calls({ method: 'imbot.v2.event.get' });
    expect(gets.every((c) => c.params.botId === botId && c.params.limit === 5)).toBe(true);
    const replies = rig.sb.recorder.calls({ method: 'imbot.v2.chat.message.send' });
    expect(replies.map((c) => (c.params.fields as { message: string }).message).sort()).toEqual(
      texts.map((t) => `Received: ${t}`).sort(),
    );
    expect(await gateway.metrics.registry.getSingleMetricAsString('b24gw_events_pulled_total')).toContain(
      `b24gw_events_pulled_total{delivery="fetch",duplicate="false"} ${texts.length}`,
    );
    const [cursor] = await gateway.store.listPullCursors({ kind: 'bot' });
    expect(cursor).toMatchObject({ target: String(botId), status: 'active', pulled: texts.length });

    // Unregistered: its ONIMBOTV2DELETE comes through the queue, and the bot is no longer pulled.
    await callRest(rig.sb.restUrl, 'imbot.v2.Bot.unregister', { auth: token, botId });
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
    const token = await installed(gateway);
    expect((await callRest(rig.sb.restUrl, 'im.v2.Event.subscribe', { auth: token })).body.result).toBe(true);
    const botId = await fetchBot(token, 'peer', 'Peer');
    await rig.sb.act.chatbot(rig.sb.portal, { kind: 'write', botId, text: 'to the log', userId: 1 });
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
    const token = await installed(gateway);
    const botId = await fetchBot(token, 'flaky', 'Flaky');
    const stored = async () => (await gateway.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' })).length;
    await until(async () => (await gateway.store.listPullCursors({ kind: 'bot' })).length === 1);
    // Two failures: within the budget (the first attempt and two retries), the pull goes on.
    rig.sb.faults.set({
      methodErrors: { 'imbot.v2.Event.get': { status: 500, error: 'INTERNAL_SERVER_ERROR', times: 2 } },
    });
    await rig.sb.act.chatbot(rig.sb.portal, { kind: 'write', botId, text: 'one' });
    await until(async () => (await stored()) === 1);
    expect((await gateway.store.listPullCursors())[0]).toMatchObject({ status: 'active', lastError: null });
    // Failing for good: parked after three attempts, nothing lost; requeued, it goes on.
    rig.sb.faults.set({
      methodErrors: { 'imbot.v2.Event.get': { status: 500, error: 'INTERNAL_SERVER_ERROR', times: 3 } },
    });
    await rig.sb.act.chatbot(rig.sb.portal, { kind: 'write', botId, text: 'two' });
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
      await callRest(rig.sb.restUrl, 'event.bind', { auth: token, event, event_type: 'offline' });
    await callRest(rig.sb.restUrl, 'event.bind', { auth: token, event: 'ONOFFLINEEVENT', handler: eventsUrl() });
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
    const token = await installed(gateway);
    await bindOffline(token);
    const result = await rig.sb.scenario('conversation', { messages: 4, statusWaitMs: 0 });
    expect(result.ok).toBe(true);
    await until(() => seen.length === 4 && rig.sb.portal.offline.size === 0);
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
    const gets = rig.sb.recorder.calls({ method: 'event.offline.get' });
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.every((c) => c.params.clear === 0 && c.params.process_id === cursor!.position)).toBe(true);
    expect(
      rig.sb.recorder.calls({ method: 'event.offline.clear' }).every((c) => c.params.process_id === cursor!.position),
    ).toBe(true);

    // A record that is no event: kept as invalid, marked with event.offline.error, the queue goes on.
    rig.sb.portal.offline.push('ONIMCONNECTORMESSAGEADD', { MESSAGES: 'nonsense' }, false, new Date().toISOString());
    await rig.sb.act.operatorWrites(rig.sb.portal, {
      connector: 'sandbox_connector',
      line: 1,
      externalChatId: 'x',
      text: 'after',
    });
    await until(() => seen.length === 5);
    const invalid = await gateway.store.listEvents({ status: 'invalid' });
    expect(invalid.map((e) => [e.code, e.delivery])).toEqual([['ONIMCONNECTORMESSAGEADD', 'offline']]);
    await until(() => rig.sb.portal.offline.records.every((r) => r.ERROR === 1));
    expect(rig.sb.portal.offline.records.map((r) => r.EVENT_DATA)).toEqual([{ MESSAGES: 'nonsense' }]);
  });

  it('what arrives while the gateway is down waits in the portal and is pulled when it starts again', async () => {
    let gateway = await startGateway({ fetch: false, idleMs: 60_000 });
    gateway.start();
    await rig.sb.install(rig.sb.portal, eventsUrl());
    await bindOffline(rig.sb.issueTokens(rig.sb.portal).access_token);
    await rig.stop();
    for (let i = 0; i < 3; i++)
      await rig.sb.act.operatorWrites(rig.sb.portal, {
        connector: 'c',
        line: 1,
        externalChatId: 'down',
        text: `held ${i}`,
      });
    expect(rig.sb.portal.offline.size).toBe(3);
    gateway = await startGateway({ fetch: false, idleMs: 60_000 });
    gateway.start();
    await until(() => rig.sb.portal.offline.size === 0);
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
      allowDomains: [new URL(rig.sb.url).host],
      bitrix: { clientId: rig.sb.clientId, clientSecret: rig.sb.clientSecret, oauthServer: rig.sb.url },
      worker: { pollMs: 50, schedule: [50, 50], owner: name },
      pull: { offline: false, limit: 7, idleMs: 100, fetchGapMs: 10, discoverMs: 200, pollMs: 20 },
    });
    const a = new Gateway(options('a'));
    const b = new Gateway(options('b'));
    const server = await startServer(a, { port: 0 });
    try {
      a.start();
      b.start();
      await rig.sb.install(rig.sb.portal, `${server.url}/events`);
      const token = rig.sb.issueTokens(rig.sb.portal).access_token;
      const botId = await fetchBot(token, 'shared', 'Shared');
      const queue = rig.sb.portal.chatbots.settings.get(botId)!.queue;
      for (let i = 0; i < 60; i++) await rig.sb.act.chatbot(rig.sb.portal, { kind: 'write', botId, text: `s${i}` });
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
      for (let i = 60; i < 70; i++) await rig.sb.act.chatbot(rig.sb.portal, { kind: 'write', botId, text: `s${i}` });
      await until(async () => (await b.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' })).length === 70, 30_000);
    } finally {
      await server.close().catch(() => undefined);
      await a.close().catch(() => undefined);
      await b.close();
      await pgDb.drop();
    }
  });
});
