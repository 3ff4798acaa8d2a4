import { existsSync } from 'node:fs';
import { GatewayError } from '../errors.js';
import { defaultDbFile } from '../gateway.js';
import { isPostgresUrl, openStore } from '../store/open.js';
import type { Store } from '../store/types.js';

/** Where the database is unless --db says: DATABASE_URL, then B24GW_DB, then the default file. */
export const defaultDb = (): string => process.env.DATABASE_URL ?? process.env.B24GW_DB ?? defaultDbFile;
export const dbHelp = 'SQLite file or postgres:// URL (env DATABASE_URL or B24GW_DB)';

/** Opens an existing database for a CLI command; a missing file is an error, not a new empty one. */
export function openExistingDb(location: string): Store {
  if (!isPostgresUrl(location) && !existsSync(location))
    throw new GatewayError('B24GW_BAD_INPUT', `No database at ${location} (set --db, DATABASE_URL or B24GW_DB)`);
  return openStore(location);
}

/** A time given as ISO 8601 or Unix milliseconds: as the console's API reads it. */
export { parseTime } from '../console/events.js';
