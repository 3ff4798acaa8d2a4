import { expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { startGatewayProcess } from '../process.js';
import { CONNECTOR, useSandboxRig } from './sandbox-rig.js';

// The gateway process is stopped (SIGTERM) in the middle of a conversation with a backlog of
// events waiting for the channel and statuses waiting for Bitrix24, and started again on the
// same database: every event it answered 200 is processed and confirmed, none twice as new.

const LINE = 1;

const rig = useSandboxRig({ timeoutMs: 60_000 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a restart in the middle (SIGTERM, start again on the same db) loses nothing and processes everything', async () => {
  const args = rig.gatewayArgs([], '200ms,500ms,1s,2s,5s,5s');
  rig.gw = await startGatewayProcess(args);
  rig.store = new SqliteStore(rig.db);
  const portal = rig.sb.portal;
  const install = await rig.sb.install(portal, `${rig.gw.url}/events`);
  expect(install.ok).toBe(true);
  portal.ensureConnector(CONNECTOR, LINE);

  // Operators keep writing; each event goes to wherever the gateway listens now.
  let target = `${rig.gw.url}/events`;
  const acked = new Map<number, { chatId: number; messageId: number }>(); // gateway event id → message
  let unanswered = 0;
  let n = 0;
  let stop = false;
  const sender = async () => {
    while (!stop) {
      const i = n++;
      const m = await rig.sb.act.operatorWrites(
        portal,
        { connector: CONNECTOR, line: LINE, externalChatId: `chat-${i % 10}`, text: `Message ${i}` },
        { handlerUrl: target },
      );
      const d = m.delivery.deliveries[0]!;
      // Bitrix24 never re-sends: an event the gateway did not answer 200 is not its to keep.
      if (d.status === 200)
        acked.set((JSON.parse(d.responseBody!) as { id: number }).id, { chatId: m.chat.id, messageId: m.message.id });
      else unanswered++;
      await sleep(d.status === 200 ? 5 : 25);
    }
  };
  const senders = Array.from({ length: 4 }, sender);

  await rig.until(
    () => (acked.size >= 60 ? true : undefined),
    () => '60 events answered before the restart',
  );
  // A backlog: the channel and Bitrix24's REST API are down, so events wait for retries and statuses in the outbox.
  rig.channel.fail(true);
  rig.sb.faults.set({ outage: 'http503' });
  await sleep(400);
  const stoppedAt = Date.now();
  await rig.gw.kill('SIGTERM');
  const exitCode = rig.gw.child.exitCode;
  const ackedBeforeRestart = acked.size;
  await sleep(200);

  rig.gw = await startGatewayProcess(args);
  target = `${rig.gw.url}/events`;
  rig.channel.fail(false);
  rig.sb.faults.set({ outage: false });
  await rig.until(
    () => (acked.size >= ackedBeforeRestart + 60 ? true : undefined),
    () => '60 more events answered after the restart',
  );
  stop = true;
  await Promise.all(senders);

  // Every answered event is done, delivered to the channel once as new, and confirmed to Bitrix24.
  const ids = [...acked.keys()];
  const events = await rig.until(
    async () => {
      const list = await rig.store!.listEvents();
      const mine = list.filter((e) => acked.has(e.id));
      return mine.length === ids.length && mine.every((e) => e.status === 'done') ? list : undefined;
    },
    () => `${ids.length} events done`,
  );
  expect(events.filter((e) => e.code === 'ONIMCONNECTORMESSAGEADD')).toHaveLength(ids.length);
  const delivered = new Set(rig.channel.deliveries.map((d) => d.payload.source.eventId));
  expect(ids.filter((id) => !delivered.has(id))).toEqual([]);
  // A retry repeats the webhook-id, so the channel can drop a repeat: one id per event.
  expect(new Set(rig.channel.deliveries.map((d) => d.webhookId)).size).toBe(ids.length);

  const statusOf = (messageId: number) => rig.sb.recorder.statuses().find((s) => s.messageId === messageId);
  await rig.until(
    () => (ids.every((id) => statusOf(acked.get(id)!.messageId)) ? true : undefined),
    () => `${ids.length} delivery statuses (have ${ids.filter((id) => statusOf(acked.get(id)!.messageId)).length})`,
  );
  for (const [id, m] of acked) {
    expect(statusOf(m.messageId)).toMatchObject({
      kind: 'delivery',
      chatId: m.chatId,
      externalIds: [`ext-evt_${id}_0`],
      known: true,
    });
  }
  expect(await rig.store!.countStatuses()).toMatchObject({ pending: 0, dead: 0 });

  // The restart mattered: the first process stopped cleanly with work left, which the second one did.
  expect(exitCode).toBe(0);
  const finishedAfter = events.filter((e) => e.receivedAt < stoppedAt && (e.processedAt ?? 0) > stoppedAt);
  console.log(
    `restart: ${acked.size} events answered (${ackedBeforeRestart} before the restart), ${unanswered} not answered while it was down; ${finishedAfter.length} received before the stop were finished after it`,
  );
  expect(finishedAfter.length).toBeGreaterThan(0);
}, 120_000);
