import { PgStore } from '../../src/store/postgres/store.js';
import { freshDatabase, pgAvailable } from '../pg.js';
import { storeConformance } from './conformance.js';

storeConformance(
  'PostgreSQL',
  {
    async open() {
      const db = await freshDatabase();
      const store = new PgStore(db.url);
      const others: PgStore[] = [];
      return {
        store,
        other: () => {
          const s = new PgStore(db.url);
          others.push(s);
          return s;
        },
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
