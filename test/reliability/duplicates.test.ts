import { expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { formFixture } from '../fixtures.js';
import { startGatewayProcess } from '../process.js';
import { figures, post, prng, seedFromEnv, shuffle, waitUntil } from './lib.js';
import { knownPortalFlags, useRig } from './rig.js';

/**
 * Scenario 3: the same deliveries many times at once. 200 distinct events × 10 copies,
 * shuffled, from 32 concurrent senders. Half of the copies are byte-identical; the other half
 * carry fresh OAuth tokens in `auth`, as a re-sent event would. Each event must be stored once
 * (the copies counted as duplicates) and have one channel effect.
 */

const DISTINCT = 200;
const COPIES = 10;
const SENDERS = 32;

const seed = formFixture('imconnector-message-update');
const bodyFor = (n: number, copy: number) => {
  const body = seed
    .replace('channel-123', `chat-${n % 25}`)
    .replace('ext-msg-005', `dup-${n}`)
    .replace('ts=1773760030', `ts=${1773760030 + n}`);
  if (copy % 2 === 0) return body;
  const fresh = `copy${copy}`.padEnd(32, '0');
  return body
    .replace(/auth%5Baccess_token%5D=[^&]*/, `auth%5Baccess_token%5D=${fresh}`)
    .replace(/auth%5Bexpires%5D=\d+/, `auth%5Bexpires%5D=${1773763630 + copy}`);
};

const rig = useRig();

it(`duplicates: ${DISTINCT} events × ${COPIES} concurrent copies are stored once each, with one channel effect each`, async () => {
  const db = `${rig.tmp.dir}/dup.db`;
  rig.gw = await startGatewayProcess([...knownPortalFlags(rig, db), '--log-level', 'error']);
  const started = Date.now();
  const work = shuffle(
    Array.from({ length: DISTINCT * COPIES }, (_, i) => ({ n: i % DISTINCT, copy: Math.floor(i / DISTINCT) })),
    prng(seedFromEnv()),
  );
  const answers = new Map<number, { id: number; duplicate: boolean }[]>(); // n → answers of its copies
  const failures: string[] = [];
  let cursor = 0;
  const sender = async () => {
    while (cursor < work.length) {
      const { n, copy } = work[cursor++]!;
      const res = await post(`${rig.gw!.url}/events`, bodyFor(n, copy));
      if (res.status !== 200) {
        failures.push(`${n}/${copy}: ${res.status} ${JSON.stringify(res.json)}`);
        continue;
      }
      const list = answers.get(n) ?? [];
      list.push(res.json as { id: number; duplicate: boolean });
      answers.set(n, list);
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
  const sendMs = Date.now() - started;

  const store = new SqliteStore(db);
  try {
    const settled = await waitUntil(
      async () => (await store.countEvents()).done >= DISTINCT && rig.channel.deliveries.length >= DISTINCT,
      60_000,
      100,
    );
    await new Promise((r) => setTimeout(r, 500)); // room for any (wrong) extra effect to show up
    const stored = await store.listEvents();
    const counts = await store.countEvents();
    const acknowledged = [...answers.values()].reduce((s, l) => s + l.length, 0);
    const duplicatesAnswered = [...answers.values()].reduce((s, l) => s + l.filter((a) => a.duplicate).length, 0);
    const duplicatesCounted = stored.reduce((s, e) => s + e.duplicates, 0);
    const idsPerEvent = [...answers.values()].map((l) => new Set(l.map((a) => a.id)).size);
    const firstsPerEvent = [...answers.values()].map((l) => l.filter((a) => !a.duplicate).length);
    const webhookIds = new Set(rig.channel.deliveries.map((d) => d.webhookId));
    const lost = [...answers.values()].filter(
      (l) => !stored.some((e) => e.id === l[0]!.id && e.status === 'done'),
    ).length;
    figures('duplicates', {
      sent: work.length,
      acknowledged,
      stored: stored.length,
      processed: counts.done,
      lost,
      'duplicates-answered': duplicatesAnswered,
      'duplicates-counted': duplicatesCounted,
      'channel-deliveries': rig.channel.deliveries.length,
      'channel-effects': webhookIds.size,
      'send-ms': sendMs,
    });
    expect(failures).toEqual([]);
    expect(settled).toBe(true);
    expect(acknowledged).toBe(DISTINCT * COPIES);
    expect(stored.length).toBe(DISTINCT);
    expect(counts.done).toBe(DISTINCT);
    expect(lost).toBe(0);
    // Every copy of one event got the same id, and exactly one copy was the first.
    expect(idsPerEvent.every((n) => n === 1)).toBe(true);
    expect(firstsPerEvent.every((n) => n === 1)).toBe(true);
    expect(duplicatesAnswered).toBe(DISTINCT * (COPIES - 1));
    expect(duplicatesCounted).toBe(DISTINCT * (COPIES - 1));
    // One effect each, under one webhook-id each, nothing delivered twice.
    expect(webhookIds.size).toBe(DISTINCT);
    expect(rig.channel.deliveries.length).toBe(DISTINCT);
  } finally {
    await store.close();
  }
}, 120_000);
