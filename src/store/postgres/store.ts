import type pg from 'pg';
import { GatewayError, isGatewayError } from '../../errors.js';
import { checkSecretKey, sampleSecretSql, SecretBox, type SampleSecret } from '../secret-box.js';
import { SqlStore } from '../sql-store.js';
import type { AppendResult, NewEvent, Outcome, PortalChange, StoredEvent } from '../types.js';
import { CHANNEL, IN_ORDER, writeBatch, writeEach, type Pending } from './append.js';
import { claimEvents, finishEvent } from './claim.js';
import { postgres } from './dialect.js';
import { migratePg, pgMigrations } from './migrations.js';
import {
  DEFAULT_STORE_WAIT_MS,
  inTransaction,
  migrateOnce,
  openPool,
  pgDriver,
  PgRunner,
  readyWithin,
  retrying,
} from './run.js';

export interface PgStoreOptions {
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** 32 bytes (or their hex or base64): OAuth tokens and events' secrets are then kept encrypted (AES-256-GCM). */
  secretKey?: string | Uint8Array | undefined;
  /**
   * How long an operation waits for the database to come back (a restart, a failover, a cut
   * connection) before it fails: an event arriving then is held, and committed once it is back.
   * Default 5 s.
   */
  waitMs?: number;
}

/** How often a claim also looks for events whose lease ran out on their last attempt. */
const SPENT_LOOK_MS = 1_000;

/**
 * The store on PostgreSQL, for several gateway instances on one database. Appends are
 * group-committed (append.ts); claims use FOR UPDATE SKIP LOCKED (claim.ts); new events are
 * announced with NOTIFY; a portal's lock is an advisory lock.
 */
export class PgStore extends SqlStore {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  /**
   * The worker's connections: its commits (claims, finishes, statuses, the connector state) are not
   * waited on to reach the disk. A crash of the server can undo the last few; their events are
   * then claimed and run again (at least once), as on SQLite's worker connection.
   */
  readonly workPool: pg.Pool;
  readonly ready: Promise<void>;
  /** How many migrations opening the store applied, of how many there are. */
  readonly migrated: Promise<{ applied: number; total: number }>;
  private queue: Pending[] = [];
  private flushing = false;
  private closed = false;
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly waitMs: number;

  constructor(
    readonly url: string,
    options: PgStoreOptions = {},
  ) {
    const box = new SecretBox(options.secretKey);
    const pool = openPool(url, options.poolSize);
    const migrated = migrateOnce(pool, migratePg);
    const ready = migrated.then(async () =>
      checkSecretKey(box, (await pool.query<SampleSecret>(sampleSecretSql)).rows[0]),
    );
    // Reported by whoever awaits it, never as an unhandled rejection.
    ready.catch(() => undefined);
    const waitMs = options.waitMs ?? DEFAULT_STORE_WAIT_MS;
    const workPool = openPool(url, options.poolSize, true);
    super(postgres, box, new PgRunner(pool, ready, waitMs), new PgRunner(workPool, ready, waitMs));
    this.pool = pool;
    this.workPool = workPool;
    this.ready = ready;
    this.migrated = ready.then(async () => ({ applied: await migrated, total: pgMigrations.length }));
    this.migrated.catch(() => undefined);
    this.waitMs = waitMs;
    // Claims of a dead gateway process of this machine are taken back at once; other machines' run out.
    ready.then(() => this.endLeasesOfDeadOwners()).catch(() => undefined);
  }

  /** The schema is ready, or the database is away: B24GW_STORE_UNAVAILABLE after the store wait. */
  private untilReady(): Promise<void> {
    return readyWithin(this.ready, this.waitMs);
  }

  /** A transaction, run again from the start while the database is away (see run.ts `retrying`). */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>, pool = this.pool): Promise<T> {
    await this.untilReady();
    return retrying(this.waitMs, () => inTransaction(pool, 'BEGIN', fn));
  }

  append(event: NewEvent, change?: PortalChange): Promise<AppendResult> {
    if (this.closed)
      return Promise.reject(new GatewayError('B24GW_STORE_CLOSED', 'The store is closed: no more events are taken'));
    return new Promise((resolve, reject) => {
      this.queue.push({ event, change, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** While one commit is in flight the queue grows; the next commit takes all of it. */
  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      // commit() settles every event itself; should it ever throw, the batch is refused, never left waiting.
      await this.commit(batch).catch((e: unknown) => {
        const error = new GatewayError('B24GW_STORE_FAILED', 'Event could not be stored; it was not accepted', {
          cause: e,
        });
        for (const p of batch) p.reject(error);
      });
    }
    this.flushing = false;
  }

  /** The batch in one transaction; when that fails, each row in its own, so that one bad row fails only itself. */
  private async commit(batch: Pending[]): Promise<void> {
    const failed = (e: unknown) =>
      e instanceof GatewayError
        ? e
        : new GatewayError('B24GW_STORE_FAILED', 'Event could not be stored; it was not accepted', { cause: e });
    let results: AppendResult[] | undefined;
    try {
      results = await this.tx((c) => writeBatch(c, batch, this.box));
    } catch (e) {
      // The database stayed away longer than events may be held: none of them is taken.
      if (isGatewayError(e) && e.code === 'B24GW_STORE_UNAVAILABLE') return batch.forEach((p) => p.reject(e));
      if (e === IN_ORDER) results = await this.tx((c) => writeEach(c, batch, this.box)).catch(() => undefined);
      else if (batch.length === 1) return batch[0]!.reject(failed(e));
    }
    if (results) return batch.forEach((p, i) => p.resolve(results[i]!));
    for (const p of batch) {
      try {
        p.resolve((await this.tx((c) => writeEach(c, [p], this.box)))[0]!);
      } catch (e) {
        p.reject(failed(e));
      }
    }
  }

  /** When this store last looked for spent events (see claim). */
  private spentLookedAt = -Infinity;

  async claim(owner: string, now: number, leaseMs: number, limit: number, maxAttempts: number): Promise<StoredEvent[]> {
    await this.untilReady();
    // Spent events are found through the index of statuses, which the queue's churn fills with dead
    // entries between vacuums: a look cost about as much as the claim itself. A lease runs out no
    // sooner than leaseMs after it was taken, so a look per lease (at most a second apart, and when
    // the clock went back) finds a spent event soon after its lease ran out.
    const lookForSpent = now - this.spentLookedAt >= Math.min(SPENT_LOOK_MS, leaseMs) || now < this.spentLookedAt;
    if (lookForSpent) this.spentLookedAt = now;
    return retrying(this.waitMs, () =>
      claimEvents(this.workPool, this.box, owner, now, leaseMs, limit, maxAttempts, lookForSpent),
    );
  }

  override async finish(id: number, owner: string, outcome: Outcome, now: number): Promise<boolean> {
    await this.untilReady();
    return retrying(this.waitMs, () => finishEvent(this.workPool, id, owner, outcome, now));
  }

  override async requeue(ids: readonly number[]): Promise<number> {
    const n = await super.requeue(ids);
    if (n > 0) await this.pool.query(`NOTIFY ${CHANNEL}`).catch(() => undefined);
    return n;
  }

  /**
   * A session-level advisory lock per portal, held on one connection while `fn` runs. Taking it
   * waits for the database as any work does. If the session dies meanwhile (a restart), the server
   * has released the lock: the connection is dropped, and `fn`'s outcome stands.
   */
  async withPortalLock<T>(memberId: string, fn: () => Promise<T>): Promise<T> {
    await this.untilReady();
    const key = `b24gw:portal:${memberId}`;
    const client = await retrying(this.waitMs, async () => {
      const c = await this.pool.connect();
      try {
        await c.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
        return c;
      } catch (e) {
        c.release(e as Error);
        throw e;
      }
    });
    let broken: Error | undefined;
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch((e: Error) => (broken = e));
      client.release(broken);
    }
  }

  /**
   * Calls `wake` whenever any instance stores or requeues events (LISTEN/NOTIFY). A lost
   * connection is opened again (each second while the database is away), and `wake` is called
   * once it is back, for what was announced meanwhile; polling finds the work in between.
   */
  async onNewEvents(wake: () => void): Promise<() => void> {
    await this.untilReady();
    this.listeners.add(wake);
    await (this.listening ??= this.listen());
    return () => this.listeners.delete(wake);
  }

  protected async announce(): Promise<void> {
    await this.pool.query(`NOTIFY ${CHANNEL}`);
  }

  private async listen(): Promise<void> {
    const client = new (pgDriver().Client)({ connectionString: this.url, connectionTimeoutMillis: 5_000 });
    const lost = () => {
      if (this.listener !== client && this.listener !== undefined) return;
      this.listener = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.closed || this.relisten) return;
      this.relisten = setTimeout(() => {
        this.relisten = undefined;
        if (this.closed) return;
        this.listening = this.listen().then(
          () => this.listeners.forEach((l) => l()),
          () => lost(),
        );
      }, 1_000).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => this.listeners.forEach((l) => l()));
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      lost();
      throw e;
    }
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.untilReady();
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing || this.queue.length > 0) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    clearTimeout(this.relisten);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    // Not waiting for the schema: while the database is away it may never be ready. A migration
    // under way keeps its connection until it ends; one not started yet will not start.
    await Promise.all([this.pool.end(), this.workPool.end()]);
  }
}
