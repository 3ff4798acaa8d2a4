import { expect, it } from 'vitest';
import { startSandbox } from '@b24-im-gateway/sandbox';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { formFixture } from '../fixtures.js';
import { startGatewayProcess } from '../process.js';
import { figures, post, runCli, eventsSettle, sleep, waitUntil } from './lib.js';
import { knownPortalFlags, sandboxFlags, useRig } from './rig.js';

/**
 * Scenario 2: Bitrix24's REST API (the sandbox's `outage` switch) and the external channel
 * (fakeChannel.fail) go down for a while under load. With a retry schedule longer than the
 * outage everything is delivered and every delivery status reaches the sandbox; with a tiny
 * budget events go dead only once it is spent, and `replay --dead` brings them back.
 */

const rig = useRig();

const CONNECTOR = 'reliability_connector';
const LINE = 7;

it('outage: REST API and channel down under load; after recovery every event is delivered and every status arrives', async () => {
  rig.sb = await startSandbox({ plan: 'enterprise' });
  const db = `${rig.tmp.dir}/outage.db`;
  rig.gw = await startGatewayProcess([
    ...sandboxFlags(rig, rig.sb, db),
    '--plan',
    'enterprise',
    '--retry-schedule',
    '200ms,500ms,1s,2s,5s',
    '--lease',
    '2s',
    '--log-level',
    'error',
  ]);
  const handler = `${rig.gw.url}/events`;
  const portal = rig.sb.portal;
  const install = await rig.sb.install(portal, handler);
  expect(install.ok).toBe(true);
  portal.ensureConnector(CONNECTOR, LINE);
  portal.bind('ONIMCONNECTORMESSAGEADD', handler);

  // Load: 8 operators writing in 32 chats for 6 s; the REST API is down 1.0–4.0 s, the channel 2.0–4.5 s.
  // Events of one chat run in order, so a failing chat holds its later events until the first one passes.
  const acked = new Map<number, number>(); // Bitrix24 message id → gateway event id
  let sent = 0;
  let refused = 0;
  let stop = false;
  const t0 = Date.now();
  const operator = async (k: number) => {
    for (let i = 0; !stop; i++) {
      sent++;
      const m = await rig.sb!.act.operatorWrites(portal, {
        connector: CONNECTOR,
        line: LINE,
        externalChatId: `ext-chat-${k}-${i % 4}`,
        text: `message ${k}/${i}`,
      });
      const d = m.delivery.deliveries[0];
      if (m.delivery.ok && d) acked.set(m.message.id, (JSON.parse(d.responseBody ?? '{}') as { id: number }).id);
      else refused++;
      await sleep(20);
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, (_, k) => operator(k)));
  const at = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
  await at(1_000);
  rig.sb.faults.set({ outage: 'http503' });
  await at(2_000);
  rig.channel.fail(true);
  await at(4_000);
  rig.sb.faults.set({ outage: false });
  await at(4_500);
  rig.channel.fail(false);
  const recovered = Date.now();
  await at(6_000);
  stop = true;
  await load;

  const store = new SqliteStore(db);
  try {
    const statusedIds = () => new Set(rig.sb!.recorder.statuses({ kind: 'delivery' }).map((s) => s.messageId));
    const settled = await waitUntil(
      async () => {
        const c = await store.countEvents();
        if (c.pending + c.retry + c.processing > 0) return false;
        const s = await store.countStatuses();
        if (s.pending > 0) return false;
        const got = statusedIds();
        return [...acked.keys()].every((id) => got.has(id));
      },
      60_000,
      100,
    );
    const recoveryMs = Date.now() - recovered;
    const counts = await store.countEvents();
    const statusCounts = await store.countStatuses();
    const events = (await store.listEvents()).filter((e) => e.code === 'ONIMCONNECTORMESSAGEADD');
    const byId = new Map(events.map((e) => [e.id, e]));
    const effects = new Set(rig.channel.deliveries.map((d) => d.webhookId));
    const statuses = rig.sb.recorder.statuses({ kind: 'delivery' });
    const got = statusedIds();
    const lost = [...acked].filter(
      ([messageId, id]) => byId.get(id)?.status !== 'done' || !effects.has(`evt_${id}_0`) || !got.has(messageId),
    ).length;
    const retried = events.filter((e) => e.attempts > 1).length;
    // Statuses that needed more than one try were refused by the REST outage (the sandbox does not record refused calls).
    const statusRetries = store.db
      .prepare('SELECT COUNT(*) AS n, MAX(attempts) AS max FROM status_outbox WHERE attempts > 1')
      .get() as { n: number; max: number | null };
    figures('outage', {
      sent,
      acknowledged: acked.size,
      stored: events.length,
      processed: events.filter((e) => e.status === 'done').length,
      lost,
      'retried-events': retried,
      'max-attempts': Math.max(...events.map((e) => e.attempts)),
      dead: counts.dead,
      'channel-effects': effects.size,
      'statuses-arrived': got.size,
      'status-records': statuses.length,
      'statuses-unknown-to-sandbox': statuses.filter((s) => !s.known).length,
      'status-outbox': JSON.stringify(statusCounts),
      'statuses-retried': statusRetries.n,
      'max-status-attempts': statusRetries.max ?? 1,
      chats: new Set(events.map((e) => e.orderKey)).size,
      'recovery-ms': recoveryMs,
    });
    expect(refused).toBe(0);
    expect(settled).toBe(true);
    expect(lost).toBe(0);
    expect(counts.dead).toBe(0);
    expect(statusCounts.dead).toBe(0);
    // The outage really bit: events were retried, and REST calls were refused.
    expect(retried).toBeGreaterThan(0);
    expect(statusRetries.n).toBeGreaterThan(0);
    expect(events.length).toBe(acked.size);
    expect(effects.size).toBe(acked.size);
    expect(statuses.every((s) => s.known)).toBe(true);
  } finally {
    await store.close();
  }
}, 120_000);

it('outage with a tiny budget: events go dead only after budget+1 attempts, and replay --dead brings them to done', async () => {
  const db = `${rig.tmp.dir}/budget.db`;
  const schedule = [100, 100];
  rig.gw = await startGatewayProcess([
    ...knownPortalFlags(rig, db),
    '--retry-schedule',
    '100ms,100ms',
    '--lease',
    '2s',
    '--log-level',
    'error',
  ]);
  const seed = formFixture('imconnector-message-update');
  const bodyFor = (n: number) =>
    seed
      .replace('channel-123', `chat-${n % 10}`)
      .replace('ext-msg-005', `budget-${n}`)
      .replace('ts=1773760030', `ts=${1773760030 + n}`);
  const acked = new Map<number, number>();
  let n = 0;
  let refused = 0;
  const send = async (count: number) => {
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < count / 8; i++) {
          const k = n++;
          const res = await post(`${rig.gw!.url}/events`, bodyFor(k));
          if (res.status === 200) acked.set((res.json as { id: number }).id, k);
          else refused++;
        }
      }),
    );
  };
  const store = new SqliteStore(db);
  try {
    await send(80); // before the outage
    const outageStart = Date.now();
    rig.channel.fail(true);
    await send(160); // during it: the channel stays down 3 s, far past the 0.2 s budget
    await sleep(Math.max(0, outageStart + 3_000 - Date.now()));
    rig.channel.fail(false);
    await send(80); // after it
    const settled = await eventsSettle(store, 30_000, 100);
    const before = await store.listEvents();
    const dead = before.filter((e) => e.status === 'dead');
    const deadAttempts = await Promise.all(dead.map((e) => store.attempts(e.id)));
    const effectsBefore = new Set(rig.channel.deliveries.map((d) => d.webhookId));
    // Every dead event ran exactly budget+1 times, each run failed, and no retry came early.
    const minGap = Math.min(
      ...deadAttempts.flatMap((a) => a.slice(1).map((x, i) => x.startedAt - (a[i]!.finishedAt ?? Infinity))),
    );
    const badDead = dead.filter(
      (e, i) =>
        e.attempts !== schedule.length + 1 ||
        deadAttempts[i]!.length !== schedule.length + 1 ||
        deadAttempts[i]!.some((a) => a.ok !== false),
    );
    const overBudget = before.filter((e) => e.attempts > schedule.length + 1);
    const deadDelivered = dead.filter((e) => effectsBefore.has(`evt_${e.id}_0`));

    const replay = await runCli(['replay', '--dead', '--db', db]);
    const replayed = await waitUntil(
      async () => {
        const c = await store.countEvents();
        return c.done === before.length;
      },
      30_000,
      100,
    );
    const after = await store.listEvents();
    const effects = new Set(rig.channel.deliveries.map((d) => d.webhookId));
    const lost = [...acked.keys()].filter(
      (id) => after.find((e) => e.id === id)?.status !== 'done' || !effects.has(`evt_${id}_0`),
    ).length;
    figures('outage-budget', {
      sent: n,
      acknowledged: acked.size,
      stored: before.length,
      'processed-before-replay': before.filter((e) => e.status === 'done').length,
      'dead-before-replay': dead.length,
      'dead-attempts': [...new Set(dead.map((e) => e.attempts))].join('/'),
      'min-gap-between-attempts-ms': Number.isFinite(minGap) ? minGap : 'n/a',
      replayed: (/(\d+) of \d+ events put back/.exec(replay.out) ?? [])[1] ?? '?',
      'processed-after-replay': after.filter((e) => e.status === 'done').length,
      lost,
      'channel-effects': effects.size,
    });
    expect(refused).toBe(0);
    expect(settled).toBe(true);
    expect(dead.length).toBeGreaterThan(0);
    expect(badDead.map((e) => e.id)).toEqual([]);
    expect(overBudget.map((e) => e.id)).toEqual([]);
    // Retries waited at least the schedule's delay less its 20 % jitter.
    expect(minGap).toBeGreaterThanOrEqual(schedule[0]! * 0.8 - 5);
    expect(deadDelivered.map((e) => e.id)).toEqual([]);
    expect(replay.code).toBe(0);
    expect(replayed).toBe(true);
    expect(lost).toBe(0);
    expect(effects.size).toBe(after.length);
    // A replay starts a fresh budget: the replayed events are done after one more attempt.
    expect(
      after.filter((e) => dead.some((d) => d.id === e.id)).every((e) => e.status === 'done' && e.attempts === 1),
    ).toBe(true);
  } finally {
    await store.close();
  }
}, 120_000);
