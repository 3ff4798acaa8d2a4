import { GatewayError } from '../errors.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
import type { Store } from './types.js';

/** Opens the store a location names: a file path (SQLite, the default). */
export function openStore(location: string, options: SqliteStoreOptions = {}): Store {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    throw new GatewayError('B24GW_BAD_CONFIG', 'PostgreSQL is not available in this version; use a SQLite file path');
  }
  return new SqliteStore(location, options);
}
