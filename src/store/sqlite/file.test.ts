import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers.js';
import { newEvent } from '../../../test/store/conformance.js';
import { createLogger } from '../../log.js';
import { SqliteStore } from './store.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('the SQLite database file', () => {
  let tmp: ReturnType<typeof tempDir>;
  let lines: string[];
  const logger = () =>
    createLogger({
      level: 'warn',
      destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }),
    });
  beforeEach(() => {
    tmp = tempDir();
    lines = [];
  });
  afterEach(() => tmp.cleanup());

  it('is made owner-only, with its -wal and -shm files and the folder made for it', async () => {
    const file = join(tmp.dir, 'new', 'dir', 'gw.db');
    const store = new SqliteStore(file, { logger: logger() });
    try {
      await store.append(newEvent());
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect([f, modeOf(f).toString(8)]).toEqual([f, '600']);
      expect(modeOf(join(tmp.dir, 'new')).toString(8)).toBe('700');
      expect(modeOf(join(tmp.dir, 'new', 'dir')).toString(8)).toBe('700');
    } finally {
      await store.close();
    }
    expect(lines).toEqual([]);
  });

  it('leaves an existing file’s mode alone, and warns when others may read it', async () => {
    const file = join(tmp.dir, 'old.db');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    const store = new SqliteStore(file, { logger: logger() });
    await store.append(newEvent());
    await store.close();
    expect(modeOf(file).toString(8)).toBe('644');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 40,
      file,
      mode: '644',
      msg: expect.stringContaining('chmod 600'),
    });

    chmodSync(file, 0o600);
    lines = [];
    await new SqliteStore(file, { logger: logger() }).close();
    expect(lines).toEqual([]);
  });
});

describe('the SQLite store path', () => {
  it('refuses an in-memory or empty path: three connections must see one database', () => {
    for (const file of [':memory:', '']) {
      expect(() => new SqliteStore(file)).toThrow(
        expect.objectContaining({ code: 'B24GW_BAD_CONFIG', message: expect.stringMatching(/file path/) as string }),
      );
    }
  });
});
