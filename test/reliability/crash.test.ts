import { expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { formFixture } from '../fixtures.js';
import { startGatewayProcess } from '../process.js';
import { figures, post, prng, seedFromEnv, eventsSettle, sleep, waitUntil } from './lib.js';
import { knownPortalFlags, useRig } from './rig.js';

/**
 * Scenario 1: SIGKILL of the gateway during sustained load, restarted on the same database,
 * several times. Every event answered 200 must end stored, processed (done) and delivered to
 * the channel under one webhook-id; redeliveries after a crash repeat that id.
 */

const seed = formFixture('imconnector-message-update');
const bodyFor = (n: number) =>
  seed
    .replace('channel-123', `chat-${n % 20}`)
    .replace('ext-msg-005', `crash-${n}`)
    .replace('ts=1773760030', `ts=${1773760030 + n}`);

const KILLS = 4;
const ACKS_PER_ROUND = 250;
const SENDERS = 16;

const rig = useRig();

it(`crash: ${KILLS} SIGKILLs under sustained load lose no acknowledged event, and each is delivered under one webhook-id`, async () => {
  const rng = prng(seedFromEnv());
  const db = `${rig.tmp.dir}/crash.db`;
  const args = knownPortalFlags(rig, db);
  const run = [...args, '--lease', '2s', '--concurrency', '8', '--log-level', 'error'];
  const started = Date.now();
  rig.gw = await startGatewayProcess(run);

  const acked = new Map<number, number>(); // event id → n
  let next = 0;
  let unanswered = 0;
  let notConnected = 0;
  let refused = 0;
  let stop = false;
  const sender = async () => {
    while (!stop) {
      const n = next++;
      const res = await post(`${rig.gw!.url}/events`, bodyFor(n));
      if (res.status === 200) acked.set((res.json as { id: number }).id, n);
      else if (res.error === 'ECONNREFUSED') {
        // Nothing listening (killed, not restarted yet): the request never left.
        notConnected++;
        await sleep(5);
      } else if (res.status === 0) {
        // The server died under this request: never answered, so it may or may not be stored.
        unanswered++;
      } else refused++;
    }
  };
  const senders = Array.from({ length: SENDERS }, sender);

  const kills: string[] = [];
  for (let round = 0; round < KILLS; round++) {
    const target = acked.size + ACKS_PER_ROUND;
    expect(await waitUntil(() => acked.size >= target, 30_000, 5)).toBe(true);
    await sleep(rng.int(150));
    const before = acked.size;
    await rig.gw.kill('SIGKILL');
    kills.push(`${before}`);
    await sleep(100 + rng.int(300)); // the senders keep going against a dead port
    rig.gw = await startGatewayProcess(run);
  }
  // A last stretch of load on the final process, then the senders stop.
  const target = acked.size + ACKS_PER_ROUND;
  expect(await waitUntil(() => acked.size >= target, 30_000, 5)).toBe(true);
  stop = true;
  await Promise.all(senders);

  const store = new SqliteStore(db);
  try {
    // Events a killed process had claimed come back once their 2 s lease runs out.
    const settled = await eventsSettle(store, 60_000, 200);
    const counts = await store.countEvents();
    const stored = await store.listEvents();
    const byId = new Map(stored.map((e) => [e.id, e]));

    let notStored = 0;
    let notDone = 0;
    let noEffect = 0;
    const effects = new Map<string, string[]>(); // webhook-id → the payload bodies seen under it
    for (const d of rig.channel.deliveries) {
      const list = effects.get(d.webhookId) ?? [];
      list.push(JSON.stringify({ ...d.payload, occurredAt: undefined }));
      effects.set(d.webhookId, list);
    }
    for (const [id, n] of acked) {
      const e = byId.get(id);
      if (!e || !JSON.stringify(e.event).includes(`"crash-${n}"`)) notStored++;
      else if (e.status !== 'done') notDone++;
      if (!effects.has(`evt_${id}_0`)) noEffect++;
    }
    const lost = new Set(
      [...acked.keys()].filter((id) => byId.get(id)?.status !== 'done' || !effects.has(`evt_${id}_0`)),
    ).size;
    const inconsistent = [...effects.values()].filter((bodies) => new Set(bodies).size > 1).length;
    const redeliveries = rig.channel.deliveries.length - effects.size;
    figures('crash', {
      kills: KILLS,
      sent: next - notConnected,
      acknowledged: acked.size,
      stored: stored.length,
      processed: counts.done,
      lost,
      'stored-but-unanswered': stored.length - acked.size,
      'unanswered(in flight at a kill)': unanswered,
      'not-connected(down)': notConnected,
      refused,
      'channel-effects': effects.size,
      redeliveries,
      'acks-at-kill': kills.join('/'),
      seconds: ((Date.now() - started) / 1000).toFixed(1),
    });
    expect(settled).toBe(true);
    expect(refused).toBe(0);
    expect(notStored).toBe(0);
    expect(notDone).toBe(0);
    expect(noEffect).toBe(0);
    expect(lost).toBe(0);
    expect(counts.done).toBe(stored.length);
    expect(counts.dead).toBe(0);
    // One effect per event: distinct webhook-ids are exactly the stored events, every acknowledged one among them.
    expect(effects.size).toBe(stored.length);
    expect(new Set([...acked.keys()].map((id) => `evt_${id}_0`)).size).toBe(acked.size);
    // A redelivery repeats the same payload under the same id.
    expect(inconsistent).toBe(0);
    expect(acked.size).toBeGreaterThanOrEqual((KILLS + 1) * ACKS_PER_ROUND);
  } finally {
    await store.close();
  }
}, 180_000);
