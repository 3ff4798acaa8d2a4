import { migrateOnce } from '../store/postgres/sql.js';
import { PgStore } from '../store/postgres/store.js';
import { SqliteStore } from '../store/sqlite/store.js';
import type { Store } from '../store/types.js';
import { migrateStatePg } from './postgres/migrations.js';
import { PgConnectorState } from './postgres/state.js';
import { migrateState } from './sqlite/migrations.js';
import { SqliteConnectorState } from './sqlite/state.js';
import type { ConnectorStateStore } from './types.js';

/** The connector state in a store's own database; none for a store the gateway does not know. */
export function connectorStateOf(store: Store): ConnectorStateStore | undefined {
  if (store instanceof SqliteStore) return new SqliteConnectorState(store.workDb);
  if (store instanceof PgStore) return new PgConnectorState(store.pool);
  return undefined;
}

/** Creates or upgrades the connector state's tables in a store's database, as `migrate` does. */
export async function migrateStateOf(store: Store): Promise<void> {
  if (store instanceof SqliteStore) migrateState(store.db);
  else if (store instanceof PgStore) await migrateOnce(store.pool, migrateStatePg);
}
