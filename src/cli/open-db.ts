import { existsSync } from 'node:fs';
import { GatewayError } from '../errors.js';
import { SqliteStore } from '../store/sqlite/store.js';

/** Opens an existing database for a CLI command; a missing file is an error, not a new empty one. */
export function openExistingDb(file: string): SqliteStore {
  if (!existsSync(file)) throw new GatewayError('B24GW_BAD_INPUT', `No database at ${file} (set --db or B24GW_DB)`);
  return new SqliteStore(file);
}

/** A time given as ISO 8601 or Unix milliseconds. */
export function parseTime(flag: string, value: string): number {
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(t)) throw new GatewayError('B24GW_BAD_INPUT', `${flag} must be an ISO time (2026-11-22T10:00:00Z) or Unix ms, got "${value}"`);
  return t;
}
