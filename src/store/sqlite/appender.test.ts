import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers.js';
import { newEvent } from '../../../test/store/conformance.js';
import { SecretBox } from '../secret-box.js';
import { Appender } from './appender.js';
import { SqliteStore } from './store.js';

/** The thread the appender commits on, reached as the store's fault tests reach it. */
const threadOf = (a: Appender) => (a as unknown as { worker: { terminate(): Promise<number> } }).worker;

describe('the SQLite appender', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let stored: number;
  let appender: Appender;
  beforeEach(async () => {
    tmp = tempDir();
    file = `${tmp.dir}/a.db`;
    // Made and migrated by a store, as the appender always meets it.
    await new SqliteStore(file).close();
    stored = 0;
    appender = new Appender(file, 'FULL', new SecretBox(), () => stored++);
  });
  afterEach(async () => {
    await appender.close();
    tmp.cleanup();
  });
  const keys = () => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare('SELECT dedup_key FROM events ORDER BY id').pluck().all();
    } finally {
      db.close();
    }
  };

  it('tells the store of a commit that stored new events, never of one of duplicates only', async () => {
    const e = newEvent();
    expect((await appender.append(e)).duplicate).toBe(false);
    expect(stored).toBe(1);
    expect(await Promise.all([appender.append({ ...e }), appender.append({ ...e })])).toEqual([
      { id: expect.any(Number), duplicate: true },
      { id: expect.any(Number), duplicate: true },
    ]);
    expect(stored).toBe(1);
    await Promise.all([appender.append({ ...e }), appender.append(newEvent())]);
    expect(stored).toBe(2);
  });

  it("fails a row the database refuses with the database's own message and code, and commits the rest", async () => {
    const db = new Database(file);
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.dedup_key = 'refused'
             BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END`);
    db.close();
    const results = await Promise.allSettled([
      appender.append(newEvent({ dedupKey: 'kept-1' })),
      appender.append(newEvent({ dedupKey: 'refused' })),
      appender.append(newEvent({ dedupKey: 'kept-2' })),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (results[1] as PromiseRejectedResult).reason as Error & {
      code: string;
      cause: Error & { code: string };
    };
    expect([refused.code, refused.cause.message, refused.cause.code]).toEqual([
      'B24GW_STORE_FAILED',
      'refused by a trigger',
      'SQLITE_CONSTRAINT_TRIGGER',
    ]);
    expect(keys()).toEqual(['kept-1', 'kept-2']);
    // A commit whose only row was refused stored nothing new: no wake-up.
    const before = stored;
    await expect(appender.append(newEvent({ dedupKey: 'refused' }))).rejects.toMatchObject({
      code: 'B24GW_STORE_FAILED',
    });
    expect(stored).toBe(before);
  });

  it('once its thread died, rejects what it held and refuses at once whatever comes after, naming the exit', async () => {
    await appender.append(newEvent({ dedupKey: 'before' }));
    expect(appender.failed).toBe(false);
    const held = appender.append(newEvent({ dedupKey: 'held' }));
    await threadOf(appender).terminate();
    const died = { code: 'B24GW_STORE_FAILED', cause: { message: 'exit code 1' } };
    await expect(held).rejects.toMatchObject(died);
    expect(appender.failed).toBe(true);
    const after = appender.append(newEvent({ dedupKey: 'after' }));
    await expect(after).rejects.toMatchObject(died);
    expect(keys()).toEqual(['before']);
    // Its close has nothing left to wait for.
    await appender.close();
  });

  it('a close commits what was appended before it, then refuses more without counting as failed', async () => {
    const appends = ['c1', 'c2', 'c3'].map((k) => appender.append(newEvent({ dedupKey: k })));
    await appender.close();
    expect((await Promise.all(appends)).map((r) => r.duplicate)).toEqual([false, false, false]);
    expect(keys()).toEqual(['c1', 'c2', 'c3']);
    await expect(appender.append(newEvent())).rejects.toMatchObject({ code: 'B24GW_STORE_CLOSED' });
    expect(appender.failed).toBe(false);
  });
});
