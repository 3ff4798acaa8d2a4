import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { get, run, type Work } from '../sql/work.js';
import { SqliteRunner } from './run.js';

let dir: string;
let a: Database.Database;
let b: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'b24gw-run-'));
  const file = join(dir, 'db.sqlite');
  a = new Database(file);
  a.pragma('journal_mode = WAL');
  a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  b = new Database(file);
});

afterEach(() => {
  a.close();
  b.close();
  rmSync(dir, { recursive: true, force: true });
});

function* insert(id: number, v: string): Work<number> {
  return yield* run('INSERT INTO t (id, v) VALUES (?, ?)', id, v);
}

function* insertThenFail(id: number): Work<number> {
  yield* insert(id, 'undone');
  throw new Error('this work fails');
}

const values = (): unknown[] => b.prepare('SELECT id, v FROM t ORDER BY id').all();

describe('the SQLite runner', () => {
  it('commits the writes of one turn together, and a write that throws undoes only itself', async () => {
    const runner = new SqliteRunner(a);
    // data_version moves on another connection once per commit made elsewhere.
    const before = b.pragma('data_version', { simple: true }) as number;
    const results = await Promise.allSettled([
      runner.write(insert(1, 'one')),
      runner.write(insertThenFail(2)),
      runner.once(insert(3, 'three')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(values()).toEqual([
      { id: 1, v: 'one' },
      { id: 3, v: 'three' },
    ]);
    expect((b.pragma('data_version', { simple: true }) as number) - before).toBe(1);
  });

  it('keeps the thread serving while another connection holds the write lock', async () => {
    const runner = new SqliteRunner(a);
    b.exec('BEGIN IMMEDIATE');
    // Were the runner to wait for the lock on this thread, this timer could not release it.
    setTimeout(() => b.exec('COMMIT'), 50);
    await expect(runner.write(insert(1, 'after the lock'))).resolves.toBe(1);
    expect(values()).toEqual([{ id: 1, v: 'after the lock' }]);
  });

  it('fails the writes queued behind a lock held past its wait with SQLITE_BUSY, and takes the next ones once it is free', async () => {
    const runner = new SqliteRunner(a, 100);
    b.exec('BEGIN IMMEDIATE');
    const waited = await Promise.allSettled([runner.write(insert(1, 'locked out')), runner.write(insert(2, 'too'))]);
    expect(waited.map((r) => (r as PromiseRejectedResult).reason?.code)).toEqual(['SQLITE_BUSY', 'SQLITE_BUSY']);
    b.exec('COMMIT');
    await expect(runner.write(insert(3, 'after'))).resolves.toBe(1);
    expect(values()).toEqual([{ id: 3, v: 'after' }]);
    // The connection's own wait is its bound again once the write lock was tried.
    expect(a.pragma('busy_timeout', { simple: true })).toBe(100);
  });

  it('answers a read at once from the last commit while its writes wait for the lock', async () => {
    const runner = new SqliteRunner(a);
    await runner.write(insert(1, 'committed'));
    b.exec('BEGIN IMMEDIATE');
    const written = runner.write(run('UPDATE t SET v = ? WHERE id = ?', 'queued', 1));
    const read = (id: number) => get<{ v: string }>('SELECT v FROM t WHERE id = ?', id);
    // Were reads queued behind the write, these could not be answered until the lock is free.
    expect([await runner.once(read(1)), await runner.read(read(1))]).toEqual([{ v: 'committed' }, { v: 'committed' }]);
    b.exec('COMMIT');
    await written;
    expect(await runner.once(read(1))).toEqual({ v: 'queued' });
  });

  it('fails every queued write when a commit cannot be made, and takes the next ones', async () => {
    const runner = new SqliteRunner(a);
    // A deferred foreign key is checked at commit: the commit fails, and nothing of the batch stays.
    a.exec('CREATE TABLE c (id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)');
    a.pragma('foreign_keys = ON');
    const batch = await Promise.allSettled([
      runner.write(insert(1, 'lost with the commit')),
      runner.write(run('INSERT INTO c (id, t_id) VALUES (1, 99)')),
      // A write through `once` joins the queued ones, and is lost with them.
      runner.once(insert(3, 'lost too')),
    ]);
    expect(batch.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(values()).toEqual([]);
    await expect(runner.write(insert(2, 'next'))).resolves.toBe(1);
    await runner.close();
    expect(values()).toEqual([{ id: 2, v: 'next' }]);
  });

  it('a close waits for the writes already queued', async () => {
    const runner = new SqliteRunner(a);
    const queued = [runner.write(insert(1, 'queued')), runner.once(insert(2, 'queued too'))];
    await runner.close();
    expect(values()).toEqual([
      { id: 1, v: 'queued' },
      { id: 2, v: 'queued too' },
    ]);
    await Promise.all(queued);
  });

  it('fails at once, with its own error, a write whose transaction cannot begin for another reason than the lock', async () => {
    const runner = new SqliteRunner(a, 60_000);
    // A transaction left open on the runner's connection: BEGIN IMMEDIATE is refused, and waiting would not help.
    a.exec('BEGIN');
    await expect(runner.write(insert(1, 'never'))).rejects.toThrow(/within a transaction/);
    a.exec('ROLLBACK');
    await expect(runner.write(insert(2, 'next'))).resolves.toBe(1);
  });
});
