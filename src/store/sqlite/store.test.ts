import Database from 'better-sqlite3';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { holdsWithin, tempDir } from '../../../test/helpers.js';
import { deadOwner, newEvent, portal } from '../../../test/store/conformance.js';
import { createLogger } from '../../log.js';
import { SqliteStore } from './store.js';

describe('opening a SQLite store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let lines: Record<string, unknown>[];
  const logger = () =>
    createLogger({
      level: 'info',
      destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(JSON.parse(c.toString())), cb()) }),
    });
  beforeEach(() => {
    tmp = tempDir();
    file = `${tmp.dir}/open.db`;
    lines = [];
  });
  afterEach(() => tmp.cleanup());

  it('takes back at once what a dead process of this machine held, and says whose', async () => {
    const dead = deadOwner();
    const before = new SqliteStore(file);
    const { id } = await before.append(newEvent());
    expect((await before.claim(dead, Date.now(), 600_000, 10, 8)).map((e) => e.id)).toEqual([id]);
    await before.close();
    const after = new SqliteStore(file, { logger: logger() });
    try {
      expect(await holdsWithin(() => lines.length > 0)).toBe(true);
      expect(lines).toEqual([
        expect.objectContaining({ level: 30, owners: [dead], msg: 'took back the claims of a stopped gateway' }),
      ]);
      expect((await after.claim('next', Date.now(), 600_000, 10, 8)).map((e) => [e.id, e.takenOver])).toEqual([
        [id, true],
      ]);
    } finally {
      await after.close();
    }
    // Nothing to take back: nothing said.
    lines = [];
    const quiet = new SqliteStore(file, { logger: logger() });
    await quiet.endLeasesOfDeadOwners();
    await quiet.close();
    expect(lines).toEqual([]);
  });

  it('refuses to open a file whose secrets were sealed under another key, and keeps no connection to it', async () => {
    const sealed = new SqliteStore(file, { secretKey: Buffer.alloc(32, 1) });
    await sealed.append(newEvent(), {
      kind: 'install',
      portal: portal(),
    });
    await sealed.close();
    expect(() => new SqliteStore(file, { secretKey: Buffer.alloc(32, 2) })).toThrow(
      expect.objectContaining({ code: 'B24GW_SECRET_UNREADABLE' }),
    );
    // Were the refused store's connection left open, the file could not be switched out of WAL.
    const check = new Database(file);
    expect(check.pragma('journal_mode = DELETE', { simple: true })).toBe('delete');
    check.close();
  });
});
