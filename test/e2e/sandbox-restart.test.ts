import { afterEach, beforeEach, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { fakeChannel } from '../channel.js';
import { tempDir } from '../helpers.js';
import { startGatewayProcess, type GatewayProcess } from '../process.js';

// The gateway process is stopped (SIGTERM) in the middle of a conversation with a backlog of
// events waiting for the channel and statuses waiting for Bitrix24, and started again on the
// same database: every event it answered 200 is processed and confirmed, none twice as new.

const CONNECTOR = 'e2e_connector';
const LINE = 1;

let tmp: ReturnType<typeof tempDir>;
let sb: Sandbox;
let channel: Awaited<ReturnType<typeof fakeChannel>>;
let gw: GatewayProcess | undefined;
let store: SqliteStore | undefined;

beforeEach(async () => {
  tmp = tempDir();
  sb = await startSandbox();
  channel = await fakeChannel((p) => (p.type === 'message.created' ? { externalMessageIds: [`ext-${p.id}`] } : {}));
});

afterEach(async () => {
  await gw?.kill('SIGKILL');
  gw = undefined;
  await store?.close();
  store = undefined;
  await channel.close();
  await sb.stop();
  tmp.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: () => string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}\n--- gateway output ---\n${gw?.output().slice(-3000) ?? ''}`);
    await sleep(50);
  }
}

it('a restart in the middle (SIGTERM, start again on the same db) loses nothing and processes everything', async () => {
  const db = `${tmp.dir}/gateway.db`;
  const args = [
    '--db', db,
    '--allow-domain', new URL(sb.url).host,
    '--client-id', sb.clientId, '--client-secret', sb.clientSecret, '--oauth-server', sb.url,
    '--channel-url', channel.url, '--channel-secret', channel.secret,
    '--retry-schedule', '200ms,500ms,1s,2s,5s,5s',
    '--log-level', 'warn',
  ];
  gw = await startGatewayProcess(args);
  store = new SqliteStore(db);
  const portal = sb.portal;
  const install = await sb.install(portal, `${gw.url}/events`);
  expect(install.ok).toBe(true);
  portal.ensureConnector(CONNECTOR, LINE);

  // Operators keep writing; each event goes to wherever the gateway listens now.
  let target = `${gw.url}/events`;
  const acked = new Map<number, { chatId: number; messageId: number }>(); // gateway event id → message
  let unanswered = 0;
  let n = 0;
  let stop = false;
  const sender = async () => {
    while (!stop) {
      const i = n++;
      const m = await sb.act.operatorWrites(portal, { connector: CONNECTOR, line: LINE, externalChatId: `chat-${i % 10}`, text: `Message ${i}` }, { handlerUrl: target });
      const d = m.delivery.deliveries[0]!;
      // Bitrix24 never re-sends: an event the gateway did not answer 200 is not its to keep.
      if (d.status === 200) acked.set((JSON.parse(d.responseBody!) as { id: number }).id, { chatId: m.chat.id, messageId: m.message.id });
      else unanswered++;
      await sleep(d.status === 200 ? 5 : 25);
    }
  };
  const senders = Array.from({ length: 4 }, sender);

  await until(() => (acked.size >= 60 ? true : undefined), () => '60 events answered before the restart');
  // A backlog: the channel and Bitrix24's REST API are down, so events wait for retries and statuses in the outbox.
  channel.fail(true);
  sb.faults.set({ outage: 'http503' });
  await sleep(400);
  const stoppedAt = Date.now();
  await gw.kill('SIGTERM');
  const exitCode = gw.child.exitCode;
  const ackedBeforeRestart = acked.size;
  await sleep(200);

  gw = await startGatewayProcess(args);
  target = `${gw.url}/events`;
  channel.fail(false);
  sb.faults.set({ outage: false });
  await until(() => (acked.size >= ackedBeforeRestart + 60 ? true : undefined), () => '60 more events answered after the restart');
  stop = true;
  await Promise.all(senders);

  // Every answered event is done, delivered to the channel once as new, and confirmed to Bitrix24.
  const ids = [...acked.keys()];
  const events = await until(
    async () => {
      const list = await store!.listEvents();
      const mine = list.filter((e) => acked.has(e.id));
      return mine.length === ids.length && mine.every((e) => e.status === 'done') ? list : undefined;
    },
    () => `${ids.length} events done`,
  );
  expect(events.filter((e) => e.code === 'ONIMCONNECTORMESSAGEADD')).toHaveLength(ids.length);
  const delivered = new Set(channel.deliveries.map((d) => d.payload.source.eventId));
  expect(ids.filter((id) => !delivered.has(id))).toEqual([]);
  // A retry repeats the webhook-id, so the channel can drop a repeat: one id per event.
  expect(new Set(channel.deliveries.map((d) => d.webhookId)).size).toBe(ids.length);

  const statusOf = (messageId: number) => sb.recorder.statuses().find((s) => s.messageId === messageId);
  await until(() => (ids.every((id) => statusOf(acked.get(id)!.messageId)) ? true : undefined), () => `${ids.length} delivery statuses (have ${ids.filter((id) => statusOf(acked.get(id)!.messageId)).length})`);
  for (const [id, m] of acked) {
    expect(statusOf(m.messageId)).toMatchObject({ kind: 'delivery', chatId: m.chatId, externalIds: [`ext-evt_${id}_0`], known: true });
  }
  expect(await store!.countStatuses()).toMatchObject({ pending: 0, dead: 0 });

  // The restart mattered: the first process stopped cleanly with work left, which the second one did.
  expect(exitCode).toBe(0);
  const finishedAfter = events.filter((e) => e.receivedAt < stoppedAt && (e.processedAt ?? 0) > stoppedAt);
  console.log(`restart: ${acked.size} events answered (${ackedBeforeRestart} before the restart), ${unanswered} not answered while it was down; ${finishedAfter.length} received before the stop were finished after it`);
  expect(finishedAfter.length).toBeGreaterThan(0);
}, 120_000);
