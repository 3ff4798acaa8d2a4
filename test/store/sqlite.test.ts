import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { tempDir } from '../helpers.js';
import { storeConformance } from './conformance.js';

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
        return statement.reader ? (statement.all(...params) as Record<string, unknown>[]) : (statement.run(...params), []);
      },
      cleanup: async () => {
        for (const s of others) await s.close();
        await store.close();
        tmp.cleanup();
      },
    };
  },
});

describe('SQLite connections', () => {
  it('the read and worker connections map the file: a commit elsewhere empties their caches, and mapped pages are read without a system call', async () => {
    const tmp = tempDir();
    const store = new SqliteStore(`${tmp.dir}/m.db`);
    try {
      for (const db of [store.db, store.workDb]) expect(db.pragma('mmap_size', { simple: true })).toBe(256 * 1024 * 1024);
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });

  it('a claim finds the events of no chat through their own index, never by walking every unfinished event', async () => {
    const tmp = tempDir();
    const store = new SqliteStore(`${tmp.dir}/q.db`);
    try {
      // The statement is private; its plan is what matters: under a flood, a scan of the backlog per claim took 3/4 of the worker's CPU.
      const free = (store as unknown as { stmts: { runnableFree: { source: string } } }).stmts.runnableFree.source;
      const plan = store.workDb.prepare(`EXPLAIN QUERY PLAN ${free}`).all({ now: 0, limit: 8 }) as { detail: string }[];
      expect(plan.map((p) => p.detail).join('; ')).toMatch(/USING INDEX events_open_free/);
      const indexes = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").pluck().all();
      expect(indexes).toContain('events_open_free');
      expect(indexes).not.toContain('events_open');
    } finally {
      await store.close();
      tmp.cleanup();
    }
  });
});
