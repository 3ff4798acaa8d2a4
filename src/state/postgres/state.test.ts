import pg from 'pg';
import { freshDatabase, pgAdminUrl, pgAvailable } from '../../../test/pg.js';
import { stateConformance } from '../testing/conformance.js';
import { PgConnectorState } from './state.js';

stateConformance(
  'PostgreSQL',
  {
    async open() {
      const db = await freshDatabase();
      // The first shares a pool, as the gateway shares its PgStore's; the others open their own from the URL.
      const pool = new pg.Pool({ connectionString: db.url });
      // Dropping the database ends any connection still open; that is expected at cleanup.
      pool.on('error', () => undefined);
      const states = [new PgConnectorState(pool)];
      const query = async (sql: string) => (await pool.query<Record<string, unknown>>(sql)).rows.map((r) => Object.values(r)[0]);
      return {
        state: states[0]!,
        another: async () => {
          const s = new PgConnectorState(db.url);
          states.push(s);
          return s;
        },
        scalar: async (sql) => Number((await query(sql))[0]),
        column: query,
        cleanup: async () => {
          for (const s of states) await s.close();
          await pool.end();
          await db.drop();
        },
      };
    },
  },
  pgAvailable ? undefined : `PostgreSQL is not reachable at ${pgAdminUrl} (set B24GW_TEST_PG)`,
);
