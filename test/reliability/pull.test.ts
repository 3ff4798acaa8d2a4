import { expect, it } from 'vitest';
import { callRest, startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { StoredEvent } from '../../src/store/types.js';
import { oauthFlags, startGatewayProcess } from '../process.js';
import { figures, waitUntil } from './lib.js';
import { useRig } from './rig.js';

/**
 * The pull modes under SIGKILL: the gateway (`serve --pull`, the built CLI) is killed several
 * times while it drains a fetch-mode bot's queue, and while it drains a portal's offline queue,
 * each several hundred events long, and restarted on the same database. Afterwards every event
 * the sandbox handed out is stored exactly once, and the sandbox's queue is confirmed to its end.
 */

const EVENTS = 600;
const KILLS = 4;
const rig = useRig();

const args = (sb: Sandbox, db: string) => [
  '--db',
  db,
  '--allow-domain',
  new URL(sb.url).host,
  ...oauthFlags(sb),
  '--pull',
  '--pull-interval',
  '200ms',
  '--pull-limit',
  '40',
  '--lease',
  '2s',
  '--log-level',
  'error',
];

/** A sandbox whose portal installed the gateway (a first run on `file`, killed at once), and the portal's access token. */
async function installed(clientId: string, clientSecret: string, file: string) {
  const sb = (rig.sb = await startSandbox({ clientId, clientSecret }));
  sb.faults.set({ rateLimit: false });
  const db = `${rig.tmp.dir}/${file}`;
  rig.gw = await startGatewayProcess(args(sb, db));
  await sb.install(sb.portal, `${rig.gw.url}/events`);
  await rig.gw.kill('SIGKILL');
  return { sb, db, token: sb.issueTokens(sb.portal).access_token };
}

/**
 * Kills the gateway each time the store holds about another EVENTS / (KILLS + 1) pulled events of
 * `code`, restarting it on the same database; then lets the last one drain the queue and run what
 * it stored. Reports the figures (`gets`: the method that pulls) and returns the events stored,
 * with the text of each.
 */
async function drainWithKills(
  sb: Sandbox,
  db: string,
  o: { scenario: string; code: string; gets: string; text: (e: StoredEvent) => string; drained: () => boolean },
) {
  const { code, drained } = o;
  const store = new SqliteStore(db);
  try {
    const stored = async () => (await store.listEvents({ code })).length;
    const started = Date.now();
    const kills: string[] = [];
    for (let round = 1; round <= KILLS; round++) {
      rig.gw = await startGatewayProcess(args(sb, db));
      const target = Math.round((EVENTS * round) / (KILLS + 1));
      let n = 0;
      expect(
        await waitUntil(
          async () => {
            n = await stored();
            return n >= target || drained();
          },
          60_000,
          5,
        ),
      ).toBe(true);
      await rig.gw.kill('SIGKILL');
      kills.push(String(n));
    }
    rig.gw = await startGatewayProcess(args(sb, db));
    expect(await waitUntil(drained, 60_000, 20)).toBe(true);
    const ms = Date.now() - started;
    const events = await store.listEvents({ code });
    expect(await waitUntil(async () => (await store.countEvents(['pending', 'retry'])).pending === 0, 30_000)).toBe(
      true,
    );
    const texts = events.map(o.text);
    figures(o.scenario, {
      events: EVENTS,
      stored: events.length,
      distinct: new Set(texts).size,
      refetched: events.reduce((n, e) => n + e.duplicates, 0),
      kills: kills.join('/'),
      gets: sb.recorder.calls({ method: o.gets }).length,
      ms,
    });
    return { events, texts };
  } finally {
    await store.close();
  }
}

it(`fetch mode: ${KILLS} SIGKILLs while a bot's queue of ${EVENTS} drains: each event stored once, the queue confirmed`, async () => {
  const { sb, db, token } = await installed('local.pullkill.1', 'pull-kill-secret-0123', 'fetch.db');
  const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
    auth: token,
    fields: { code: 'drained', properties: { name: 'Drained' }, eventMode: 'fetch' },
  });
  const botId = r.body.result.bot.id as number;
  for (let i = 0; i < EVENTS; i++) await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: `fetch-${i}` });
  const queue = sb.portal.chatbots.settings.get(botId)!.queue;
  expect(queue.size).toBe(EVENTS);

  const { events, texts } = await drainWithKills(sb, db, {
    scenario: 'pull kill (fetch)',
    code: 'ONIMBOTV2MESSAGEADD',
    gets: 'imbot.v2.event.get',
    text: (e) => (e.event as { data: { message: { text: string } } }).data.message.text,
    drained: () => queue.size === 0,
  });
  expect(texts.sort()).toEqual(Array.from({ length: EVENTS }, (_, i) => `fetch-${i}`).sort());
  expect(events.every((e) => e.delivery === 'fetch')).toBe(true);
  expect(queue.size).toBe(0);
});

it(`offline: ${KILLS} SIGKILLs while an offline queue of ${EVENTS} drains: each record stored once, the queue empty`, async () => {
  const { sb, db, token } = await installed('local.pullkill.2', 'pull-kill-secret-0456', 'offline.db');
  await callRest(sb.restUrl, 'event.bind', { auth: token, event: 'ONIMCONNECTORMESSAGEADD', event_type: 'offline' });
  for (let i = 0; i < EVENTS; i++)
    await sb.act.operatorWrites(sb.portal, {
      connector: 'kill',
      line: 1,
      externalChatId: `chat-${i % 10}`,
      text: `offline-${i}`,
    });
  expect(sb.portal.offline.size).toBe(EVENTS);

  const { events, texts } = await drainWithKills(sb, db, {
    scenario: 'pull kill (offline)',
    code: 'ONIMCONNECTORMESSAGEADD',
    gets: 'event.offline.get',
    text: (e) => (e.event as { data: { MESSAGES: { message: { text: string } }[] } }).data.MESSAGES[0]!.message.text,
    drained: () => sb.portal.offline.size === 0,
  });
  expect(texts.map((t) => t.replace(/^.*\[br\]/, '')).sort()).toEqual(
    Array.from({ length: EVENTS }, (_, i) => `offline-${i}`).sort(),
  );
  expect(events.every((e) => e.delivery === 'offline')).toBe(true);
  expect(sb.portal.offline.size).toBe(0);
});
