import type { Dialect } from '../sql/dialect.js';

/**
 * SQLite's spelling of the fragments in sql/dialect.ts.
 * - Lists: SQLite binds no arrays; one JSON text read with json_each is one statement for any length.
 * - skipLocked: one process writes at a time (the write lock is the whole file), so there is nothing to skip.
 * - INDEXED BY: its planner picked a scan of every unfinished event for some claims and prunes; naming the
 *   partial index keeps them on it (the store's plan tests check it).
 * - serialize: one write transaction at a time already.
 * - leasedTables: the catalog is sqlite_master and pragma_table_info.
 */
export const sqlite: Dialect = {
  name: 'sqlite',
  inList: (column) => `${column} IN (SELECT value FROM json_each(?))`,
  list: (values) => JSON.stringify(values),
  skipLocked: '',
  indexedBy: (index) => ` INDEXED BY ${index}`,
  serialize: () => undefined,
  leasedTables: `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'lease_owner' ORDER BY m.name`,
};
