import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../log.js';

/**
 * Makes the database file owner-only before SQLite opens it: it holds the portals' OAuth tokens.
 * SQLite gives the -wal and -shm files it makes the main file's mode. A folder made for it is
 * owner-only too. An existing file keeps its mode (someone chose it), with a warning if other
 * users may read or write it.
 */
export function prepareDbFile(file: string, logger?: Logger): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    // 'wx': created here or not at all, so a file made at the same moment by another process is never truncated.
    closeSync(openSync(file, 'wx', 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o066) {
      logger?.warn(
        { file, mode: mode.toString(8) },
        `the database file ${file} is open to other users (mode ${mode.toString(8)}); it holds the portals' tokens: chmod 600 it`,
      );
    }
  }
}
