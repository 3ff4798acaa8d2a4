import type Database from 'better-sqlite3';
import type { Query, Work } from '../sql.js';
import { SqlConnectorState } from '../state.js';
import { migrateState } from './migrations.js';

/**
 * The connector state in the SQLite file, beside the inbox. Work runs synchronously inside one
 * transaction, so nothing else on the connection (the worker shares it) runs in between.
 */
export class SqliteConnectorState extends SqlConnectorState {
  /** Each statement prepared once: apply() runs per event, and preparing is most of a small write's cost. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly tx: Database.Transaction<(work: Work<unknown>) => unknown>;

  /** Migrated in the constructor, synchronously. */
  readonly ready = Promise.resolve();

  constructor(readonly db: Database.Database) {
    super();
    migrateState(db);
    this.tx = db.transaction((work: Work<unknown>) => {
      let step = work.next();
      while (!step.done) step = work.next(this.answer(step.value));
      return step.value;
    });
  }

  private answer(q: Query): unknown {
    let s = this.statements.get(q.sql);
    if (!s) {
      s = this.db.prepare(q.sql);
      this.statements.set(q.sql, s);
    }
    return q.kind === 'run' ? s.run(...q.params).changes : q.kind === 'get' ? s.get(...q.params) : s.all(...q.params);
  }

  protected async write<T>(work: Work<T>): Promise<T> {
    // immediate: take the write lock up front, so two processes never deadlock upgrading a read.
    return this.tx.immediate(work) as T;
  }

  protected async read<T>(work: Work<T>): Promise<T> {
    return this.tx.deferred(work) as T;
  }
}
