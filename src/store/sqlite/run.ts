import type Database from 'better-sqlite3';
import type { Query, Runner, Work } from '../sql/work.js';

/**
 * Runs work on one SQLite connection, synchronously: nothing else on the connection runs in
 * between, and a transaction is the whole generator. Each statement is prepared once.
 */
export class SqliteRunner implements Runner {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly tx: Database.Transaction<(work: Work<unknown>) => unknown>;

  constructor(readonly db: Database.Database) {
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

  async write<T>(work: Work<T>): Promise<T> {
    // immediate: take the write lock up front, so two connections never deadlock upgrading a read.
    return this.tx.immediate(work) as T;
  }

  async read<T>(work: Work<T>): Promise<T> {
    return this.tx.deferred(work) as T;
  }

  async once<T>(work: Work<T>): Promise<T> {
    return this.drive(work);
  }
}
