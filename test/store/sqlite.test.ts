import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { tempDir } from '../helpers.js';
import { storeConformance } from './conformance.js';

storeConformance('SQLite', {
  async open() {
    const tmp = tempDir();
    const file = `${tmp.dir}/c.db`;
    const store = new SqliteStore(file);
    const others: SqliteStore[] = [];
    return {
      store,
      other: () => {
        const s = new SqliteStore(file);
        others.push(s);
        return s;
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
});
