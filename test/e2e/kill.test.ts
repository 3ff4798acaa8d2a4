import { expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { formFixture } from '../fixtures.js';
import { tempDirEach } from '../helpers.js';
import { startGatewayProcess } from '../process.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const seed = formFixture('imconnector-message-update');
const bodyFor = (n: number) =>
  seed.replace('ext-msg-005', `ext-msg-kill-${n}`).replace('ts=1773760030', `ts=${1773760030 + n}`);

const tmp = tempDirEach();

it('every event answered 200 survives SIGKILL of the server mid-stream', async () => {
  const db = `${tmp.dir}/kill.db`;
  const acked = new Map<number, number>(); // event id → the n it carried
  let next = 0;
  for (let round = 0; round < 3; round++) {
    const gw = await startGatewayProcess(['--db', db, '--app-token', `${MEMBER}=${TOKEN}`, '--log-level', 'error']);
    let stop = false;
    const sender = async () => {
      while (!stop) {
        const n = next++;
        try {
          const res = await fetch(`${gw.url}/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: bodyFor(n),
          });
          if (res.status === 200) acked.set(((await res.json()) as { id: number }).id, n);
        } catch {
          // The server died under this request: it was never answered, so it may be lost.
        }
      }
    };
    const senders = Array.from({ length: 16 }, sender);
    const target = acked.size + 300;
    while (acked.size < target) await new Promise((r) => setTimeout(r, 5));
    await gw.kill('SIGKILL');
    stop = true;
    await Promise.all(senders);
  }
  const store = new SqliteStore(db);
  try {
    const stored = await store.listEvents();
    const byId = new Map(stored.map((e) => [e.id, e]));
    let missing = 0;
    for (const [id, n] of acked) {
      const e = byId.get(id);
      if (!e || !JSON.stringify(e.event).includes(`ext-msg-kill-${n}"`)) missing++;
    }
    console.log(
      `kill test: ${next} sent, ${acked.size} acknowledged, ${stored.length} stored, ${missing} acknowledged but missing`,
    );
    expect(acked.size).toBeGreaterThanOrEqual(900);
    expect(missing).toBe(0);
  } finally {
    await store.close();
  }
});
