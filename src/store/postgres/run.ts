import { createRequire } from 'node:module';
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../errors.js';
import type { Query, Runner, Work } from '../sql/work.js';
import { isStalePlan, isTransient } from './transient.js';

/** node-postgres, loaded by the first PostgreSQL store: a gateway on SQLite never pays for its code (about 6 MB a thread). */
let pgModule: typeof pg | undefined;
export const pgDriver = (): typeof pg => (pgModule ??= createRequire(import.meta.url)('pg') as typeof pg);

/** BIGINT columns hold Unix milliseconds and ids, well inside a double's exact range: read them as numbers. */
export const pgTypes = {
  getTypeParser: (oid: number, format?: string) =>
    oid === 20
      ? (v: string) => Number(v)
      : (pgDriver().types.getTypeParser(oid, format as 'text') as (v: string) => unknown),
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

/**
 * How many texts are sent as named statements. The store's texts are constants or a few variants
 * of one (optional filters); a text made for a list's length (a multi-row VALUES) is one more each
 * time. Past the bound a text is sent unnamed, so no connection holds more than this many.
 */
export const MAX_NAMED = 200;
const names = new Map<string, string>();

/**
 * A query as a named statement: each connection parses it once (node-pg keeps the statements per
 * connection), not on every call. The name is the text's number in this process.
 */
export function named(text: string, values: unknown[]): pg.QueryConfig {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED) names.set(text, (name = `b24gw-${names.size}`));
  return name === undefined ? { text, values } : { name, text, values };
}

/**
 * A pool that reads BIGINT as numbers and survives connections dropped by the server. A `worker`
 * pool's commits return before the server has synced them (synchronous_commit off): a crash of the
 * server can undo the last few, never break one in half. The other pool (the intake, the API) plans
 * its named statements for their values on every run (plan_cache_mode): its reads and prunes take
 * ranges, and a plan made once for any values may scan the whole table (the prune's did). The
 * worker's statements find their rows by key, lease or partial index, alike for any values: after
 * five runs PostgreSQL may keep one plan for them (`auto`), which spares most of their cost.
 */
export function openPool(url: string, max = 10, worker = false): pg.Pool {
  const pool = new (pgDriver().Pool)({
    connectionString: url,
    max,
    types: pgTypes,
    connectionTimeoutMillis: 5_000,
    options: worker ? '-c synchronous_commit=off' : '-c plan_cache_mode=force_custom_plan',
  });
  pool.on('error', () => undefined);
  // A client checked out but between queries (a transaction's caller awaiting, a portal lock held)
  // has no listener of the pool's: its error would be uncaught and end the thread. Its next query
  // fails instead, and the client is dropped when released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** How long an operation waits for the database to come back before it fails. Default 5 s. */
export const DEFAULT_STORE_WAIT_MS = 5_000;

/**
 * Runs `fn` again while it fails because the database is away (see transient.ts), waiting a
 * little longer each time, until `waitMs` has passed; then fails with B24GW_STORE_UNAVAILABLE.
 * `fn` must be safe to run again: a transaction that failed was rolled back by the server.
 */
export async function retrying<T>(waitMs: number, fn: () => Promise<T>, again: () => boolean = () => true): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let pause = 50; ; pause = Math.min(pause * 2, 1_000)) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e) || !again()) throw e;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new GatewayError('B24GW_STORE_UNAVAILABLE', `The database did not answer within ${waitMs} ms`, {
          cause: e,
          retryAfter: Math.max(1, Math.ceil(waitMs / 1000)),
        });
      await sleep(Math.min(pause, left));
    }
  }
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
    // Its named statements were prepared for the old columns: a fresh connection prepares them anew.
    if (isStalePlan(e)) broken ??= e;
    throw e;
  } finally {
    client.release(broken);
  }
}

/** A query written with `?` placeholders (as the shared queries are), sent as a named statement. */
export function runSql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.Pool | pg.PoolClient,
  sql: string,
  params: unknown[],
): Promise<pg.QueryResult<R>> {
  return client.query<R>(named(toPg(sql), params));
}

async function answer(client: pg.Pool | pg.PoolClient, q: Query): Promise<unknown> {
  const result = await runSql(client, q.sql, q.params);
  return q.kind === 'run' ? (result.rowCount ?? 0) : q.kind === 'get' ? result.rows[0] : result.rows;
}

/**
 * Runs work on the pool once the schema is ready: a transaction on one connection, a read on one
 * snapshot (REPEATABLE READ, read only), or each statement on whichever connection is free.
 */
export class PgRunner implements Runner {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: Promise<void>,
    private readonly waitMs = DEFAULT_STORE_WAIT_MS,
  ) {}

  /** In one transaction; tried again while the database is away, as long as no answer reached the work yet. */
  async write<T>(work: Work<T>): Promise<T> {
    return this.inTransaction('BEGIN', work);
  }

  async read<T>(work: Work<T>): Promise<T> {
    return this.inTransaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
  }

  /** Each statement on its own, each tried again while the database is away. */
  async once<T>(work: Work<T>): Promise<T> {
    await readyWithin(this.ready, this.waitMs);
    let step = work.next();
    while (!step.done) {
      const q = step.value;
      step = work.next(await retrying(this.waitMs, () => answer(this.pool, q)));
    }
    return step.value;
  }

  private async inTransaction<T>(begin: string, work: Work<T>): Promise<T> {
    await readyWithin(this.ready, this.waitMs);
    // A generator cannot be rewound: once an answer reached it, a failed transaction fails its caller.
    const first = work.next();
    let answered = false;
    return retrying(
      this.waitMs,
      () =>
        inTransaction(this.pool, begin, async (c) => {
          let step = first;
          while (!step.done) {
            const result = await answer(c, step.value);
            answered = true;
            step = work.next(result);
          }
          return step.value;
        }),
      () => !answered,
    );
  }
}

/**
 * Runs a schema's migrations once on a pooled connection. While the database is away (a gateway
 * started before it), tries again every second or so until it answers. A failure of another kind
 * is reported by whoever awaits it, never as an unhandled rejection.
 */
export function migrateOnce(pool: pg.Pool, migrate: (c: pg.PoolClient) => Promise<number>): Promise<number> {
  const once = () =>
    pool.connect().then(async (client) => {
      try {
        return await migrate(client);
      } finally {
        client.release();
      }
    });
  const ready = (async () => {
    for (let pause = 500; ; pause = Math.min(pause * 2, 5_000)) {
      try {
        return await once();
      } catch (e) {
        if (!isTransient(e) || (pool as { ending?: boolean }).ending) throw e;
        await sleep(pause);
      }
    }
  })();
  ready.catch(() => undefined);
  return ready;
}

/** Waits for `ready` (the schema) at most `waitMs`; then fails as the database being away does. */
export function readyWithin(ready: Promise<void>, waitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const away = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new GatewayError('B24GW_STORE_UNAVAILABLE', `The database did not answer within ${waitMs} ms`, {
            retryAfter: Math.max(1, Math.ceil(waitMs / 1000)),
          }),
        ),
      waitMs,
    );
  });
  return Promise.race([ready, away]).finally(() => clearTimeout(timer));
}
