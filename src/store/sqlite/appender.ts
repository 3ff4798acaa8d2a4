import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { TickBatch } from '../../tick-batch.js';
import type { AppendResult, NewEvent, PortalChange } from '../types.js';

const sql = {
  insert: `
    INSERT INTO events (dedup_key, member_id, code, known, status, handler_id, ts, order_key, received_at, event, raw_body, content_type, last_error)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
 * It takes every batch already waiting on its port into one transaction: one sync for all,
 * and the longer a commit takes, the more the next one carries.
 */
const writerSource = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = ' + workerData.synchronous);
// No sleeping busy handler here: SQLite's sleeps 1 ms and more per try, and lost the lock to a busy
// worker again and again. The writer retries every 0.2 ms instead, so the intake goes first.
db.pragma('busy_timeout = 0');
const pause = new Int32Array(new SharedArrayBuffer(4));
const s = {};
for (const [name, text] of Object.entries(workerData.sql)) s[name] = db.prepare(text);
s.duplicate.pluck();
const write = (row, change) => {
  const info = s.insert.run(row);
  if (info.changes === 0) return -s.duplicate.get(row[0]);
  if (change && change.kind === 'install') s.upsertPortal.run(change.portal);
  if (change && change.kind === 'uninstall') s.erasePortal.run(change.at, change.at, change.memberId);
  return Number(info.lastInsertRowid);
};
const commit = db.transaction((batches) => batches.map((b) => ({ seq: b.seq, ids: b.rows.map((row, i) => write(row, b.changes && b.changes[i])) })));
const commitSoon = (batches) => {
  const until = Date.now() + 10000;
  for (;;) {
    try { return commit.immediate(batches); }
    catch (e) {
      if (e.code !== 'SQLITE_BUSY' || Date.now() > until) throw e;
      Atomics.wait(pause, 0, 0, 0.2);
    }
  }
};
const close = () => { db.close(); parentPort.close(); };
parentPort.on('message', (first) => {
  if (first === 'close') return close();
  const batches = [first];
  let closing = false;
  for (let m = receiveMessageOnPort(parentPort); m; m = receiveMessageOnPort(parentPort)) {
    if (m.message === 'close') closing = true;
    else batches.push(m.message);
  }
  try { parentPort.postMessage({ done: commitSoon(batches) }); }
  catch (e) { parentPort.postMessage({ failed: batches.map((b) => b.seq), error: String(e && e.message || e) }); }
  if (closing) close();
});
`;

interface Pending {
  event: NewEvent;
  change: PortalChange | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** Each committed event's id, negated for a duplicate (the id of the event it repeats). */
type Reply = { done: { seq: number; ids: number[] }[] } | { failed: number[]; error: string };

/** A row as the insert binds it: plain values in a list clone and bind faster than an object's properties. */
const rowOf = (e: NewEvent) => [
  e.dedupKey, e.memberId, e.code, e.known ? 1 : 0, e.status, e.handlerId, e.ts, e.orderKey, e.receivedAt, e.event, e.rawBody, e.contentType, e.error,
];

/** A batch goes at once when it holds this many, so the thread starts committing while the event loop still reads requests. */
const SEND_AT = 16;

/**
 * Commits appends on a thread of its own, so the sync and the index updates never stop the
 * event loop. What one turn of the event loop appends (up to SEND_AT) goes as one batch,
 * without waiting for the batch before it; the thread takes all waiting batches into one commit.
 */
export class Appender {
  private readonly worker: Worker;
  private readonly batch = new TickBatch<Pending>(SEND_AT, (list) => this.send(list));
  private readonly inFlight = new Map<number, Pending[]>();
  private seq = 0;
  private broken: Error | undefined;
  private drained: (() => void) | undefined;

  constructor(file: string, synchronous: 'FULL' | 'NORMAL') {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(writerSource, { eval: true, workerData: { file, synchronous, driver, sql } });
    this.worker.unref();
    this.worker.on('message', (m: Reply) => this.done(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', () => this.fail(new Error('the SQLite writer thread stopped')));
  }

  append(event: NewEvent, change?: PortalChange): Promise<AppendResult> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.batch.push({ event, change, resolve, reject });
    });
  }

  private send(list: Pending[]): void {
    if (this.broken) return list.forEach((p) => p.reject(this.broken));
    // The thread keeps the process alive only while it has work: an idle store must not.
    this.worker.ref();
    const seq = ++this.seq;
    this.inFlight.set(seq, list);
    const changes = list.some((p) => p.change) ? list.map((p) => p.change) : undefined;
    this.worker.postMessage({ seq, rows: list.map((p) => rowOf(p.event)), changes });
  }

  private done(m: Reply): void {
    if ('done' in m) {
      for (const { seq, ids } of m.done) this.take(seq)?.forEach((p, i) => p.resolve({ id: Math.abs(ids[i]!), duplicate: ids[i]! < 0 }));
    } else {
      for (const seq of m.failed) for (const p of this.take(seq) ?? []) p.reject(new Error(m.error));
    }
    if (this.inFlight.size === 0 && this.batch.size === 0) {
      this.worker.unref();
      this.drained?.();
    }
  }

  private take(seq: number): Pending[] | undefined {
    const batch = this.inFlight.get(seq);
    this.inFlight.delete(seq);
    return batch;
  }

  private fail(e: Error): void {
    if (this.broken) return;
    this.broken = e;
    for (const p of [...[...this.inFlight.values()].flat(), ...this.batch.drop()]) p.reject(e);
    this.inFlight.clear();
    this.drained?.();
  }

  /** Waits for what was appended, then stops the thread. */
  async close(): Promise<void> {
    if (this.inFlight.size > 0 || this.batch.size > 0) await new Promise<void>((r) => (this.drained = r));
    if (this.broken) return;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.ref();
    this.broken = new Error('store is closed');
    this.worker.postMessage('close');
    await exited;
  }
}
