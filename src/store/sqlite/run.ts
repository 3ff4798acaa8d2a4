import type Database from 'better-sqlite3';
import type { Query, Runner, Work } from '../sql/work.js';

/** How long writes wait for another connection's write lock before they fail (SQLite's busy timeout). */
const BUSY_MS = 5000;

interface Queued {
  work: Work<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * Runs work on one SQLite connection. Writes that arrive in one turn of the event loop share one
 * transaction (each in a savepoint of its own, so one that throws undoes only itself) and one
 * commit: a commit costs far more than the statements of a finish or a claim. The write lock is
 * tried without waiting and tried again on the next millisecond, so the thread keeps serving while
 * another connection (the writer thread's sync) holds it. Reads never wait for the lock: they see
 * the last commit, as a read on another PostgreSQL connection would. Each statement is prepared once,
 * the transaction's own (BEGIN, SAVEPOINT, RELEASE, COMMIT) too: compiled on every write, they took
 * about a fifth of the worker's time spent in SQLite.
 */
export class SqliteRunner implements Runner {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly tx: Database.Transaction<(work: Work<unknown>) => unknown>;
  private queue: Queued[] = [];
  private flushing: Promise<void> | undefined;

  /** `busyMs`: how long writes wait for another connection's write lock before they fail with SQLITE_BUSY. */
  constructor(
    readonly db: Database.Database,
    private readonly busyMs = BUSY_MS,
  ) {
    this.tx = db.transaction((work: Work<unknown>) => this.drive(work));
  }

  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private drive<T>(work: Work<T>): T {
    let step = work.next();
    while (!step.done) step = work.next(this.answer(step.value));
    return step.value;
  }

  private answer(q: Query): unknown {
    const s = this.statement(q.sql);
    return q.kind === 'run' ? s.run(...q.params).changes : q.kind === 'get' ? s.get(...q.params) : s.all(...q.params);
  }

  write<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.flushing ??= new Promise<void>((done) => setImmediate(() => this.flush(Date.now(), done)));
    });
  }

  async read<T>(work: Work<T>): Promise<T> {
    return this.tx.deferred(work) as T;
  }

  async once<T>(work: Work<T>): Promise<T> {
    // Reads run now; from the first statement that writes, the rest joins the queued writes.
    let step = work.next();
    while (!step.done) {
      const s = this.statement(step.value.sql);
      if (!s.readonly) return this.write(resumed(work, step));
      step = work.next(this.answer(step.value));
    }
    return step.value;
  }

  /** Resolves when every write queued so far is committed (or failed). */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private flush(since: number, done: () => void): void {
    let batch: Queued[] = [];
    try {
      if (!this.begin()) {
        if (Date.now() - since < this.busyMs) {
          setTimeout(() => this.flush(since, done), 1);
          return;
        }
        throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      }
      batch = this.queue.splice(0);
      const results = this.together(batch);
      this.flushing = undefined;
      // Resolved after the commit; writes their callbacks queue start the next transaction.
      for (const { item, ok, value } of results) (ok ? item.resolve : item.reject)(value);
    } catch (e) {
      // The lock could not be had, or the commit failed: nothing of these is written.
      this.flushing = undefined;
      for (const item of [...batch, ...this.queue.splice(0)]) item.reject(e);
    }
    done();
  }

  /** Each work in a savepoint of its own, then one commit (which throws if it fails). */
  private together(batch: Queued[]): { item: Queued; ok: boolean; value: unknown }[] {
    const results: { item: Queued; ok: boolean; value: unknown }[] = [];
    for (const item of batch) {
      this.statement('SAVEPOINT w').run();
      try {
        const value = this.drive(item.work);
        this.statement('RELEASE w').run();
        results.push({ item, ok: true, value });
      } catch (e) {
        // Some failures (a full disk, I/O) end the whole transaction: then all of it is undone.
        if (!this.db.inTransaction) throw e;
        this.db.exec('ROLLBACK TO w; RELEASE w');
        results.push({ item, ok: false, value: e });
      }
    }
    try {
      this.statement('COMMIT').run();
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
    return results;
  }

  /** Takes the write lock if it is free now. */
  private begin(): boolean {
    this.statement('PRAGMA busy_timeout = 0').get();
    try {
      this.statement('BEGIN IMMEDIATE').run();
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_BUSY') return false;
      throw e;
    } finally {
      this.statement(`PRAGMA busy_timeout = ${this.busyMs}`).get();
    }
  }
}

/** A generator that already yielded `first`, to be driven again from that query. */
function* resumed<T>(work: Work<T>, first: IteratorYieldResult<Query>): Work<T> {
  let step: IteratorResult<Query, T> = first;
  while (!step.done) step = work.next(yield step.value);
  return step.value;
}
