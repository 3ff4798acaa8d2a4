import type { Logger } from '../log.js';
import { PgStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';
import type { Store } from './types.js';

export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);

/** Opens the store a location names: a `postgres://` URL, or a SQLite file path (the default). */
export function openStore(location: string, options: { logger?: Logger } = {}): Store {
  return isPostgresUrl(location) ? new PgStore(location) : new SqliteStore(location, options);
}
