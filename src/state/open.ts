import { PgStore } from '../store/postgres/store.js';
import { SqliteStore } from '../store/sqlite/store.js';
import type { Store } from '../store/types.js';
import { PgConnectorState } from './postgres/state.js';
import { SqliteConnectorState } from './sqlite/state.js';
import type { SqlConnectorState } from './state.js';

/** The connector state in a store's own database (its tables created on open); none for a store the gateway does not know. */
export function connectorStateOf(store: Store): SqlConnectorState | undefined {
  if (store instanceof SqliteStore) return new SqliteConnectorState(store.workDb);
  if (store instanceof PgStore) return new PgConnectorState(store.pool);
  return undefined;
}
