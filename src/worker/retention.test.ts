import { describe, expect, it } from 'vitest';
import { tempDirEach } from '../../test/helpers.js';
import { newEvent } from '../../test/store/conformance.js';
import { Gateway } from '../gateway.js';
import { createLogger, silentLogger } from '../log.js';
import { PRUNE_BATCH, pruneAll } from '../store/prune.js';
import { SqliteStore } from '../store/sqlite/store.js';
import { Retention } from './retention.js';

/** A logger whose lines (info and up) are kept, parsed. */
const capture = () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (c: string) => void lines.push(JSON.parse(c) as Record<string, unknown>) },
  });
  return { lines, logger };
};

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

  it('logs how many a pass removed, and nothing when it removed none', async () => {
    const store = new SqliteStore(`${tmp.dir}/l.db`);
    const { lines, logger } = capture();
    try {
      await doneEvents(store, 3, 1_000);
      const retention = new Retention({ store, logger, olderThanMs: 4_000, now: () => 10_000 });
      expect(await retention.runOnce()).toBe(3);
      expect(await retention.runOnce()).toBe(0);
      expect(lines).toEqual([
        expect.objectContaining({
          msg: 'pruned 3 finished events received before 1970-01-01T00:00:06.000Z',
          removed: 3,
          before: '1970-01-01T00:00:06.000Z',
          statuses: ['done', 'invalid', 'dead'],
        }),
      ]);
    } finally {
      await store.close();
    }
  });

  it('once stopped, a pass under way ends after its batch', async () => {
    const store = new SqliteStore(`${tmp.dir}/s.db`);
    try {
      await doneEvents(store, PRUNE_BATCH + 20, 1_000);
      const retention = new Retention({ store, logger: silentLogger, olderThanMs: 1_000, now: () => 10_000 });
      await retention.stop();
      expect(await retention.runOnce()).toBe(PRUNE_BATCH);
      expect(await retention.runOnce()).toBe(20);
    } finally {
      await store.close();
    }
  });

  it('a pass that fails is logged, and the passes go on every everyMs', async () => {
    const store = new SqliteStore(`${tmp.dir}/f.db`);
    await store.close();
    const { lines, logger } = capture();
    const retention = new Retention({ store, logger, olderThanMs: 60_000, everyMs: 10 });
    retention.start();
    try {
      const deadline = Date.now() + 5_000;
      while (lines.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(lines.slice(0, 2)).toEqual([
        expect.objectContaining({ msg: 'pruning old events failed; trying again later', err: expect.anything() }),
        expect.objectContaining({ msg: 'pruning old events failed; trying again later' }),
      ]);
    } finally {
      await retention.stop();
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
