import pg from 'pg';
import { GatewayError } from '../../errors.js';
import { checkSecretKey, sampleSecretSql, SecretBox, type SampleSecret } from '../secret-box.js';
import { SqlStore } from '../sql-store.js';
import type { AppendResult, NewEvent, Outcome, PortalChange, StoredEvent } from '../types.js';
import { CHANNEL, IN_ORDER, writeBatch, writeEach, type Pending } from './append.js';
import { claimEvents, finishEvent } from './claim.js';
import { postgres } from './dialect.js';
import { migratePg, pgMigrations } from './migrations.js';
import { inTransaction, migrateOnce, openPool, PgRunner } from './run.js';

export interface PgStoreOptions {
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** 32 bytes (or their hex or base64): OAuth tokens and events' secrets are then kept encrypted (AES-256-GCM). */
  secretKey?: string | Uint8Array | undefined;
}

/**
 * The store on PostgreSQL, for several gateway instances on one database. Appends are
 * group-committed (append.ts); claims use FOR UPDATE SKIP LOCKED (claim.ts); new events are
 * announced with NOTIFY; a portal's lock is an advisory lock.
 */
export class PgStore extends SqlStore {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly ready: Promise<void>;
  /** How many migrations opening the store applied, of how many there are. */
  readonly migrated: Promise<{ applied: number; total: number }>;
  private queue: Pending[] = [];
  private flushing = false;
  private closed = false;
  private listener: pg.Client | undefined;
  private readonly listeners = new Set<() => void>();

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
    const runner = new PgRunner(pool, ready);
    super(postgres, box, runner, runner);
    this.pool = pool;
    this.ready = ready;
    this.migrated = ready.then(async () => ({ applied: await migrated, total: pgMigrations.length }));
    this.migrated.catch(() => undefined);
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready;
    return inTransaction(this.pool, 'BEGIN', fn);
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
      await this.commit(batch);
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

  async claim(owner: string, now: number, leaseMs: number, limit: number, maxAttempts: number): Promise<StoredEvent[]> {
    return this.tx((c) => claimEvents(c, this.box, owner, now, leaseMs, limit, maxAttempts));
  }

  override async finish(id: number, owner: string, outcome: Outcome, now: number): Promise<boolean> {
    await this.ready;
    return finishEvent(this.pool, id, owner, outcome, now);
  }

  override async requeue(ids: readonly number[]): Promise<number> {
    const n = await super.requeue(ids);
    if (n > 0) await this.pool.query(`NOTIFY ${CHANNEL}`);
    return n;
  }

  /** A session-level advisory lock per portal, held on one connection while `fn` runs. */
  async withPortalLock<T>(memberId: string, fn: () => Promise<T>): Promise<T> {
    await this.ready;
    const client = await this.pool.connect();
    const key = `b24gw:portal:${memberId}`;
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
      }
    } finally {
      client.release();
    }
  }

  /** Calls `wake` whenever any instance stores or requeues events (LISTEN/NOTIFY). */
  async onNewEvents(wake: () => void): Promise<() => void> {
    await this.ready;
    this.listeners.add(wake);
    if (!this.listener) {
      this.listener = new pg.Client({ connectionString: this.url });
      this.listener.on('notification', () => this.listeners.forEach((l) => l()));
      this.listener.on('error', () => {
        // Polling still finds the work; the next subscribe reconnects.
        this.listener = undefined;
      });
      await this.listener.connect();
      await this.listener.query(`LISTEN ${CHANNEL}`);
    }
    return () => this.listeners.delete(wake);
  }

  protected async announce(): Promise<void> {
    await this.pool.query(`NOTIFY ${CHANNEL}`);
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.ready;
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
    await this.listener?.end().catch(() => undefined);
    await this.ready.catch(() => undefined);
    await this.pool.end();
  }
}
