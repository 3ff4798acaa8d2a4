import Database from 'better-sqlite3';
import type {
  AppendResult,
  Attempt,
  NewStatus,
  PendingStatus,
  Outcome,
  PortalTokens,
  EventQuery,
  EventStatus,
  NewEvent,
  PortalChange,
  PortalRecord,
  PruneQuery,
  Store,
  StoredEvent,
} from '../types.js';
import { GatewayError } from '../../errors.js';
import { lapsedAttempt, spentByLapses, statusSpentByLapse } from '../lapsed.js';
import type { Logger } from '../../log.js';
import { EVENT_TABLES, finishedOnly } from '../prune.js';
import { eventFilter } from '../query.js';
import { Appender } from './appender.js';
import { prepareDbFile } from './file.js';
import { migrate } from './migrations.js';
import { attemptFromRow, claimedFromRow, eventFromRow, portalFromRow, type AttemptRow, type EventRow, type PortalRow } from '../rows.js';
import { SecretBox, checkSecretKey, sampleSecretSql, type SampleSecret } from '../secret-box.js';

/**
 * Pruning: finished events by status and age through events_finished (whose condition the query
 * repeats, so SQLite may use it), skipping those whose delivery statuses still wait to be sent.
 */
const PRUNABLE = `
  FROM events INDEXED BY events_finished
  WHERE status IN ('done', 'invalid', 'dead') AND status IN (SELECT value FROM json_each(@statuses)) AND received_at < @before
    AND NOT EXISTS (SELECT 1 FROM status_outbox s WHERE s.event_id = events.id AND s.status IN ('pending', 'sending'))`;

function pruneStatements(db: Database.Database) {
  return {
    prunable: db.prepare(`SELECT COUNT(*) ${PRUNABLE}`).pluck(),
    pruneIds: db.prepare(`SELECT id ${PRUNABLE} LIMIT @limit`).pluck(),
    pruneRows: EVENT_TABLES.map((table) => db.prepare(`DELETE FROM ${table} WHERE event_id IN (SELECT value FROM json_each(?))`)),
    pruneEvents: db.prepare('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))'),
  };
}

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

/**
 * The embedded store: one SQLite file in WAL mode. Appends go to a writer thread, and those
 * that arrive while a commit is under way share the next one (group commit), so a burst
 * costs one sync, not one per event.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  /** Reads, tokens and replays, every commit synced (FULL). Appends go through the writer thread's own connection. */
  readonly db: Database.Database;
  /**
   * The worker's connection (synchronous NORMAL): its commits survive a crash of the process,
   * and a power cut can only undo the last few, which then run again (at-least-once).
   * Tokens and replays stay on the synced connection.
   */
  readonly workDb: Database.Database;
  /** Started on the first append: a store that only processes (a worker) needs no writer thread. */
  private appender: Appender | undefined;
  private readonly synchronous: 'FULL' | 'NORMAL';
  private readonly box: SecretBox;
  private closed = false;
  private readonly stmts;

  constructor(readonly file: string, options: SqliteStoreOptions = {}) {
    // Three connections (intake writer thread, intake reads, worker) must see one database.
    if (file === ':memory:' || file === '') throw new GatewayError('B24GW_BAD_CONFIG', 'The SQLite store needs a file path, not an in-memory database');
    this.box = new SecretBox(options.secretKey);
    prepareDbFile(file, options.logger);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.synchronous = options.synchronous ?? 'FULL';
    this.db.pragma(`synchronous = ${this.synchronous}`);
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    try {
      checkSecretKey(this.box, this.db.prepare(sampleSecretSql).get() as SampleSecret | undefined);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.workDb = new Database(file);
    this.workDb.pragma('synchronous = NORMAL');
    this.workDb.pragma('busy_timeout = 5000');
    // Each commit of the intake empties the other connections' page caches, so every transaction of
    // the worker read its pages again with a system call each. Mapped, the file's pages are read in
    // place: under intake load the worker thread's system time fell from 300-330 to 131-140 µs an
    // event, and serve took 1,485-1,598 events/s at 10 connections against 1,185-1,280.
    for (const db of [this.db, this.workDb]) db.pragma(`mmap_size = ${MMAP_BYTES}`);
    this.stmts = {
      getPortal: this.db.prepare('SELECT * FROM portals WHERE member_id = ?'),
      listPortals: this.db.prepare('SELECT * FROM portals ORDER BY member_id'),
      getEvent: this.db.prepare('SELECT * FROM events WHERE id = ?'),
      counts: this.db.prepare('SELECT status, COUNT(*) AS n FROM events GROUP BY status'),
      // Through events_status, one range per status listed: never the rows of the others.
      countSome: this.db.prepare('SELECT status, COUNT(*) AS n FROM events WHERE status IN (SELECT value FROM json_each(?)) GROUP BY status'),
      saveTokens: this.db.prepare(`
        UPDATE portals SET access_token = @accessToken, refresh_token = @refreshToken, expires_at = @expiresAt,
          client_endpoint = COALESCE(@clientEndpoint, client_endpoint), server_endpoint = COALESCE(@serverEndpoint, server_endpoint),
          updated_at = @now WHERE member_id = @memberId`),
      // Only the head of each chat can run. The heads are found by skipping from key to key through
      // the partial index (a seek per chat), never by stepping over the events queued behind them.
      runnableHeads: this.workDb.prepare(`
        WITH RECURSIVE keys(k) AS (
          SELECT MIN(order_key) FROM events INDEXED BY events_open_order WHERE status IN ('pending', 'retry', 'processing') AND order_key IS NOT NULL
          UNION ALL
          SELECT (SELECT MIN(order_key) FROM events INDEXED BY events_open_order
                  WHERE status IN ('pending', 'retry', 'processing') AND order_key > keys.k)
          FROM keys WHERE keys.k IS NOT NULL)
        SELECT e.* FROM keys JOIN events e ON e.id = (
          SELECT id FROM events INDEXED BY events_open_order
          WHERE order_key = keys.k AND status IN ('pending', 'retry', 'processing') ORDER BY id LIMIT 1)
        WHERE (e.status <> 'processing' OR e.lease_until <= @now) AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= @now)
        ORDER BY e.id LIMIT @limit`),
      runnableFree: this.workDb.prepare(`
        SELECT * FROM events INDEXED BY events_open_free
        WHERE order_key IS NULL AND status IN ('pending', 'retry', 'processing')
          AND (status <> 'processing' OR lease_until <= @now) AND (next_attempt_at IS NULL OR next_attempt_at <= @now)
        ORDER BY id LIMIT @limit`),
      lease: this.workDb.prepare(`
        UPDATE events SET status = 'processing', lease_owner = @owner, lease_until = @until, attempts = attempts + 1
        WHERE id = @id RETURNING attempts`),
      // Leases that ran out after the last attempt: the process died (or stalled) during it, each time.
      spent: this.workDb.prepare(`
        SELECT id, attempts, (SELECT COUNT(*) FROM event_attempts a WHERE a.event_id = e.id AND a.attempt <= e.attempts AND (a.finished_at IS NULL OR a.error = @lapsed)) AS lapsed
        FROM events e WHERE status = 'processing' AND lease_until <= @now AND attempts >= @max`),
      kill: this.workDb.prepare("UPDATE events SET status = 'dead', last_error = @error, lease_owner = NULL, lease_until = NULL WHERE id = @id"),
      renew: this.workDb.prepare("UPDATE events SET lease_until = @until WHERE id = @id AND lease_owner = @owner AND status = 'processing'"),
      startAttempt: this.workDb.prepare('INSERT OR REPLACE INTO event_attempts (event_id, attempt, owner, started_at) VALUES (?, ?, ?, ?)'),
      finish: this.workDb.prepare(`
        UPDATE events SET status = @status, next_attempt_at = @retryAt, last_error = @error, lease_owner = NULL, lease_until = NULL,
          processed_at = CASE WHEN @status = 'done' THEN @now ELSE processed_at END
        WHERE id = @id AND lease_owner = @owner AND status = 'processing' RETURNING attempts`),
      endAttempt: this.workDb.prepare('UPDATE event_attempts SET finished_at = ?, ok = ?, error = ? WHERE event_id = ? AND attempt = ?'),
      attempts: this.workDb.prepare('SELECT * FROM event_attempts WHERE event_id = ? ORDER BY attempt'),
      secrets: this.workDb.prepare('SELECT data FROM event_secrets WHERE event_id = ?'),
      eraseSecrets: this.workDb.prepare('DELETE FROM event_secrets WHERE event_id = ?'),
      enqueueStatus: this.workDb.prepare('INSERT INTO status_outbox (member_id, connector, line, item, event_id) VALUES (@memberId, @connector, @line, @item, @eventId)'),
      dueStatuses: this.workDb.prepare(`
        SELECT id FROM status_outbox
        WHERE (status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= @now)) OR (status = 'sending' AND lease_until <= @now)
        ORDER BY id LIMIT @limit`),
      killStatuses: this.workDb.prepare(`
        UPDATE status_outbox SET status = 'dead', last_error = @error, lease_owner = NULL, lease_until = NULL
        WHERE status = 'sending' AND lease_until <= @now AND attempts >= @max`),
      leaseStatus: this.workDb.prepare(`
        UPDATE status_outbox SET status = 'sending', lease_owner = @owner, lease_until = @until, attempts = attempts + 1 WHERE id = @id
        RETURNING id, member_id AS memberId, connector, line, item, event_id AS eventId, attempts`),
      finishStatus: this.workDb.prepare(`
        UPDATE status_outbox SET status = @status, next_attempt_at = @retryAt, last_error = @error, lease_owner = NULL, lease_until = NULL
        WHERE id = @id AND lease_owner = @owner AND status = 'sending'`),
      statusCounts: this.workDb.prepare("SELECT status, COUNT(*) AS n FROM status_outbox WHERE status <> 'sending' GROUP BY status"),
      requeue: this.db.prepare(`
        UPDATE events SET status = 'pending', attempts = 0, next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL
        WHERE id = ? AND status IN ('dead', 'retry', 'done', 'pending')`),
      ...pruneStatements(this.workDb),
    };
    // These return one column: plucked once here, not on every call.
    for (const one of [this.stmts.lease, this.stmts.finish, this.stmts.dueStatuses, this.stmts.secrets]) one.pluck();
  }

  append(event: NewEvent, change?: PortalChange): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    this.appender ??= new Appender(this.file, this.synchronous, this.box);
    return this.appender.append(event, change);
  }

  async savePortalTokens(memberId: string, t: PortalTokens): Promise<void> {
    this.stmts.saveTokens.run({
      clientEndpoint: null,
      serverEndpoint: null,
      ...t,
      accessToken: this.box.seal(t.accessToken, 'portals.access_token', memberId),
      refreshToken: this.box.seal(t.refreshToken, 'portals.refresh_token', memberId),
      memberId,
      now: Date.now(),
    });
  }

  async claim(owner: string, now: number, leaseMs: number, limit: number, maxAttempts: number): Promise<StoredEvent[]> {
    return this.workDb
      .transaction(() => {
        // First, so that a chat held by a spent event is free for this very claim.
        for (const s of this.stmts.spent.all({ now, max: maxAttempts, lapsed: lapsedAttempt }) as { id: number; attempts: number; lapsed: number }[]) {
          const error = spentByLapses(s.attempts, s.lapsed);
          this.stmts.kill.run({ id: s.id, error });
          this.stmts.eraseSecrets.run(s.id);
          this.stmts.endAttempt.run(now, 0, error, s.id, s.attempts);
        }
        const rows = [...(this.stmts.runnableHeads.all({ now, limit }) as EventRow[]), ...(this.stmts.runnableFree.all({ now, limit }) as EventRow[])]
          .sort((a, b) => a.id - b.id)
          .slice(0, limit);
        return rows.map((row) => {
          if (row.status === 'processing') this.stmts.endAttempt.run(now, 0, lapsedAttempt, row.id, row.attempts);
          const attempts = this.stmts.lease.get({ id: row.id, owner, until: now + leaseMs }) as number;
          this.stmts.startAttempt.run(row.id, attempts, owner, now);
          const secrets = (this.stmts.secrets.get(row.id) as string | undefined) ?? null;
          return claimedFromRow({ ...row, status: 'processing', attempts, secrets }, this.box);
        });
      })
      .immediate();
  }

  async renewLeases(ids: readonly number[], owner: string, until: number): Promise<number[]> {
    return this.workDb.transaction(() => ids.filter((id) => this.stmts.renew.run({ id, owner, until }).changes === 1)).immediate();
  }

  async finish(id: number, owner: string, outcome: Outcome, now: number): Promise<boolean> {
    return this.workDb
      .transaction(() => {
        const status = outcome.ok ? 'done' : outcome.retryAt === null ? 'dead' : 'retry';
        const error = outcome.ok ? null : outcome.error;
        const retryAt = outcome.ok ? null : outcome.retryAt;
        const attempt = this.stmts.finish.get({ id, owner, status, retryAt, error, now }) as number | undefined;
        if (attempt === undefined) return false;
        this.stmts.endAttempt.run(now, outcome.ok ? 1 : 0, error, id, attempt);
        // A finished event needs its secrets no more (a replay runs without them).
        if (status !== 'retry') this.stmts.eraseSecrets.run(id);
        return true;
      })
      .immediate();
  }

  async attempts(id: number): Promise<Attempt[]> {
    return (this.stmts.attempts.all(id) as AttemptRow[]).map(attemptFromRow);
  }

  async requeue(ids: readonly number[]): Promise<number> {
    return this.db.transaction(() => ids.reduce((n, id) => n + this.stmts.requeue.run(id).changes, 0)).immediate();
  }

  async pruneEvents(q: PruneQuery): Promise<number> {
    const params = { statuses: JSON.stringify(finishedOnly(q.statuses)), before: q.before, limit: q.limit };
    if (q.dryRun) return this.stmts.prunable.get(params) as number;
    return this.workDb
      .transaction(() => {
        const ids = JSON.stringify(this.stmts.pruneIds.all(params));
        for (const remove of this.stmts.pruneRows) remove.run(ids);
        return this.stmts.pruneEvents.run(ids).changes;
      })
      .immediate();
  }

  async enqueueStatuses(statuses: readonly NewStatus[]): Promise<void> {
    this.workDb.transaction(() => statuses.forEach((s) => this.stmts.enqueueStatus.run(s)))();
  }

  async claimStatuses(owner: string, now: number, leaseMs: number, limit: number, maxAttempts: number): Promise<PendingStatus[]> {
    return this.workDb
      .transaction(() => {
        this.stmts.killStatuses.run({ now, max: maxAttempts, error: statusSpentByLapse });
        return (this.stmts.dueStatuses.all({ now, limit }) as number[]).map((id) => this.stmts.leaseStatus.get({ id, owner, until: now + leaseMs }) as PendingStatus);
      })
      .immediate();
  }

  async finishStatuses(ids: readonly number[], owner: string, outcome: Outcome, _now: number): Promise<void> {
    const status = outcome.ok ? 'sent' : outcome.retryAt === null ? 'dead' : 'pending';
    const params = { owner, status, retryAt: outcome.ok ? null : outcome.retryAt, error: outcome.ok ? null : outcome.error };
    this.workDb.transaction(() => ids.forEach((id) => this.stmts.finishStatus.run({ ...params, id })))();
  }

  async countStatuses(): Promise<{ pending: number; sent: number; dead: number }> {
    const counts = { pending: 0, sent: 0, dead: 0 };
    for (const r of this.stmts.statusCounts.all() as { status: keyof typeof counts; n: number }[]) counts[r.status] = r.n;
    return counts;
  }

  async getEvent(id: number): Promise<StoredEvent | undefined> {
    const row = this.stmts.getEvent.get(id) as EventRow | undefined;
    return row && eventFromRow(row);
  }

  async listEvents(q: EventQuery = {}): Promise<StoredEvent[]> {
    const { where, params } = eventFilter(q);
    const rows = this.db.prepare(`SELECT * FROM events ${where} ORDER BY id LIMIT ?`).all(...params, q.limit ?? -1) as EventRow[];
    return rows.map(eventFromRow);
  }

  async countEvents<S extends EventStatus = EventStatus>(statuses?: readonly S[]): Promise<Record<S, number>> {
    const all: readonly EventStatus[] = statuses ?? ['pending', 'invalid', 'processing', 'retry', 'done', 'dead'];
    const counts = Object.fromEntries(all.map((s) => [s, 0])) as Record<S, number>;
    const rows = (statuses ? this.stmts.countSome.all(JSON.stringify(statuses)) : this.stmts.counts.all()) as { status: S; n: number }[];
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  async getPortal(memberId: string): Promise<PortalRecord | undefined> {
    const row = this.stmts.getPortal.get(memberId) as PortalRow | undefined;
    return row && portalFromRow(row, this.box);
  }

  async listPortals(): Promise<PortalRecord[]> {
    return (this.stmts.listPortals.all() as PortalRow[]).map((r) => portalFromRow(r, this.box));
  }

  async ping(): Promise<boolean> {
    return !this.closed && this.db.open;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.appender?.close();
    this.workDb.close();
    this.db.close();
  }
}
