import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { AppendResult, NewEvent, PortalChange } from '../types.js';

const sql = {
  insert: `
    INSERT INTO events (dedup_key, member_id, code, known, status, handler_id, ts, order_key, received_at, event, raw_body, content_type, last_error)
    VALUES (@dedupKey, @memberId, @code, @known, @status, @handlerId, @ts, @orderKey, @receivedAt, @event, @rawBody, @contentType, @error)
    ON CONFLICT (dedup_key) DO NOTHING`,
  duplicate: 'UPDATE events SET duplicates = duplicates + 1 WHERE dedup_key = ? RETURNING id',
  upsertPortal: `
    INSERT INTO portals (member_id, domain, application_token, access_token, refresh_token, expires_at, client_endpoint, server_endpoint, scope, status, installed_at, uninstalled_at, updated_at)
    VALUES (@memberId, @domain, @applicationToken, @accessToken, @refreshToken, @expiresAt, @clientEndpoint, @serverEndpoint, @scope, @status, @installedAt, @uninstalledAt, @updatedAt)
    ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain, application_token = excluded.application_token,
      access_token = excluded.access_token, refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
      client_endpoint = excluded.client_endpoint, server_endpoint = excluded.server_endpoint, scope = excluded.scope,
      status = excluded.status, installed_at = excluded.installed_at, uninstalled_at = NULL, updated_at = excluded.updated_at`,
  erasePortal: `
    UPDATE portals SET application_token = NULL, access_token = NULL, refresh_token = NULL, expires_at = NULL,
      uninstalled_at = ?, updated_at = ? WHERE member_id = ?`,
};

/**
 * The writer thread, as plain JavaScript so it runs the same from the build and from tests.
 * Each message is one batch: one transaction, one sync.
 */
const writerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('busy_timeout = 5000');
const s = {};
for (const [name, text] of Object.entries(workerData.sql)) s[name] = db.prepare(text);
s.duplicate.pluck();
const write = (p) => {
  const info = s.insert.run(Object.assign({}, p.event, { known: p.event.known ? 1 : 0 }));
  if (info.changes === 0) return { id: s.duplicate.get(p.event.dedupKey), duplicate: true };
  if (p.change && p.change.kind === 'install') s.upsertPortal.run(p.change.portal);
  if (p.change && p.change.kind === 'uninstall') s.erasePortal.run(p.change.at, p.change.at, p.change.memberId);
  return { id: Number(info.lastInsertRowid), duplicate: false };
};
const commit = db.transaction((batch) => batch.map(write));
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  try { parentPort.postMessage({ results: commit(m) }); }
  catch (e) { parentPort.postMessage({ error: String(e && e.message || e) }); }
});
`;

interface Pending {
  event: NewEvent;
  change: PortalChange | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Commits appends on a thread of its own, so the sync and the index updates never stop the
 * event loop. While one batch commits, the next gathers: group commit with no timer.
 */
export class Appender {
  private readonly worker: Worker;
  private queue: Pending[] = [];
  private inFlight: Pending[] | undefined;
  private broken: Error | undefined;
  private drained: (() => void) | undefined;

  constructor(file: string, synchronous: 'FULL' | 'NORMAL') {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(writerSource, { eval: true, workerData: { file, synchronous, driver, sql } });
    this.worker.unref();
    this.worker.on('message', (m: { results?: AppendResult[]; error?: string }) => this.done(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', () => this.fail(new Error('the SQLite writer thread stopped')));
  }

  append(event: NewEvent, change?: PortalChange): Promise<AppendResult> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ event, change, resolve, reject });
      if (!this.inFlight) this.send();
    });
  }

  /** The thread keeps the process alive only while it has work: an idle store must not. */
  private send(): void {
    if (this.queue.length === 0) {
      this.worker.unref();
      this.drained?.();
      return;
    }
    this.worker.ref();
    this.inFlight = this.queue;
    this.queue = [];
    this.worker.postMessage(this.inFlight.map(({ event, change }) => ({ event, change })));
  }

  private done(m: { results?: AppendResult[]; error?: string }): void {
    const batch = this.inFlight ?? [];
    this.inFlight = undefined;
    if (m.results) batch.forEach((p, i) => p.resolve(m.results![i]!));
    else for (const p of batch) p.reject(new Error(m.error));
    this.send();
  }

  private fail(e: Error): void {
    if (this.broken) return;
    this.broken = e;
    for (const p of [...(this.inFlight ?? []), ...this.queue]) p.reject(e);
    this.inFlight = undefined;
    this.queue = [];
    this.drained?.();
  }

  /** Waits for what was appended, then stops the thread. */
  async close(): Promise<void> {
    if (this.inFlight || this.queue.length > 0) await new Promise<void>((r) => (this.drained = r));
    if (this.broken) return;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.ref();
    this.broken = new Error('store is closed');
    this.worker.postMessage('close');
    await exited;
  }
}
