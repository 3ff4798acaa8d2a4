import pg from 'pg';
import { inTransaction, migrateOnce, openPool, pgTypes as types, toPg } from '../../store/postgres/sql.js';
import type { Query, Work } from '../sql.js';
import { SqlConnectorState } from '../state.js';
import { migrateStatePg } from './migrations.js';

async function answer(client: pg.PoolClient, q: Query): Promise<unknown> {
  const result = await client.query({ text: toPg(q.sql), values: q.params, types });
  return q.kind === 'run' ? (result.rowCount ?? 0) : q.kind === 'get' ? result.rows[0] : result.rows;
}

/**
 * The connector state on PostgreSQL, shared by every gateway instance on the database. Each apply is
 * one transaction on one connection; each read sees one snapshot (REPEATABLE READ, read only).
 */
export class PgConnectorState extends SqlConnectorState {
  readonly pool: pg.Pool;
  /** The schema migrated; every call waits for it. */
  readonly ready: Promise<void>;
  private readonly ownPool: boolean;

  /** `db`: a pool to share (the PgStore's), or a URL to open one of its own. */
  constructor(db: pg.Pool | string) {
    super();
    this.ownPool = typeof db === 'string';
    this.pool = typeof db === 'string' ? openPool(db) : db;
    this.ready = migrateOnce(this.pool, migrateStatePg);
  }

  protected write<T>(work: Work<T>): Promise<T> {
    return this.run('BEGIN', work);
  }

  protected read<T>(work: Work<T>): Promise<T> {
    return this.run('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
  }

  private async run<T>(begin: string, work: Work<T>): Promise<T> {
    await this.ready;
    return inTransaction(this.pool, begin, async (client) => {
      let step = work.next();
      while (!step.done) step = work.next(await answer(client, step.value));
      return step.value;
    });
  }

  /** Ends the pool if this state opened it; a shared pool is its owner's to end. */
  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    if (this.ownPool) await this.pool.end();
  }
}
