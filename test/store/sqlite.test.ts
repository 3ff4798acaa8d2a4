import { describe, expect, it } from 'vitest';
import { countSomeSql, prunable, pruneDeletesSql, pruneIdsSql } from '../../src/store/queries/events.js';
import { browseEvents } from '../../src/store/queries/browse.js';
import type { EventBrowse } from '../../src/store/types.js';
import { runnableFreeSql } from '../../src/store/sqlite/claim.js';
import { sqlite } from '../../src/store/sqlite/dialect.js';
import { migrations } from '../../src/store/sqlite/migrations.js';
import { SqliteStore, WORKER_CHECKPOINT_PAGES } from '../../src/store/sqlite/store.js';
import { tempDir } from '../helpers.js';
import { newEvent, storeConformance } from './conformance.js';

storeConformance('SQLite', {
  // TEXT holds any string, NUL included: a NOT NULL column left empty is what the database refuses.
  poisons: [{ event: null }],
  async open(options) {
    const tmp = tempDir();
    const file = `${tmp.dir}/c.db`;
    const store = new SqliteStore(file, options);
    const others: SqliteStore[] = [];
    return {
      store,
      other: (o) => {
        const s = new SqliteStore(file, o);
        others.push(s);
        return s;
      },
      sql: async (text, ...params) => {
        const statement = store.db.prepare(text);
        return statement.reader
          ? (statement.all(...params) as Record<string, unknown>[])
          : (statement.run(...params), []);
      },
      cleanup: async () => {
        for (const s of others) await s.close();
        await store.close();
        tmp.cleanup();
      },
    };
  },
});

/** A store on a file of its own, closed and removed after `fn`. */
async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const tmp = tempDir();
  const store = new SqliteStore(`${tmp.dir}/s.db`);
  try {
    await fn(store);
  } finally {
    await store.close();
    tmp.cleanup();
  }
}

describe('SQLite connections', () => {
  it('the read and worker connections map the file: a commit elsewhere empties their caches, and mapped pages are read without a system call', async () => {
    await withStore(async (store) => {
      for (const db of [store.db, store.workDb])
        expect(db.pragma('mmap_size', { simple: true })).toBe(256 * 1024 * 1024);
    });
  });

  it("leaves checkpoints to the other connections: the worker's commits checkpoint only a log ten times SQLite's default", async () => {
    await withStore(async (store) => {
      const pages = (db: typeof store.db) => db.pragma('wal_autocheckpoint', { simple: true });
      expect([pages(store.db), pages(store.workDb)]).toEqual([1_000, WORKER_CHECKPOINT_PAGES]);
      // And a log past that bound is checkpointed by the worker's commits alone.
      store.workDb.exec('CREATE TABLE filler (b BLOB)');
      const insert = store.workDb.prepare('INSERT INTO filler VALUES (randomblob(4000))');
      for (let i = 0; i < WORKER_CHECKPOINT_PAGES + 500; i++) insert.run();
      const log = store.workDb.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      expect(log[0]!.log).toBeLessThan(WORKER_CHECKPOINT_PAGES);
    });
  });

  it('a claim finds the events of no chat through their own index, never by walking every unfinished event', async () => {
    await withStore(async (store) => {
      // Its plan is what matters: under a flood, a scan of the backlog per claim took 3/4 of the worker's CPU.
      const plan = store.workDb.prepare(`EXPLAIN QUERY PLAN ${runnableFreeSql}`).all(0, 0, 8) as { detail: string }[];
      expect(plan.map((p) => p.detail).join('; ')).toMatch(/USING INDEX events_open_free/);
      const indexes = store.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")
        .pluck()
        .all();
      expect(indexes).toContain('events_open_free');
      expect(indexes).not.toContain('events_open');
    });
  });

  it('counts the queue and finds what to prune through indexes, never by scanning the events', async () => {
    await withStore(async (store) => {
      await store.countEvents(['pending', 'dead']);
      await store.pruneEvents({ before: 1, statuses: ['done'], limit: 1 });
      // Their plans are what matters: a scan walks every event ever kept.
      const plan = (db: typeof store.db, sql: string, ...params: unknown[]) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
          .map((p) => p.detail)
          .join('; ');
      const prune = ['["done","dead"]', 5];
      const plans = [
        plan(store.db, countSomeSql(sqlite), '["pending","dead"]'),
        plan(store.workDb, `SELECT COUNT(*) AS n ${prunable(sqlite)}`, ...prune),
        plan(store.workDb, pruneIdsSql(sqlite), ...prune, 3),
        ...pruneDeletesSql(sqlite).map((sql) => plan(store.workDb, sql, '[1,2]')),
      ];
      expect(plans).toHaveLength(7);
      for (const p of plans) expect(p).not.toMatch(/\bSCAN (events|event_attempts|status_outbox|event_secrets)\b/);
      expect(plans[0]).toMatch(/SEARCH events USING COVERING INDEX events_status(_id)? \(status=\?\)/);
      expect(plans[1]).toMatch(/SEARCH events USING COVERING INDEX events_finished \(status=\? AND received_at<\?\)/);
      expect(plans[3]).toMatch(/SEARCH event_attempts USING COVERING INDEX/);
      expect(plans[4]).toMatch(/SEARCH status_outbox USING COVERING INDEX status_outbox_event/);
      expect(plans[5]).toMatch(/SEARCH event_secrets USING INTEGER PRIMARY KEY/);
    });
  });
});

describe("SQLite: the console's events list", () => {
  it('walks an index of each filter in id order and stops at the page: no sort, no scan of other rows', async () => {
    await withStore(async (store) => {
      const sqlOf = (q: EventBrowse): { sql: string; params: unknown[] } => {
        const work = browseEvents(sqlite, q);
        const first = work.next();
        if (first.done) throw new Error('no query');
        return first.value;
      };
      const planOf = (q: EventBrowse) => {
        const { sql, params } = sqlOf(q);
        return (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
          .map((p) => p.detail)
          .join('; ');
      };
      const cases: [EventBrowse, RegExp][] = [
        [{ status: 'dead' }, /events_status_id/],
        [{ code: 'ONIMCONNECTORMESSAGEADD', before: 10 }, /events_code_id/],
        [{ memberId: 'm1' }, /events_member_id/],
        [{}, /SCAN events/],
        [{ since: 1, until: 5, before: 9 }, /events_received_id/],
      ];
      for (const [q, index] of cases) {
        const plan = planOf(q);
        expect(plan, JSON.stringify(q)).toMatch(index);
        expect(plan, JSON.stringify(q)).not.toMatch(/TEMP B-TREE/);
      }
      // A chat's events (its connector and Open Lines keys) are found by key, then sorted: a chat holds few.
      expect(planOf({ memberId: 'm1', line: 1, chat: 'c' })).toMatch(
        /SEARCH events USING INDEX events_chat_id \(order_key=\?\)/,
      );
    });
  });
});

describe('SQLite wake-ups', () => {
  it('wakes its subscribers for new events only: not for duplicates, nor for a requeue that found nothing', async () => {
    await withStore(async (store) => {
      let woken = 0;
      const off = await store.onNewEvents(() => woken++);
      const e = newEvent();
      const { id } = await store.append(e);
      // The writer thread's answer wakes them before the append's caller runs.
      expect(woken).toBe(1);
      await store.append({ ...e });
      expect(await store.requeue([id + 1_000])).toBe(0);
      expect(woken).toBe(1);
      await store.claim('w', 10, 1_000, 10, 8);
      await store.finish(id, 'w', { ok: false, error: 'x', retryAt: null }, 20);
      expect(await store.requeue([id])).toBe(1);
      expect(woken).toBe(2);
      off();
      await store.append(newEvent());
      expect(woken).toBe(2);
    });
  });
});

describe('SQLite migrations', () => {
  it('tells how many migrations opening a file applied: all on a new file, none on one already current', async () => {
    const tmp = tempDir();
    try {
      const file = `${tmp.dir}/m.db`;
      const fresh = new SqliteStore(file);
      expect(await fresh.migrated).toEqual({ applied: migrations.length, total: migrations.length });
      await fresh.close();
      const again = new SqliteStore(file);
      expect(await again.migrated).toEqual({ applied: 0, total: migrations.length });
      await again.close();
    } finally {
      tmp.cleanup();
    }
  });
});
