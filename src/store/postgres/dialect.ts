import type { Dialect } from '../sql/dialect.js';

/**
 * PostgreSQL's spelling of the fragments in sql/dialect.ts.
 * - Lists: an array parameter compared with ANY, which the planner takes through an index.
 * - skipLocked: several instances claim from one table; a row another one holds is left to it.
 * - INDEXED BY does not exist: the planner chooses, and the plan tests check it chose an index.
 * - serialize: a transaction-level advisory lock named for the queue (a constant, never user input).
 * - leasedTables: the catalog is information_schema, in the schema the store uses.
 */
export const postgres: Dialect = {
  name: 'postgres',
  inList: (column, type) => `${column} = ANY(?::${type}[])`,
  list: (values) => values,
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  indexedBy: () => '',
  serialize: (queue) => `SELECT pg_advisory_xact_lock(hashtext('b24gw:queue:${queue}'))`,
  leasedTables: `SELECT table_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'lease_owner' ORDER BY table_name`,
};
