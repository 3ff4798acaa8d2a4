import { PgStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';
import type { Store } from './types.js';

export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);

/** Opens the store a location names: a `postgres://` URL, or a SQLite file path (the default). */
export function openStore(location: string): Store {
  return isPostgresUrl(location) ? new PgStore(location) : new SqliteStore(location);
}
