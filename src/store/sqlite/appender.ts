import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { TickBatch } from '../../tick-batch.js';
import { sealChange, sealedSecrets, type SecretBox } from '../secret-box.js';
import type { AppendResult, NewEvent, PortalChange } from '../types.js';

const sql = {
  insert: `
    INSERT INTO events (dedup_key, member_id, code, known, status, handler_id, ts, order_key, received_at, event, raw_body, content_type, last_error)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (dedup_key) DO NOTHING`,
  duplicate: 'UPDATE events SET duplicates = duplicates + 1 WHERE dedup_key = ? RETURNING id',
  duplicateOf: 'UPDATE events SET duplicates = duplicates + 1 WHERE id = ? RETURNING id',
  head: 'SELECT last_key, last_id, last_ts FROM chat_heads WHERE order_key = ?',
  setHead: `
    INSERT INTO chat_heads (order_key, last_key, last_id, last_ts) VALUES (?, ?, ?, ?)
    ON CONFLICT (order_key) DO UPDATE SET last_key = excluded.last_key, last_id = excluded.last_id, last_ts = excluded.last_ts
    WHERE excluded.last_id > chat_heads.last_id`,
  secret: 'INSERT INTO event_secrets (event_id, data) VALUES (?, ?)',
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
 * and the longer a commit takes, the more the next one carries. When that transaction fails
 * for any reason but a lock, each row is committed again on its own, so that one bad row
 * fails only itself.
 *
 * A row repeating a stored event's dedup key is a re-delivery, counted on the stored event,
 * unless a different event of its chat (order key) and of the same second came in between:
 * then it is a genuine repeat (an edit back, A -> B -> A), kept under its key and the id of
 * the chat's head. A re-delivery of the chat's head itself is always a duplicate of it.
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
s.duplicateOf.pluck();
const write = (row, change, secret) => {
  let info = s.insert.run(row);
  const orderKey = row[7];
  if (info.changes === 0) {
    if (orderKey === null) return -s.duplicate.get(row[0]);
    const head = s.head.get(orderKey);
    // The stored key when the head's own row is gone (archived).
    if (head && head.last_key === row[0]) return -(s.duplicateOf.get(head.last_id) ?? s.duplicate.get(row[0]));
    if (!head || head.last_ts !== row[6]) return -s.duplicate.get(row[0]);
    const repeat = row.slice();
    repeat[0] = row[0] + '#' + head.last_id;
    info = s.insert.run(repeat);
    if (info.changes === 0) return -s.duplicate.get(repeat[0]);
  }
  const id = Number(info.lastInsertRowid);
  if (orderKey !== null) s.setHead.run(orderKey, row[0], id, row[6]);
  if (secret != null) s.secret.run(id, secret);
  if (change && change.kind === 'install') s.upsertPortal.run(change.portal);
  if (change && change.kind === 'uninstall') s.erasePortal.run(change.at, change.at, change.memberId);
  return id;
};
const rowsOf = (b, each) => b.rows.map((row, i) => each(row, b.changes && b.changes[i], b.secrets && b.secrets[i], i));
const commit = db.transaction((batches) => batches.map((b) => ({ seq: b.seq, ids: rowsOf(b, write) })));
const commitOne = db.transaction(write);
const soon = (fn) => {
  const until = Date.now() + 10000;
  for (;;) {
    try { return fn(); }
    catch (e) {
      if (e.code !== 'SQLITE_BUSY' || Date.now() > until) throw e;
      Atomics.wait(pause, 0, 0, 0.2);
    }
  }
};
// Each row in a transaction of its own: an id, or 0 and the row's own error.
const oneByOne = (batches) => batches.map((b) => {
  const errors = {};
  const ids = rowsOf(b, (row, change, secret, i) => {
    try { return soon(() => commitOne.immediate(row, change, secret)); }
    catch (e) { errors[i] = String(e && e.message || e); return 0; }
  });
  return { seq: b.seq, ids, errors };
});
const close = () => { db.close(); parentPort.close(); };
parentPort.on('message', (first) => {
  if (first === 'close') return close();
  const batches = [first];
  let closing = false;
  for (let m = receiveMessageOnPort(parentPort); m; m = receiveMessageOnPort(parentPort)) {
    if (m.message === 'close') closing = true;
    else batches.push(m.message);
  }
  let reply;
  try { reply = { done: soon(() => commit.immediate(batches)) }; }
  catch (e) {
    if (e.code === 'SQLITE_BUSY') reply = { failed: batches.map((b) => b.seq), error: String(e.message) };
    else {
      try { reply = { done: oneByOne(batches) }; }
      catch (e2) { reply = { failed: batches.map((b) => b.seq), error: String(e2 && e2.message || e2) }; }
    }
  }
  parentPort.postMessage(reply);
  if (closing) close();
});
`;

interface Pending {
  event: NewEvent;
  change: PortalChange | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Each committed event's id, negated for a duplicate (the id of the event it repeats); 0 for a
 * row that failed alone, with its error under its index.
 */
type Reply = { done: { seq: number; ids: number[]; errors?: Record<number, string> }[] } | { failed: number[]; error: string };

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

  constructor(file: string, synchronous: 'FULL' | 'NORMAL', private readonly box: SecretBox) {
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
    // Secrets are sealed here, so the thread never holds the key.
    const changes = list.some((p) => p.change) ? list.map((p) => sealChange(p.change, this.box)) : undefined;
    const secrets = list.some((p) => p.event.secrets != null) ? list.map((p) => sealedSecrets(p.event, this.box)) : undefined;
    this.worker.postMessage({ seq, rows: list.map((p) => rowOf(p.event)), changes, secrets });
  }

  private done(m: Reply): void {
    if ('done' in m) {
      for (const { seq, ids, errors } of m.done) {
        this.take(seq)?.forEach((p, i) => (ids[i] === 0 ? p.reject(new Error(errors?.[i])) : p.resolve({ id: Math.abs(ids[i]!), duplicate: ids[i]! < 0 })));
      }
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
