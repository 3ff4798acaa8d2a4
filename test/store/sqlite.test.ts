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
