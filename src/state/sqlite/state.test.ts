import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '../../../test/helpers.js';
import { stateConformance } from '../testing/conformance.js';
import { SqliteConnectorState } from './state.js';

/** A connection as the gateway's worker opens one. */
function connect(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

stateConformance('SQLite', {
  async open() {
    const { dir, cleanup } = tempDir();
    const file = join(dir, 'gateway.db');
    const first = connect(file);
    const dbs = [first];
    return {
      state: new SqliteConnectorState(first),
      another: async () => {
        const db = connect(file);
        dbs.push(db);
        return new SqliteConnectorState(db);
      },
      scalar: async (sql) => first.prepare(sql).pluck().get() as number,
      column: async (sql) => first.prepare(sql).pluck().all(),
      cleanup: async () => {
        for (const db of dbs) db.close();
        cleanup();
      },
    };
  },
});
