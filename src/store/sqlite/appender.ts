import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { GatewayError } from '../../errors.js';
import { TickBatch } from '../../tick-batch.js';
import { AT, appendSql, eventValues } from '../queries/append.js';
import { portalChangeQuery } from '../queries/portals.js';
import { sealChange, sealedSecrets, type SecretBox } from '../secret-box.js';
import type { AppendResult, NewEvent, PortalChange } from '../types.js';

/**
 * The writer thread, as plain JavaScript so it runs the same from the build and from tests: it
 * cannot load this project's TypeScript modules, so it gets the statements (queries/append.ts,
 * queries/portals.ts) as text and runs the one-row rule below, which PostgreSQL's writeOne also follows.
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
for (const one of [s.insert, s.duplicate, s.duplicateOf]) one.pluck();
const prepared = new Map();
const statement = (text) => prepared.get(text) || prepared.set(text, db.prepare(text)).get(text);
const { dedupKey, ts, orderKey: orderAt } = workerData.at;
const write = (row, change, secret) => {
  let id = s.insert.get(row);
  const orderKey = row[orderAt];
  if (id === undefined) {
    if (orderKey === null) return -s.duplicate.get(row[dedupKey]);
    const head = s.head.get(orderKey);
    // The stored key when the head's own row is gone (archived).
    if (head && head.last_key === row[dedupKey]) return -(s.duplicateOf.get(head.last_id) ?? s.duplicate.get(row[dedupKey]));
    if (!head || head.last_ts !== row[ts]) return -s.duplicate.get(row[dedupKey]);
    const repeat = row.slice();
    repeat[dedupKey] = row[dedupKey] + '#' + head.last_id;
    id = s.insert.get(repeat);
    if (id === undefined) return -s.duplicate.get(repeat[dedupKey]);
  }
  if (orderKey !== null) s.setHead.run(orderKey, row[dedupKey], id, row[ts]);
  if (secret != null) s.secret.run(id, secret);
  if (change) statement(change.sql).run(change.params);
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
    catch (e) { errors[i] = { message: String(e && e.message || e), code: e && e.code }; return 0; }
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
    if (e.code === 'SQLITE_BUSY') reply = { failed: batches.map((b) => b.seq), error: { message: String(e.message), code: e.code } };
    else {
      try { reply = { done: oneByOne(batches) }; }
      catch (e2) { reply = { failed: batches.map((b) => b.seq), error: { message: String(e2 && e2.message || e2), code: e2 && e2.code } }; }
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
type Reply =
  | { done: { seq: number; ids: number[]; errors?: Record<number, ThreadError> }[] }
  | { failed: number[]; error: ThreadError };

/** An error of the thread's database, as it crosses to this one. */
interface ThreadError {
  message: string;
  code?: string;
}

/** The error an append rejects with when the database refused its commit; the database's own is its cause. */
const commitFailed = (e: ThreadError | undefined) =>
  new GatewayError('B24GW_STORE_FAILED', 'Event could not be stored; it was not accepted', {
    cause: Object.assign(new Error(e?.message ?? 'unknown'), { code: e?.code }),
  });

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
  private broken: GatewayError | undefined;
  private drained: (() => void) | undefined;

  /** `stored`: called after a commit that stored new events (not only duplicates). */
  constructor(
    file: string,
    synchronous: 'FULL' | 'NORMAL',
    private readonly box: SecretBox,
    private readonly stored: () => void,
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(writerSource, {
      eval: true,
      workerData: { file, synchronous, driver, sql: appendSql, at: AT },
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
    });
    this.worker.unref();
    this.worker.on('message', (m: Reply) => this.done(m));
    this.worker.on('error', (e) =>
      this.fail(new GatewayError('B24GW_STORE_FAILED', 'The SQLite writer thread failed', { cause: e })),
    );
    this.worker.on('exit', (code) =>
      this.fail(
        new GatewayError('B24GW_STORE_FAILED', 'The SQLite writer thread stopped', {
          cause: new Error(`exit code ${code}`),
        }),
      ),
    );
  }

  /** The thread died or its database failed it: this appender takes no more, and the store starts another. */
  get failed(): boolean {
    return this.broken !== undefined && this.broken.code !== 'B24GW_STORE_CLOSED';
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
    const changes = list.some((p) => p.change)
      ? list.map((p) => portalChangeQuery(sealChange(p.change, this.box)))
      : undefined;
    const secrets = list.some((p) => p.event.secrets != null)
      ? list.map((p) => sealedSecrets(p.event, this.box))
      : undefined;
    this.worker.postMessage({ seq, rows: list.map((p) => eventValues(p.event)), changes, secrets });
  }

  private done(m: Reply): void {
    if ('done' in m) {
      let fresh = false;
      for (const { seq, ids, errors } of m.done) {
        this.take(seq)?.forEach((p, i) =>
          ids[i] === 0
            ? p.reject(commitFailed(errors?.[i]))
            : p.resolve({ id: Math.abs(ids[i]!), duplicate: ids[i]! < 0 }),
        );
        fresh ||= ids.some((id) => id > 0);
      }
      if (fresh) this.stored();
    } else {
      for (const seq of m.failed) for (const p of this.take(seq) ?? []) p.reject(commitFailed(m.error));
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

  private fail(e: GatewayError): void {
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
    this.broken = new GatewayError('B24GW_STORE_CLOSED', 'The store is closed: no more events are taken');
    this.worker.postMessage('close');
    await exited;
  }
}
