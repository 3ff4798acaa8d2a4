import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type {
  AppendResult,
  EventQuery,
  EventStatus,
  NewEvent,
  PortalChange,
  PortalRecord,
  Store,
  StoredEvent,
} from '../types.js';
import { migrate } from './migrations.js';
import { eventFromRow, portalFromRow, portalParams, type EventRow, type PortalRow } from './rows.js';

interface Pending {
  event: NewEvent;
  change: PortalChange | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

export interface SqliteStoreOptions {
  /** `FULL` (default) syncs every commit to disk: an answered event survives a power cut, not only a crash. */
  synchronous?: 'FULL' | 'NORMAL';
}

/**
 * The embedded store: one SQLite file in WAL mode. Appends that arrive while a commit
 * is being prepared share it (group commit), so a burst costs one sync, not one per event.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
  private readonly stmts;

  constructor(readonly file: string, options: SqliteStoreOptions = {}) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    this.stmts = {
      insert: this.db.prepare(`
        INSERT INTO events (dedup_key, member_id, code, known, status, handler_id, ts, order_key, received_at, event, raw_body, content_type, last_error)
        VALUES (@dedupKey, @memberId, @code, @known, @status, @handlerId, @ts, @orderKey, @receivedAt, @event, @rawBody, @contentType, @error)
        ON CONFLICT (dedup_key) DO NOTHING`),
      duplicate: this.db.prepare('UPDATE events SET duplicates = duplicates + 1 WHERE dedup_key = ? RETURNING id'),
      upsertPortal: this.db.prepare(`
        INSERT INTO portals (member_id, domain, application_token, access_token, refresh_token, expires_at, client_endpoint, server_endpoint, scope, status, installed_at, uninstalled_at, updated_at)
        VALUES (@memberId, @domain, @applicationToken, @accessToken, @refreshToken, @expiresAt, @clientEndpoint, @serverEndpoint, @scope, @status, @installedAt, @uninstalledAt, @updatedAt)
        ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain, application_token = excluded.application_token,
          access_token = excluded.access_token, refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
          client_endpoint = excluded.client_endpoint, server_endpoint = excluded.server_endpoint, scope = excluded.scope,
          status = excluded.status, installed_at = excluded.installed_at, uninstalled_at = NULL, updated_at = excluded.updated_at`),
      erasePortal: this.db.prepare(`
        UPDATE portals SET application_token = NULL, access_token = NULL, refresh_token = NULL, expires_at = NULL,
          uninstalled_at = ?, updated_at = ? WHERE member_id = ?`),
      getPortal: this.db.prepare('SELECT * FROM portals WHERE member_id = ?'),
      listPortals: this.db.prepare('SELECT * FROM portals ORDER BY member_id'),
      getEvent: this.db.prepare('SELECT * FROM events WHERE id = ?'),
      counts: this.db.prepare('SELECT status, COUNT(*) AS n FROM events GROUP BY status'),
    };
  }

  append(event: NewEvent, change?: PortalChange): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ event, change, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits everything queued in one transaction: one sync for the whole batch. */
  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    if (batch.length === 0) return;
    let results: AppendResult[];
    try {
      results = this.db.transaction(() => batch.map((p) => this.write(p)))();
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]!));
  }

  private write({ event, change }: Pending): AppendResult {
    const info = this.stmts.insert.run({ ...event, known: event.known ? 1 : 0 });
    if (info.changes === 0) {
      const id = this.stmts.duplicate.pluck().get(event.dedupKey) as number;
      return { id, duplicate: true };
    }
    if (change?.kind === 'install') this.stmts.upsertPortal.run(portalParams(change.portal));
    if (change?.kind === 'uninstall') this.stmts.erasePortal.run(change.at, change.at, change.memberId);
    return { id: Number(info.lastInsertRowid), duplicate: false };
  }

  async getEvent(id: number): Promise<StoredEvent | undefined> {
    const row = this.stmts.getEvent.get(id) as EventRow | undefined;
    return row && eventFromRow(row);
  }

  async listEvents(q: EventQuery = {}): Promise<StoredEvent[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (sql: string, v: string | number | undefined) => {
      if (v === undefined) return;
      where.push(sql);
      params.push(v);
    };
    add('status = ?', q.status);
    add('member_id = ?', q.memberId);
    add('code = ?', q.code);
    add('id > ?', q.afterId);
    add('received_at >= ?', q.since);
    add('received_at < ?', q.until);
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit ?? -1) as EventRow[];
    return rows.map(eventFromRow);
  }

  async countEvents(): Promise<Record<EventStatus, number>> {
    const counts: Record<EventStatus, number> = { pending: 0, invalid: 0, processing: 0, retry: 0, done: 0, dead: 0 };
    for (const r of this.stmts.counts.all() as { status: EventStatus; n: number }[]) counts[r.status] = r.n;
    return counts;
  }

  async getPortal(memberId: string): Promise<PortalRecord | undefined> {
    const row = this.stmts.getPortal.get(memberId) as PortalRow | undefined;
    return row && portalFromRow(row);
  }

  async listPortals(): Promise<PortalRecord[]> {
    return (this.stmts.listPortals.all() as PortalRow[]).map(portalFromRow);
  }

  async ping(): Promise<boolean> {
    return !this.closed && this.db.open;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }
}
