import { afterEach, beforeEach, expect, it } from 'vitest';
import { PgStore } from '../../src/store/postgres/store.js';
import { fakeChannel } from '../channel.js';
import { formFixture } from '../fixtures.js';
import { freshDatabase, pgAvailable } from '../pg.js';
import { startGatewayProcess, type GatewayProcess } from '../process.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const seed = formFixture('imconnector-message-update');
const bodyFor = (n: number) =>
  seed
    .replace('channel-123', `chat-${n % 20}`)
    .replace('ext-msg-005', `m-${n}`)
    .replace('ts=1773760030', `ts=${1773760030 + n}`);

let db: Awaited<ReturnType<typeof freshDatabase>>;
let channel: Awaited<ReturnType<typeof fakeChannel>>;
let instances: GatewayProcess[] = [];
beforeEach(async () => {
  if (!pgAvailable) return;
  db = await freshDatabase();
  channel = await fakeChannel();
});
afterEach(async () => {
  if (!pgAvailable) return;
  await Promise.all(instances.map((i) => i.kill('SIGKILL')));
  instances = [];
  await channel.close();
  await db.drop();
});

it.skipIf(!pgAvailable)(
  'three instances on one PostgreSQL: one killed mid-run, every acknowledged event delivered (a redelivery after the kill under the same webhook-id), in order per chat',
  async () => {
    const args = [
      '--db',
      db.url,
      '--app-token',
      `${MEMBER}=${TOKEN}`,
      '--channel-url',
      channel.url,
      '--channel-secret',
      channel.secret,
      '--lease',
      '2s',
      '--concurrency',
      '4',
      '--log-level',
      'error',
    ];
    instances = await Promise.all([0, 1, 2].map(() => startGatewayProcess(args)));
    const alive = new Set(instances);
    const acked = new Map<number, number>(); // event id → n
    const total = 600;
    let next = 0;
    const sender = async () => {
      while (next < total) {
        const n = next++;
        for (;;) {
          const target = [...alive][n % alive.size]!;
          try {
            const res = await fetch(`${target.url}/events`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: bodyFor(n),
            });
            if (res.status === 200) {
              acked.set(((await res.json()) as { id: number }).id, n);
              break;
            }
          } catch {
            // That instance is gone: send to another, as a load balancer would.
            alive.delete(target);
          }
        }
        if (n === 200) {
          const victim = instances[1]!;
          alive.delete(victim);
          await victim.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, sender));

    const deadline = Date.now() + 60_000;
    const deliveredIds = () => new Set(channel.deliveries.map((d) => d.payload.source.eventId));
    while (deliveredIds().size < acked.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    const delivered = deliveredIds();
    const missing = [...acked.keys()].filter((id) => !delivered.has(id));
    const redelivered = channel.deliveries.length - delivered.size;
    // Order per chat: the first delivery of each event, in event id order.
    const firstSeen = new Map<number, number>();
    channel.deliveries.forEach(
      (d, i) => firstSeen.has(d.payload.source.eventId) || firstSeen.set(d.payload.source.eventId, i),
    );
    let outOfOrder = 0;
    for (let chat = 0; chat < 20; chat++) {
      const ids = [...acked.entries()]
        .filter(([, n]) => n % 20 === chat)
        .map(([id]) => id)
        .sort((a, b) => a - b);
      const positions = ids.map((id) => firstSeen.get(id) ?? Infinity);
      for (let i = 1; i < positions.length; i++) if (positions[i]! < positions[i - 1]!) outOfOrder++;
    }
    const store = new PgStore(db.url);
    const counts = await store.countEvents();
    await store.close();
    console.log(
      `multi-instance: ${total} sent, ${acked.size} acknowledged, ${delivered.size} delivered (${redelivered} redelivered after the kill), ${missing.length} missing, ${outOfOrder} out of order; store: ${JSON.stringify(counts)}`,
    );
    expect(acked.size).toBe(total);
    expect(missing).toEqual([]);
    expect(outOfOrder).toBe(0);
    // Each event's effect happened under one webhook-id; a redelivery after the kill repeats the id, so the channel can drop it.
    expect(new Set(channel.deliveries.map((d) => d.webhookId)).size).toBe(acked.size);
    expect(counts.done).toBe(acked.size);
  },
  120_000,
);
