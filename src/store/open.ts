import type { Logger } from '../log.js';
import { PgStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';
import { SECRET_KEY_ENV } from './secret-box.js';
import type { Store } from './types.js';

export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);

/**
 * Opens the store a location names: a `postgres://` URL, or a SQLite file path (the default).
 * Secrets are kept encrypted when B24GW_SECRET_KEY is set (see SecretBox).
 */
export function openStore(
  location: string,
  options: { logger?: Logger; env?: NodeJS.ProcessEnv; waitMs?: number | undefined } = {},
): Store {
  const secretKey = (options.env ?? process.env)[SECRET_KEY_ENV] || undefined;
  return isPostgresUrl(location)
    ? new PgStore(location, { secretKey, ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }) })
    : new SqliteStore(location, { secretKey, ...(options.logger ? { logger: options.logger } : {}) });
}
