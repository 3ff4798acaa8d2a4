import pg from 'pg';
import type { Query, Runner, Work } from '../sql/work.js';
import { GatewayError } from '../../errors.js';

/** BIGINT columns hold Unix milliseconds and ids, well inside a double's exact range: read them as numbers. */
export const pgTypes = {
  getTypeParser: (oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : (pg.types.getTypeParser(oid, format as 'text') as (v: string) => unknown),
};

const numbered = new Map<string, string>();

/** SQL written with `?` placeholders (as SQLite takes them) numbered for PostgreSQL: $1, $2, ... */
export function toPg(sql: string): string {
  let text = numbered.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size > 1_000) numbered.clear();
    numbered.set(sql, text);
  }
  return text;
}

/** A pool that reads BIGINT as numbers and survives an idle connection dropped by the server. */
export function openPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, types: pgTypes });
  // An idle client lost its connection; the pool replaces it on next use.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Runs `fn` in a transaction on a pooled connection. A connection that cannot even roll back
 * is dropped, not handed to the next caller.
 */
export async function inTransaction<T>(pool: pg.Pool, begin: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch((err: Error) => {
      broken = err;
    });
    throw e;
  } finally {
    client.release(broken);
  }
}

async function answer(client: pg.Pool | pg.PoolClient, q: Query): Promise<unknown> {
  const result = await client.query(toPg(q.sql), q.params);
  return q.kind === 'run' ? (result.rowCount ?? 0) : q.kind === 'get' ? result.rows[0] : result.rows;
}

async function drive<T>(client: pg.Pool | pg.PoolClient, work: Work<T>): Promise<T> {
  let step = work.next();
  while (!step.done) step = work.next(await answer(client, step.value));
  return step.value;
}

/**
 * Runs work on the pool once the schema is ready: a transaction on one connection, a read on one
 * snapshot (REPEATABLE READ, read only), or each statement on whichever connection is free.
 */
export class PgRunner implements Runner {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: Promise<void>,
  ) {}

  async write<T>(work: Work<T>): Promise<T> {
    await this.ready;
    return inTransaction(this.pool, 'BEGIN', (c) => drive(c, work));
  }

  async read<T>(work: Work<T>): Promise<T> {
    await this.ready;
    return inTransaction(this.pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', (c) => drive(c, work));
  }

  async once<T>(work: Work<T>): Promise<T> {
    await this.ready;
    return drive(this.pool, work);
  }
}

/** Runs a schema's migrations once on a pooled connection. A failure is reported by whoever awaits it, never as an unhandled rejection. */
export function migrateOnce(pool: pg.Pool, migrate: (c: pg.PoolClient) => Promise<number>): Promise<number> {
  const connected = pool.connect().catch((e: unknown) => {
    throw new GatewayError('B24GW_STORE_UNREACHABLE', `PostgreSQL could not be reached: ${(e as Error).message}`, {
      cause: e,
    });
  });
  const ready = connected.then(async (client) => {
    try {
      return await migrate(client);
    } finally {
      client.release();
    }
  });
  ready.catch(() => undefined);
  return ready;
}
