import pg from 'pg';
import { openPool, pgTypes as types, toPg } from '../../store/postgres/sql.js';
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
    this.ready = this.pool.connect().then(async (client) => {
      try {
        await migrateStatePg(client);
      } finally {
        client.release();
      }
    });
    // A failed migration is reported by the first call, not as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  protected write<T>(work: Work<T>): Promise<T> {
    return this.run('BEGIN', work);
  }

  protected read<T>(work: Work<T>): Promise<T> {
    return this.run('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
  }

  private async run<T>(begin: string, work: Work<T>): Promise<T> {
    await this.ready;
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(begin);
      let step = work.next();
      while (!step.done) step = work.next(await answer(client, step.value));
      await client.query('COMMIT');
      return step.value;
    } catch (e) {
      await client.query('ROLLBACK').catch((err: Error) => {
        broken = err;
      });
      throw e;
    } finally {
      // A connection that cannot even roll back is dropped, not handed to the next caller.
      client.release(broken);
    }
  }

  /** Ends the pool if this state opened it; a shared pool is its owner's to end. */
  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    if (this.ownPool) await this.pool.end();
  }
}
