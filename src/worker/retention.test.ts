import { describe, expect, it } from 'vitest';
import { tempDirEach } from '../../test/helpers.js';
import { newEvent } from '../../test/store/conformance.js';
import { Gateway } from '../gateway.js';
import { pruneAll } from '../store/prune.js';
import { SqliteStore } from '../store/sqlite/store.js';

describe('retention', () => {
  const tmp = tempDirEach();

  /** `n` events received at `receivedAt`, run to done. */
  const doneEvents = async (store: SqliteStore, n: number, receivedAt: number) => {
    const ids = [];
    for (let i = 0; i < n; i++) ids.push((await store.append(newEvent({ receivedAt }))).id);
    for (const e of await store.claim('w', receivedAt, 60_000, n, 8))
      await store.finish(e.id, 'w', { ok: true }, receivedAt);
    return ids;
  };

  it('prunes in batches of the given size until nothing old is left', async () => {
    const store = new SqliteStore(`${tmp.dir}/b.db`);
    try {
      await doneEvents(store, 7, 1_000);
      const kept = await doneEvents(store, 2, 9_000);
      const batches: number[] = [];
      expect(
        await pruneAll(
          store,
          { before: 5_000, statuses: ['done'] },
          { batch: 3, pauseMs: 0, onBatch: (n) => batches.push(n) },
        ),
      ).toBe(7);
      expect(batches).toEqual([3, 3, 1]);
      expect((await store.listEvents()).map((e) => e.id)).toEqual(kept);
    } finally {
      await store.close();
    }
  });

  it('a started gateway prunes finished events older than its retention, and leaves the rest', async () => {
    const store = new SqliteStore(`${tmp.dir}/g.db`);
    const now = Date.now();
    await doneEvents(store, 3, now - 120_000);
    const recent = await doneEvents(store, 2, now - 1_000);
    const waiting = (await store.append(newEvent({ receivedAt: now - 120_000, orderKey: 'later' }))).id;
    await store.finish(
      (await store.claim('w', now, 60_000, 1, 8))[0]!.id,
      'w',
      { ok: false, error: 'x', retryAt: now + 3_600_000 },
      now,
    );
    const gateway = new Gateway({ db: store, retention: { olderThanMs: 60_000 } });
    gateway.start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await store.countEvents()).done > 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect((await store.listEvents()).map((e) => [e.id, e.status])).toEqual([
        ...recent.map((id) => [id, 'done']),
        [waiting, 'retry'],
      ]);
    } finally {
      await gateway.close();
    }
  });

  it('refuses an age that is not positive', async () => {
    const store = new SqliteStore(`${tmp.dir}/z.db`);
    expect(() => new Gateway({ db: store, retention: { olderThanMs: 0 } })).toThrow(
      expect.objectContaining({ code: 'B24GW_BAD_CONFIG' }),
    );
    await store.close();
  });
});
