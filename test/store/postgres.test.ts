import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { claimEvents } from '../../src/store/postgres/claim.js';
import { pgMigrations } from '../../src/store/postgres/migrations.js';
import { openPool, PgRunner, toPg } from '../../src/store/postgres/run.js';
import { get, run, type Work } from '../../src/store/sql/work.js';
import { PgStore } from '../../src/store/postgres/store.js';
import { SecretBox } from '../../src/store/secret-box.js';
import type { StoredEvent } from '../../src/store/types.js';
import { holdsWithin, until } from '../helpers.js';
import { freshDatabase, pgAvailable } from '../pg.js';
import { deadOwner, newEvent, storeConformance } from './conformance.js';

storeConformance(
  'PostgreSQL',
  {
    // A NUL in a text column, as a %00 in auth[member_id] was before the wire refused it; a NOT NULL column left empty.
    poisons: [{ memberId: 'm\0' }, { event: null }],
    async open(options) {
      const db = await freshDatabase();
      const store = new PgStore(db.url, options);
      const others: PgStore[] = [];
      return {
        store,
        other: (o) => {
          const s = new PgStore(db.url, o);
          others.push(s);
          return s;
        },
        sql: async (text, ...params) => (await store.pool.query<Record<string, unknown>>(toPg(text), params)).rows,
        cleanup: async () => {
          for (const s of others) await s.close();
          await store.close();
          await db.drop();
        },
      };
    },
  },
  pgAvailable,
);

/** The queries the store sends while `fn` runs whose text matches, to be explained with the same parameters. */
async function sentDuring(pattern: RegExp, fn: () => Promise<unknown>): Promise<{ text: string; values: unknown[] }[]> {
  const sent: { text: string; values: unknown[] }[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    // Named statements come as a config object.
    const q = typeof args[0] === 'string' ? { text: args[0], values: args[1] } : (args[0] as pg.QueryConfig);
    if (typeof q?.text === 'string' && pattern.test(q.text))
      sent.push({ text: q.text, values: (q.values as unknown[]) ?? [] });
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    await fn();
  } finally {
    pg.Client.prototype.query = query;
  }
  return sent;
}

const planOf = async (store: PgStore, { text, values }: { text: string; values: unknown[] }) =>
  (await store.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)).rows
    .map((r) => r['QUERY PLAN'])
    .join('\n');

describe.skipIf(!pgAvailable)('PostgreSQL plans', () => {
  it('counts the queue and finds what to prune through indexes, never by scanning the events', async () => {
    const db = await freshDatabase();
    const store = new PgStore(db.url);
    try {
      await store.ready;
      // A month of finished events and a few open ones, as a gateway keeps them; one day is older than the cutoff.
      await store.pool.query(`
        INSERT INTO events (dedup_key, member_id, code, known, status, received_at, event, raw_body, content_type)
        SELECT 'k' || g, 'm', 'X', true, CASE WHEN g % 500 = 0 THEN 'pending' WHEN g % 701 = 0 THEN 'dead' ELSE 'done' END, g, '{}', '', 'form'
        FROM generate_series(1, 30000) g`);
      await store.pool.query('ANALYZE events');
      const sent = await sentDuring(/^\s*SELECT/, async () => {
        expect(await store.countEvents(['pending', 'processing', 'retry', 'dead', 'invalid'])).toMatchObject({
          pending: 60,
        });
        expect(
          await store.pruneEvents({ before: 1_000, statuses: ['done', 'invalid', 'dead'], limit: 100, dryRun: true }),
        ).toBe(998);
        expect(await store.pruneEvents({ before: 1_000, statuses: ['done', 'invalid', 'dead'], limit: 100 })).toBe(100);
      });
      expect(sent).toHaveLength(3);
      for (const q of sent) {
        const plan = await planOf(store, q);
        expect(plan).not.toMatch(/Seq Scan on (events|status_outbox)/);
        expect(plan).toMatch(/Index (Only )?Scan using events_\w+ on events|Bitmap Index Scan on events_\w+/);
      }
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it('finds a message by its Bitrix24 id, not by walking its line, before the server has statistics', async () => {
    const db = await freshDatabase();
    const store = new PgStore(db.url);
    try {
      await store.ready;
      // A fresh install: one line's messages, never analyzed (autovacuum's first ANALYZE comes within a minute).
      await store.pool.query(`
        INSERT INTO state_messages (member_id, line, connector, im_chat_id, im_message_id, external_chat_id, created_at, updated_at)
        SELECT 'm', 1, 'c', g % 200, g, 'chat' || (g % 200), 0, 0 FROM generate_series(1, 3000) g`);
      const sent = await sentDuring(/state_message_ids|read_at/, async () => {
        await store.state.recordDelivered('m', [{ line: 1, imMessageId: 1500, externalIds: ['x-1500'] }]);
        await store.state.recordCustomer('m', [{ kind: 'read', line: 1, imMessageIds: [1501] }], 1);
      });
      expect(sent.map((s) => s.text.trim().split(' ')[0])).toEqual(['INSERT', 'UPDATE']);
      for (const q of sent) expect(await planOf(store, q)).toMatch(/Index Cond: .*im_message_id = /);
      expect((await store.state.message('m', { line: 1, externalId: 'x-1500' }))?.imMessageId).toBe(1500);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe.skipIf(!pgAvailable)('PostgreSQL commits', () => {
  it("syncs every commit of the intake and the API, and lets the worker's commits return before the sync", async () => {
    const db = await freshDatabase();
    const store = new PgStore(db.url);
    try {
      const setting = async (pool: pg.Pool) =>
        (await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]?.synchronous_commit;
      expect([await setting(store.pool), await setting(store.workPool)]).toEqual(['on', 'off']);
      // The intake's and the API's named statements are planned for their values each time (a plan
      // for any values scanned every event to prune); the worker's may keep one (run.ts openPool).
      const mode = async (pool: pg.Pool) =>
        (await pool.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]?.plan_cache_mode;
      expect([await mode(store.pool), await mode(store.workPool)]).toEqual(['force_custom_plan', 'auto']);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe.skipIf(!pgAvailable)('PostgreSQL claims', () => {
  const open = async () => {
    const db = await freshDatabase();
    const store = new PgStore(db.url);
    await store.ready;
    return { db, store, close: async () => (await store.close(), await db.drop()) };
  };

  it('with claims every 100 ms, makes an event whose last lease ran out dead, and frees its chat, within a second after, never before', async () => {
    const { store, close } = await open();
    try {
      const spent = (await store.append(newEvent({ orderKey: 'A' }))).id;
      const next = (await store.append(newEvent({ orderKey: 'A' }))).id;
      expect((await store.claim('p1', 0, 10_000, 10, 1)).map((e) => e.id)).toEqual([spent]);
      // Claims every 100 ms from half a second before its lease runs out: it is dead, and its chat
      // free, within a second after, never before.
      let freed: number | undefined;
      for (let now = 9_500; now <= 11_000 && freed === undefined; now += 100) {
        const claimed = await store.claim('p2', now, 10_000, 10, 1);
        if (claimed.length > 0) freed = now;
        expect(claimed.map((e) => e.id)).toEqual(freed === undefined ? [] : [next]);
      }
      expect(freed).toBeGreaterThanOrEqual(10_000);
      expect(freed).toBeLessThanOrEqual(11_000);
      expect(await store.getEvent(spent)).toMatchObject({ status: 'dead' });
    } finally {
      await close();
    }
  });

  it("skips a chat whose head another instance's claim has locked, and never takes the event behind it", async () => {
    const { store, close } = await open();
    const lock = await store.pool.connect();
    try {
      // More open events than a claim looks at oldest first: the last claims walk the chats.
      const ids: Record<string, number[]> = { A: [], B: [] };
      for (let i = 0; i < 50; i++)
        for (const key of ['A', 'B']) ids[key]!.push((await store.append(newEvent({ orderKey: key }))).id);
      const c = (await store.append(newEvent({ orderKey: 'C' }))).id;
      await lock.query('BEGIN');
      await lock.query('SELECT id FROM events WHERE id = $1 FOR UPDATE', [ids.A![0]]);
      const claim = async (limit: number) => (await store.claim('w', 10, 1_000, limit, 10)).map((e) => e.id);
      expect(await claim(1)).toEqual([ids.B![0]]);
      expect(await claim(10)).toEqual([c]);
      await lock.query('ROLLBACK');
      expect(await claim(10)).toEqual([ids.A![0]]);
    } finally {
      lock.release();
      await close();
    }
  });

  it('examines a few hundred rows per claim, not the events queued behind held chat heads, nor every open chat', async () => {
    const { store, close } = await open();
    const c = await store.pool.connect();
    try {
      /** Index entries and table rows the claim read on events (this transaction's own counts). */
      const examined = async () =>
        Number(
          (
            await c.query<{ n: string }>(
              `SELECT (SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) FROM pg_index WHERE indrelid = 'events'::regclass)
                 + pg_stat_get_xact_tuples_returned('events'::regclass) AS n`,
            )
          ).rows[0]!.n,
        );
      // Its statements are named and planned once for any values after five claims on a connection (plan_cache_mode auto).
      const claimOnce = async (limit: number, generic = false) => {
        await c.query(`SET plan_cache_mode = ${generic ? 'force_generic_plan' : 'force_custom_plan'}`);
        await c.query('BEGIN');
        try {
          const before = await examined();
          const claimed = await claimEvents(c, new SecretBox(), 'w', 1_000, 60_000, limit, 8);
          return { claimed: claimed.length, examined: (await examined()) - before };
        } finally {
          await c.query('ROLLBACK');
        }
      };
      const fill = (events: number, chat: string, status: string) =>
        store.pool.query(`
          INSERT INTO events (dedup_key, member_id, code, known, status, order_key, received_at, event, raw_body, content_type, lease_owner, lease_until, attempts)
          SELECT 'k' || g, 'm', 'X', true, ${status}, ${chat}, g, '{}', '', 'form', 'other', 1000000, 1
          FROM generate_series(1, ${events}) g`);
      // 100 chats, each head held by a lease, 200 events queued behind each.
      await fill(20_100, "'c' || (g % 100)", "CASE WHEN g <= 100 THEN 'processing' ELSE 'pending' END");
      await store.pool.query('ANALYZE events');
      for (const limit of [1, 8])
        for (const generic of [false, true]) {
          const held = await claimOnce(limit, generic);
          expect(held.claimed).toBe(0);
          expect(held.examined).toBeLessThan(500);
        }
      // 5,000 chats, one pending event each: the oldest open events hold enough heads.
      await store.pool.query('TRUNCATE events CASCADE');
      await fill(5_000, "'c' || g", "'pending'");
      await store.pool.query('ANALYZE events');
      for (const generic of [false, true]) {
        const pending = await claimOnce(8, generic);
        expect(pending.claimed).toBe(8);
        expect(pending.examined).toBeLessThan(500);
      }
    } finally {
      c.release(true);
      await close();
    }
  });
});

describe.skipIf(!pgAvailable)('PostgreSQL named statements', () => {
  it('prepares a statement anew on a fresh connection once another instance added a column', async () => {
    const db = await freshDatabase();
    // One connection in each pool: the calls after the change meet the statements prepared before it.
    const store = new PgStore(db.url, { poolSize: 1 });
    const other = new pg.Client({ connectionString: db.url });
    try {
      await other.connect();
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await store.append(newEvent())).id);
      // SELECT * and RETURNING events.*, each prepared on its pool's connection.
      expect((await store.getEvent(ids[0]!))?.id).toBe(ids[0]);
      expect((await store.claim('w', 10, 1_000, 1, 10)).map((e) => e.id)).toEqual([ids[0]]);
      const prepared = async (pool: pg.Pool) =>
        (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0]!.n;
      expect(await prepared(store.pool)).toBeGreaterThan(0);
      await other.query('ALTER TABLE events ADD COLUMN rolled_out TEXT');
      expect((await store.getEvent(ids[1]!))?.id).toBe(ids[1]);
      expect((await store.claim('w', 10, 1_000, 1, 10)).map((e) => e.id)).toEqual([ids[1]]);
    } finally {
      await other.end();
      await store.close();
      await db.drop();
    }
  });
});

describe.skipIf(!pgAvailable)('PostgreSQL announcements and faults', () => {
  /** A store on a fresh database, closed and dropped after `fn`. */
  async function withStore(fn: (store: PgStore) => Promise<void>, options = {}): Promise<void> {
    const db = await freshDatabase();
    const store = new PgStore(db.url, options);
    try {
      await store.ready;
      await fn(store);
    } finally {
      await store.close();
      await db.drop();
    }
  }

  it('announces new events only: no NOTIFY for a commit of duplicates, nor for a requeue that found nothing', () =>
    withStore(async (store) => {
      const notifies = async (fn: () => Promise<unknown>) => (await sentDuring(/NOTIFY/, fn)).length;
      const plain = newEvent();
      const chat = newEvent({ orderKey: 'C' });
      expect(await notifies(() => store.append(plain))).toBe(1);
      expect(await notifies(() => store.append(chat))).toBe(1);
      expect(await notifies(() => store.append({ ...plain }))).toBe(0);
      // The first append commits alone; the copies made meanwhile share one commit: one statement,
      // or row by row for a chat's.
      expect(await notifies(() => Promise.all([store.append(newEvent()), store.append({ ...plain })]))).toBe(1);
      expect(await notifies(() => Promise.all([store.append(newEvent()), store.append({ ...chat })]))).toBe(1);
      // A commit written row by row (a chat's copy in it) that stores a new event announces it.
      expect(
        await notifies(() =>
          Promise.all([store.append(newEvent()), store.append({ ...chat }), store.append(newEvent())]),
        ),
      ).toBe(2);
      expect(
        await notifies(async () => {
          await Promise.all([store.append({ ...plain }), store.append({ ...plain }), store.append({ ...plain })]);
          await Promise.all([store.append({ ...chat }), store.append({ ...chat }), store.append({ ...chat })]);
        }),
      ).toBe(0);
      expect(await notifies(() => store.requeue([987_654]))).toBe(0);
      expect((await store.getEvent((await store.append({ ...plain })).id))?.duplicates).toBe(6);
      expect((await store.getEvent((await store.append({ ...chat })).id))?.duplicates).toBe(6);
    }));

  it('listens again once its connection is cut, wakes its subscribers when back, and hears new events after', () =>
    withStore(async (store) => {
      let woken = 0;
      const off = await store.onNewEvents(() => woken++);
      await store.append(newEvent());
      await until(() => woken > 0);
      const cut = await store.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN b24gw_events'`,
      );
      expect(cut.rowCount).toBe(1);
      // Nothing was stored meanwhile: this wake is the one for what may have been announced while away.
      const before = woken;
      await until(() => woken > before);
      const back = woken;
      await store.append(newEvent());
      await until(() => woken > back);
      off();
      const after = woken;
      await store.append(newEvent());
      expect(await sentDuring(/NOTIFY/, () => store.append(newEvent()))).toHaveLength(1);
      expect(woken).toBe(after);
    }));

  it("keeps a portal lock's outcome when its session is cut while held, and the lock can be taken again", () =>
    withStore(async (store) => {
      const outcome = await store.withPortalLock('m1', async () => {
        await store.pool.query(
          `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
           WHERE l.locktype = 'advisory' AND d.datname = current_database()`,
        );
        return 'done while held';
      });
      expect(outcome).toBe('done while held');
      // The dead session's lock went with it: the next holder does not wait.
      expect(await store.withPortalLock('m1', async () => 'again')).toBe('again');
    }));

  it('tells how many migrations opening a database applied: all on a new one, none on one already current', async () => {
    const db = await freshDatabase();
    try {
      const fresh = new PgStore(db.url);
      expect(await fresh.migrated).toEqual({ applied: pgMigrations.length, total: pgMigrations.length });
      await fresh.close();
      const again = new PgStore(db.url);
      expect(await again.migrated).toEqual({ applied: 0, total: pgMigrations.length });
      await again.close();
      // Closed, it holds no connection.
      expect([fresh.pool.ended, fresh.workPool.ended, again.pool.ended, again.workPool.ended]).toEqual([
        true,
        true,
        true,
        true,
      ]);
    } finally {
      await db.drop();
    }
  });

  it('takes back, once open, what a dead process of this machine held', async () => {
    const dead = deadOwner();
    const db = await freshDatabase();
    try {
      const before = new PgStore(db.url);
      const { id } = await before.append(newEvent());
      expect((await before.claim(dead, Date.now(), 600_000, 10, 8)).map((e) => e.id)).toEqual([id]);
      await before.close();
      const after = new PgStore(db.url);
      try {
        // Its lease runs for ten minutes: only the sweep at open lets another owner take it now.
        let taken: StoredEvent[] = [];
        expect(
          await holdsWithin(async () => (taken = await after.claim('next', Date.now(), 600_000, 10, 8)).length > 0),
        ).toBe(true);
        expect(taken.map((e) => [e.id, e.takenOver])).toEqual([[id, true]]);
      } finally {
        await after.close();
      }
    } finally {
      await db.drop();
    }
  });

  it('answers a ping false, and refuses work with B24GW_STORE_UNAVAILABLE, while the database is away', async () => {
    const away = new PgStore('postgres://postgres@127.0.0.1:1/none', { waitMs: 200 });
    try {
      expect(await away.ping()).toBe(false);
      await expect(away.getEvent(1)).rejects.toMatchObject({ code: 'B24GW_STORE_UNAVAILABLE', status: 503 });
      await expect(away.append(newEvent())).rejects.toMatchObject({ code: 'B24GW_STORE_UNAVAILABLE' });
    } finally {
      await away.close();
    }
  });
});

describe.skipIf(!pgAvailable)('PostgreSQL runner', () => {
  /** A runner on a fresh database's pool of one connection, with a table `t` and a sequence `s`. */
  async function withRunner(fn: (runner: PgRunner, pool: pg.Pool) => Promise<void>, waitMs = 2_000): Promise<void> {
    const db = await freshDatabase();
    const pool = openPool(db.url, 1);
    try {
      await pool.query('CREATE TABLE t (id int PRIMARY KEY); CREATE SEQUENCE s');
      await fn(new PgRunner(pool, Promise.resolve(), waitMs), pool);
    } finally {
      await pool.end();
      await db.drop();
    }
  }
  // Cuts its own connection the first time only (a sequence is not rolled back).
  const cutOnce = 'SELECT CASE WHEN nextval(?) = 1 THEN pg_terminate_backend(pg_backend_pid()) END AS cut';

  it('runs a transaction again when the connection is cut before the work saw an answer', () =>
    withRunner(async (runner, pool) => {
      function* work(): Work<number> {
        yield* get(cutOnce, 's');
        return yield* run('INSERT INTO t (id) VALUES (1)');
      }
      await expect(runner.write(work())).resolves.toBe(1);
      expect((await pool.query('SELECT id FROM t')).rows).toEqual([{ id: 1 }]);
    }));

  it('fails, and never runs again, a transaction cut after the work saw an answer', () =>
    withRunner(async (runner, pool) => {
      let runs = 0;
      function* work(): Work<number> {
        runs++;
        yield* run('INSERT INTO t (id) VALUES (1)');
        yield* get(cutOnce, 's');
        return yield* run('INSERT INTO t (id) VALUES (2)');
      }
      await expect(runner.write(work())).rejects.toMatchObject({ code: '57P01' });
      expect(runs).toBe(1);
      expect((await pool.query('SELECT id FROM t')).rows).toEqual([]);
      // The cut connection was dropped: the next work gets a live one.
      await expect(runner.write(run('INSERT INTO t (id) VALUES (3)'))).resolves.toBe(1);
    }));

  it('reads on a read-only snapshot', () =>
    withRunner(async (runner, pool) => {
      // A write there is refused as on a replica during a failover: tried again until the wait is over.
      await expect(runner.read(run('INSERT INTO t (id) VALUES (1)'))).rejects.toMatchObject({
        code: 'B24GW_STORE_UNAVAILABLE',
        cause: { code: '25006' },
      });
      expect((await pool.query('SELECT id FROM t')).rows).toEqual([]);
      expect(await runner.read(get<{ n: number }>('SELECT count(*)::int AS n FROM t'))).toEqual({ n: 0 });
    }, 300));
});
