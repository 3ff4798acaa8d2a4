import Database from 'better-sqlite3';
import { GatewayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { SecretBox, checkSecretKey, sampleSecretSql, type SampleSecret } from '../secret-box.js';
import { SqlStore } from '../sql-store.js';
import type { AppendResult, NewEvent, PortalChange, StoredEvent } from '../types.js';
import { Appender } from './appender.js';
import { claimEvents } from './claim.js';
import { sqlite } from './dialect.js';
import { prepareDbFile } from './file.js';
import { announceLocal, fileKey, listenLocal, withLocalLock } from './local.js';
import { migrate, migrations } from './migrations.js';
import { SqliteRunner } from './run.js';

/** The write-ahead log's length, in pages, past which the worker's connection checkpoints it. */
export const WORKER_CHECKPOINT_PAGES = 10_000;

/** How much of the file the read connections map (address space, not memory). */
const MMAP_BYTES = 256 * 1024 * 1024;

export interface SqliteStoreOptions {
  /** `FULL` (default) syncs every commit to disk: an answered event survives a power cut, not only a crash. */
  synchronous?: 'FULL' | 'NORMAL';
  /** Warns here when an existing database file is open to other users. */
  logger?: Logger;
  /** 32 bytes (or their hex or base64): OAuth tokens and events' secrets are then kept encrypted (AES-256-GCM). */
  secretKey?: string | Uint8Array | undefined;
}

function open(file: string, synchronous: 'FULL' | 'NORMAL'): Database.Database {
  const db = new Database(file);
  // The wait first: switching a new file to WAL takes a lock another connection may hold.
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  // Each commit of the intake empties the other connections' page caches, so every transaction of
  // the worker read its pages again with a system call each. Mapped, the file's pages are read in place.
  db.pragma(`mmap_size = ${MMAP_BYTES}`);
  return db;
}

/**
 * The embedded store: one SQLite file in WAL mode. Appends go to a writer thread, and those
 * that arrive while a commit is under way share the next one (group commit), so a burst
 * costs one sync, not one per event. What differs from PostgreSQL: the append (appender.ts), the
 * claim (claim.ts), and what keeps instances apart, which within one process is local.ts.
 */
export class SqliteStore extends SqlStore {
  readonly kind = 'sqlite' as const;
  /** How many migrations opening the store applied, of how many there are. */
  readonly migrated: Promise<{ applied: number; total: number }>;
  /** Reads, tokens and replays, every commit synced (FULL). Appends go through the writer thread's own connection. */
  readonly db: Database.Database;
  /**
   * The worker's connection (synchronous NORMAL): its commits survive a crash of the process,
   * and a power cut can only undo the last few, which then run again (at-least-once).
   * Tokens and replays stay on the synced connection. The connector state is kept on it too.
   */
  readonly workDb: Database.Database;
  /** Started on the first append: a store that only processes (a worker) needs no writer thread. */
  private appender: Appender | undefined;
  private readonly synchronous: 'FULL' | 'NORMAL';
  private readonly key: string;
  private readonly runners: readonly SqliteRunner[];
  private closed = false;

  constructor(
    readonly file: string,
    options: SqliteStoreOptions = {},
  ) {
    // Three connections (intake writer thread, intake reads, worker) must see one database.
    if (file === ':memory:' || file === '')
      throw new GatewayError('B24GW_BAD_CONFIG', 'The SQLite store needs a file path, not an in-memory database');
    const box = new SecretBox(options.secretKey);
    prepareDbFile(file, options.logger);
    const synchronous = options.synchronous ?? 'FULL';
    const db = open(file, synchronous);
    let applied: number;
    try {
      applied = migrate(db);
      checkSecretKey(box, db.prepare(sampleSecretSql).get() as SampleSecret | undefined);
    } catch (e) {
      db.close();
      throw e;
    }
    const workDb = open(file, 'NORMAL');
    // A checkpoint syncs the file and held the worker's commits for milliseconds each time it fell
    // to them: the writer thread's and the main connection's commits checkpoint at SQLite's 1,000
    // pages; the worker's only if the log grows ten times that (when nothing else writes).
    workDb.pragma(`wal_autocheckpoint = ${WORKER_CHECKPOINT_PAGES}`);
    const runners = [new SqliteRunner(db), new SqliteRunner(workDb)] as const;
    super(sqlite, box, ...runners);
    this.runners = runners;
    this.migrated = Promise.resolve({ applied, total: migrations.length });
    this.db = db;
    this.workDb = workDb;
    this.synchronous = synchronous;
    this.key = fileKey(file);
    // One machine holds a SQLite file: whatever a dead process of it held is taken back now.
    void this.endLeasesOfDeadOwners().then(
      (dead) => dead.length > 0 && options.logger?.info({ owners: dead }, 'took back the claims of a stopped gateway'),
      (e: unknown) => options.logger?.warn({ err: e }, 'could not look for the claims of a stopped gateway'),
    );
  }

  append(event: NewEvent, change?: PortalChange): Promise<AppendResult> {
    if (this.closed)
      return Promise.reject(new GatewayError('B24GW_STORE_CLOSED', 'The store is closed: no more events are taken'));
    // A writer thread that died failed only the appends it held (answered 5xx): the next append starts another.
    if (this.appender?.failed) this.appender = undefined;
    this.appender ??= new Appender(this.file, this.synchronous, this.box, () => announceLocal(this.key));
    return this.appender.append(event, change);
  }

  claim(owner: string, now: number, leaseMs: number, limit: number, maxAttempts: number): Promise<StoredEvent[]> {
    return this.work.write(claimEvents(this.box, owner, now, leaseMs, limit, maxAttempts));
  }

  override async requeue(ids: readonly number[]): Promise<number> {
    const n = await super.requeue(ids);
    if (n > 0) announceLocal(this.key);
    return n;
  }

  /** One process holds a SQLite file: a lock in memory, shared by this thread's stores on the file. */
  withPortalLock<T>(memberId: string, fn: () => Promise<T>): Promise<T> {
    return withLocalLock(`${this.key}\0${memberId}`, fn);
  }

  async onNewEvents(wake: () => void): Promise<() => void> {
    return listenLocal(this.key, wake);
  }

  protected async announce(): Promise<void> {
    announceLocal(this.key);
  }

  async ping(): Promise<boolean> {
    return !this.closed && this.db.open;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.appender?.close();
    for (const r of this.runners) await r.close();
    this.workDb.close();
    this.db.close();
  }
}
