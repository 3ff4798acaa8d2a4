import { expect, it } from 'vitest';
import { callRest, startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { startGatewayProcess } from '../process.js';
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
  '--client-id',
  sb.clientId,
  '--client-secret',
  sb.clientSecret,
  '--oauth-server',
  sb.url,
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

/** Kills the gateway each time the store holds about another EVENTS / (KILLS + 1) pulled events, restarting it on the same database; then lets the last one finish. */
async function drainWithKills(
  sb: Sandbox,
  db: string,
  stored: () => Promise<number>,
  drained: () => boolean,
): Promise<string[]> {
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
  return kills;
}

it(`fetch mode: ${KILLS} SIGKILLs while a bot's queue of ${EVENTS} drains: each event stored once, the queue confirmed`, async () => {
  const sb = (rig.sb = await startSandbox({ clientId: 'local.pullkill.1', clientSecret: 'pull-kill-secret-0123' }));
  sb.faults.set({ rateLimit: false });
  const db = `${rig.tmp.dir}/fetch.db`;
  rig.gw = await startGatewayProcess(args(sb, db));
  await sb.install(sb.portal, `${rig.gw.url}/events`);
  await rig.gw.kill('SIGKILL');
  const token = sb.issueTokens(sb.portal).access_token;
  const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
    auth: token,
    fields: { code: 'drained', properties: { name: 'Drained' }, eventMode: 'fetch' },
  });
  const botId = r.body.result.bot.id as number;
  for (let i = 0; i < EVENTS; i++) await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: `fetch-${i}` });
  const queue = sb.portal.chatbots.settings.get(botId)!.queue;
  expect(queue.size).toBe(EVENTS);

  const store = new SqliteStore(db);
  try {
    const count = async () => (await store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' })).length;
    const started = Date.now();
    const kills = await drainWithKills(sb, db, count, () => queue.size === 0);
    const events = await store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' });
    const texts = events.map((e) => (e.event as { data: { message: { text: string } } }).data.message.text);
    const gets = sb.recorder.calls({ method: 'imbot.v2.event.get' });
    figures('pull kill (fetch)', {
      events: EVENTS,
      stored: events.length,
      distinct: new Set(texts).size,
      refetched: events.reduce((n, e) => n + e.duplicates, 0),
      kills: kills.join('/'),
      gets: gets.length,
      ms: Date.now() - started,
    });
    expect(texts.sort()).toEqual(Array.from({ length: EVENTS }, (_, i) => `fetch-${i}`).sort());
    expect(events.every((e) => e.delivery === 'fetch')).toBe(true);
    expect(queue.size).toBe(0);
    expect(await waitUntil(async () => (await store.countEvents(['pending', 'retry'])).pending === 0, 30_000)).toBe(
      true,
    );
  } finally {
    await store.close();
  }
});

it(`offline: ${KILLS} SIGKILLs while an offline queue of ${EVENTS} drains: each record stored once, the queue empty`, async () => {
  const sb = (rig.sb = await startSandbox({ clientId: 'local.pullkill.2', clientSecret: 'pull-kill-secret-0456' }));
  sb.faults.set({ rateLimit: false });
  const db = `${rig.tmp.dir}/offline.db`;
  rig.gw = await startGatewayProcess(args(sb, db));
  await sb.install(sb.portal, `${rig.gw.url}/events`);
  await rig.gw.kill('SIGKILL');
  const token = sb.issueTokens(sb.portal).access_token;
  await callRest(sb.restUrl, 'event.bind', { auth: token, event: 'ONIMCONNECTORMESSAGEADD', event_type: 'offline' });
  for (let i = 0; i < EVENTS; i++)
    await sb.act.operatorWrites(sb.portal, {
      connector: 'kill',
      line: 1,
      externalChatId: `chat-${i % 10}`,
      text: `offline-${i}`,
    });
  expect(sb.portal.offline.size).toBe(EVENTS);

  const store = new SqliteStore(db);
  try {
    const count = async () => (await store.listEvents({ code: 'ONIMCONNECTORMESSAGEADD' })).length;
    const started = Date.now();
    const kills = await drainWithKills(sb, db, count, () => sb.portal.offline.size === 0);
    const events = await store.listEvents({ code: 'ONIMCONNECTORMESSAGEADD' });
    const texts = events.map(
      (e) => (e.event as { data: { MESSAGES: { message: { text: string } }[] } }).data.MESSAGES[0]!.message.text,
    );
    figures('pull kill (offline)', {
      events: EVENTS,
      stored: events.length,
      distinct: new Set(texts).size,
      refetched: events.reduce((n, e) => n + e.duplicates, 0),
      kills: kills.join('/'),
      gets: sb.recorder.calls({ method: 'event.offline.get' }).length,
      ms: Date.now() - started,
    });
    expect(texts.map((t) => t.replace(/^.*\[br\]/, '')).sort()).toEqual(
      Array.from({ length: EVENTS }, (_, i) => `offline-${i}`).sort(),
    );
    expect(events.every((e) => e.delivery === 'offline')).toBe(true);
    expect(sb.portal.offline.size).toBe(0);
    expect(await waitUntil(async () => (await store.countEvents(['pending', 'retry'])).pending === 0, 30_000)).toBe(
      true,
    );
  } finally {
    await store.close();
  }
});
