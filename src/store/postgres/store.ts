import pg from 'pg';
import type {
  AppendResult,
  Attempt,
  NewStatus,
  PendingStatus,
  EventQuery,
  EventStatus,
  NewEvent,
  Outcome,
  PortalChange,
  PortalRecord,
  PortalTokens,
  PruneQuery,
  Store,
  StoredEvent,
} from '../types.js';
import { attemptFromRow, claimedFromRow, eventFromRow, portalFromRow, type AttemptRow, type EventRow, type PortalRow } from '../rows.js';
import { checkSecretKey, sampleSecretSql, sealChange, sealedSecrets, SecretBox, type SampleSecret } from '../secret-box.js';
import { lapsedAttempt, spentByLapses, statusSpentByLapse } from '../lapsed.js';
import { EVENT_TABLES, finishedOnly } from '../prune.js';
import { eventFilter } from '../query.js';
import { migratePg } from './migrations.js';
import { inTransaction, migrateOnce, openPool, toPg } from './sql.js';

interface Pending {
  event: NewEvent;
  change: PortalChange | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

const CHANNEL = 'b24gw_events';

/**
 * Pruning: finished events by status and age through events_finished (whose condition the query
 * repeats, so the planner may use it), skipping those whose delivery statuses still wait to be sent.
 */
const PRUNABLE = `
  FROM events e
  WHERE e.status IN ('done', 'invalid', 'dead') AND e.status = ANY($1::text[]) AND e.received_at < $2
    AND NOT EXISTS (SELECT 1 FROM status_outbox s WHERE s.event_id = e.id AND s.status IN ('pending', 'sending'))`;

const cols = ['dedup_key', 'member_id', 'code', 'known', 'status', 'handler_id', 'ts', 'order_key', 'received_at', 'event', 'raw_body', 'content_type', 'last_error'];
const casts = ['text', 'text', 'text', 'bool', 'text', 'int8', 'int8', 'text', 'int8', 'text', 'text', 'text', 'text'];
const valuesOf = (x: NewEvent) => [x.dedupKey, x.memberId, x.code, x.known, x.status, x.handlerId, x.ts, x.orderKey, x.receivedAt, x.event, x.rawBody, x.contentType, x.error];

/**
 * A whole batch in one statement: the events, each chat's head (its latest event), and the
 * events' secrets when some have them ($14: one per event, null for none; the first copy of a
 * key is the one stored).
 */
const batchInsert = (withSecrets: boolean) => `
  WITH ins AS (
    INSERT INTO events (${cols.join(', ')})
    SELECT ${cols.join(', ')} FROM unnest(${casts.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) WITH ORDINALITY AS u(${cols.join(', ')}, n)
    ORDER BY n
    ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key, order_key, ts),
  heads AS (
    INSERT INTO chat_heads (order_key, last_key, last_id, last_ts)
    SELECT DISTINCT ON (order_key) order_key, dedup_key, id, ts FROM ins WHERE order_key IS NOT NULL ORDER BY order_key, id DESC
    ON CONFLICT (order_key) DO UPDATE SET last_key = excluded.last_key, last_id = excluded.last_id, last_ts = excluded.last_ts
    WHERE excluded.last_id > chat_heads.last_id)${withSecrets ? `,
  secrets AS (
    INSERT INTO event_secrets (event_id, data)
    SELECT id, data FROM (
      SELECT DISTINCT ON (ins.id) ins.id, s.data FROM ins JOIN unnest($1::text[], $14::text[]) WITH ORDINALITY AS s(k, data, n) ON s.k = ins.dedup_key
      ORDER BY ins.id, s.n) AS first WHERE data IS NOT NULL)` : ''}
  SELECT id, dedup_key FROM ins`;
const batchSql = { plain: batchInsert(false), secrets: batchInsert(true) };
const insertOneSql = `INSERT INTO events (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (dedup_key) DO NOTHING RETURNING id`;
const setHeadSql = `
  INSERT INTO chat_heads (order_key, last_key, last_id, last_ts) VALUES ($1, $2, $3, $4)
  ON CONFLICT (order_key) DO UPDATE SET last_key = excluded.last_key, last_id = excluded.last_id, last_ts = excluded.last_ts
  WHERE excluded.last_id > chat_heads.last_id`;

/** Thrown in a batch's transaction when a row repeats a stored key of a chat: the batch is then written row by row, in order. */
const IN_ORDER = new Error('the batch is written again row by row');

export interface PgStoreOptions {
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** 32 bytes (or their hex or base64): OAuth tokens and events' secrets are then kept encrypted (AES-256-GCM). */
  secretKey?: string | Uint8Array | undefined;
}

/**
 * The store on PostgreSQL, for several gateway instances on one database. Appends are
 * group-committed; claims use FOR UPDATE SKIP LOCKED; new events are announced with NOTIFY.
 */
export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly ready: Promise<void>;
  private queue: Pending[] = [];
  private flushing = false;
  private closed = false;
  private listener: pg.Client | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly box: SecretBox;

  constructor(readonly url: string, options: PgStoreOptions = {}) {
    this.box = new SecretBox(options.secretKey);
    this.pool = openPool(url, options.poolSize);
    const ready = migrateOnce(this.pool, migratePg).then(async () =>
      checkSecretKey(this.box, (await this.pool.query<SampleSecret>(sampleSecretSql)).rows[0]),
    );
    // Reported by whoever awaits it, never as an unhandled rejection.
    ready.catch(() => undefined);
    this.ready = ready;
  }

  private async q<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    await this.ready;
    return (await this.pool.query<R>(sql, params)).rows;
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready;
    return inTransaction(this.pool, 'BEGIN', fn);
  }

  append(event: NewEvent, change?: PortalChange): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
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
    let results: AppendResult[] | undefined;
    try {
      results = await this.tx((c) => this.writeBatch(c, batch));
    } catch (e) {
      if (e === IN_ORDER) results = await this.tx((c) => this.writeEach(c, batch)).catch(() => undefined);
      else if (batch.length === 1) return batch[0]!.reject(e);
    }
    if (results) return batch.forEach((p, i) => p.resolve(results[i]!));
    for (const p of batch) {
      try {
        p.resolve((await this.tx((c) => this.writeEach(c, [p])))[0]!);
      } catch (e) {
        p.reject(e);
      }
    }
  }

  private async writeBatch(c: pg.PoolClient, batch: Pending[]): Promise<AppendResult[]> {
    const e = batch.map((p) => p.event);
    const rows = e.map(valuesOf);
    const arrays = cols.map((_, i) => rows.map((r) => r[i]));
    const secrets = e.some((x) => x.secrets != null) ? e.map((x) => sealedSecrets(x, this.box)) : undefined;
    const inserted = await c.query<{ id: number; dedup_key: string }>(secrets ? batchSql.secrets : batchSql.plain, secrets ? [...arrays, secrets] : arrays);
    const fresh = new Map(inserted.rows.map((r) => [r.dedup_key, r.id]));
    const results: AppendResult[] = [];
    const claimed = new Set<string>();
    const dupes = new Map<string, number>();
    for (const p of batch) {
      const key = p.event.dedupKey;
      const id = fresh.get(key);
      if (id !== undefined && !claimed.has(key)) {
        claimed.add(key);
        results.push({ id, duplicate: false });
        await this.applyChange(c, p.change);
      } else {
        // Whether it repeats its chat's head or comes after another event of its chat: see writeOne.
        if (p.event.orderKey !== null) throw IN_ORDER;
        dupes.set(key, (dupes.get(key) ?? 0) + 1);
        results.push({ id: -1, duplicate: true });
      }
    }
    if (dupes.size > 0) {
      const rows = await c.query<{ id: number; dedup_key: string }>(
        `UPDATE events SET duplicates = duplicates + d.n FROM unnest($1::text[], $2::int[]) AS d(k, n)
         WHERE events.dedup_key = d.k RETURNING events.id, events.dedup_key`,
        [[...dupes.keys()], [...dupes.values()]],
      );
      const ids = new Map(rows.rows.map((r) => [r.dedup_key, r.id]));
      batch.forEach((p, i) => {
        if (results[i]!.id === -1) results[i] = { id: ids.get(p.event.dedupKey)!, duplicate: true };
      });
    }
    if (fresh.size > 0) await c.query(`NOTIFY ${CHANNEL}`);
    return results;
  }

  /** The batch row by row, in order, in the caller's transaction. */
  private async writeEach(c: pg.PoolClient, batch: Pending[]): Promise<AppendResult[]> {
    const results: AppendResult[] = [];
    for (const p of batch) results.push(await this.writeOne(c, p));
    if (results.some((r) => !r.duplicate)) await c.query(`NOTIFY ${CHANNEL}`);
    return results;
  }

  /**
   * One event. A repeat of a stored key is a re-delivery, counted on the stored event, unless a
   * different event of its chat and of the same second came in between: then it is a genuine
   * repeat (an edit back, A -> B -> A), kept under its key and the id of the chat's head.
   * The head's row lock orders two instances writing one chat.
   */
  private async writeOne(c: pg.PoolClient, p: Pending): Promise<AppendResult> {
    const e = p.event;
    const values = valuesOf(e);
    let id = (await c.query<{ id: number }>(insertOneSql, values)).rows[0]?.id;
    if (id === undefined) {
      const head =
        e.orderKey === null
          ? undefined
          : (await c.query<{ last_key: string; last_id: number; last_ts: number | null }>('SELECT last_key, last_id, last_ts FROM chat_heads WHERE order_key = $1 FOR UPDATE', [e.orderKey])).rows[0];
      // The stored key when the head's own row is gone (archived).
      if (head && head.last_key === e.dedupKey) return (await this.countDuplicate(c, 'id', head.last_id)) ?? (await this.countDuplicate(c, 'dedup_key', e.dedupKey))!;
      if (!head || head.last_ts !== e.ts) return (await this.countDuplicate(c, 'dedup_key', e.dedupKey))!;
      const repeat = `${e.dedupKey}#${head.last_id}`;
      id = (await c.query<{ id: number }>(insertOneSql, [repeat, ...values.slice(1)])).rows[0]?.id;
      if (id === undefined) return (await this.countDuplicate(c, 'dedup_key', repeat))!;
    }
    if (e.orderKey !== null) await c.query(setHeadSql, [e.orderKey, e.dedupKey, id, e.ts]);
    const secrets = sealedSecrets(e, this.box);
    if (secrets !== null) await c.query('INSERT INTO event_secrets (event_id, data) VALUES ($1, $2)', [id, secrets]);
    await this.applyChange(c, p.change);
    return { id, duplicate: false };
  }

  private async countDuplicate(c: pg.PoolClient, by: 'id' | 'dedup_key', value: number | string): Promise<AppendResult | undefined> {
    const row = (await c.query<{ id: number }>(`UPDATE events SET duplicates = duplicates + 1 WHERE ${by} = $1 RETURNING id`, [value])).rows[0];
    return row && { id: row.id, duplicate: true };
  }

  private async applyChange(c: pg.PoolClient, plain: PortalChange | undefined): Promise<void> {
    const change = sealChange(plain, this.box);
    if (change?.kind === 'install') {
      const p = change.portal;
      await c.query(
        `INSERT INTO portals (member_id, domain, application_token, access_token, refresh_token, expires_at, client_endpoint, server_endpoint, scope, status, installed_at, uninstalled_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12)
         ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain, application_token = excluded.application_token,
           access_token = excluded.access_token, refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
           client_endpoint = excluded.client_endpoint, server_endpoint = excluded.server_endpoint, scope = excluded.scope,
           status = excluded.status, installed_at = excluded.installed_at, uninstalled_at = NULL, updated_at = excluded.updated_at`,
        [p.memberId, p.domain, p.applicationToken, p.accessToken, p.refreshToken, p.expiresAt, p.clientEndpoint, p.serverEndpoint, p.scope, p.status, p.installedAt, p.updatedAt],
      );
    } else if (change?.kind === 'uninstall') {
      await c.query(
        `UPDATE portals SET application_token = NULL, access_token = NULL, refresh_token = NULL, expires_at = NULL,
           uninstalled_at = $1, updated_at = $1 WHERE member_id = $2`,
        [change.at, change.memberId],
      );
    }
  }

  async savePortalTokens(memberId: string, t: PortalTokens): Promise<void> {
    await this.q(
      `UPDATE portals SET access_token = $2, refresh_token = $3, expires_at = $4,
         client_endpoint = COALESCE($5, client_endpoint), server_endpoint = COALESCE($6, server_endpoint), updated_at = $7
       WHERE member_id = $1`,
      [
        memberId,
        this.box.seal(t.accessToken, 'portals.access_token', memberId),
        this.box.seal(t.refreshToken, 'portals.refresh_token', memberId),
        t.expiresAt,
        t.clientEndpoint ?? null,
        t.serverEndpoint ?? null,
        Date.now(),
      ],
    );
  }

  async claim(owner: string, now: number, leaseMs: number, limit: number, maxAttempts: number): Promise<StoredEvent[]> {
    return this.tx(async (c) => {
      // First, so that a chat held by a spent event is free for this very claim.
      await this.killSpent(c, now, maxAttempts);
      const rows = await c.query<EventRow & { was: string; secrets: string | null }>(
        `WITH runnable AS (
           SELECT e.id, e.status AS was FROM events e
           WHERE e.status IN ('pending', 'retry', 'processing')
             AND (e.status <> 'processing' OR (e.lease_until <= $1 AND e.attempts < $5))
             AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= $1)
             AND (e.order_key IS NULL OR NOT EXISTS (
               SELECT 1 FROM events p WHERE p.order_key = e.order_key AND p.id < e.id AND p.status IN ('pending', 'retry', 'processing')))
           ORDER BY e.id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE events SET status = 'processing', lease_owner = $3, lease_until = $4, attempts = events.attempts + 1
         FROM runnable WHERE events.id = runnable.id
         RETURNING events.*, runnable.was, (SELECT data FROM event_secrets s WHERE s.event_id = events.id) AS secrets`,
        [now, limit, owner, now + leaseMs, maxAttempts],
      );
      const lapsed = rows.rows.filter((r) => r.was === 'processing');
      if (lapsed.length > 0) await this.endAttempts(c, lapsed.map((r) => [r.id, r.attempts - 1, lapsedAttempt]), now);
      if (rows.rows.length > 0) {
        await c.query(
          `INSERT INTO event_attempts (event_id, attempt, owner, started_at) SELECT * FROM unnest($1::int8[], $2::int[], $3::text[], $4::int8[])
           ON CONFLICT (event_id, attempt) DO UPDATE SET owner = excluded.owner, started_at = excluded.started_at, finished_at = NULL, ok = NULL, error = NULL`,
          [rows.rows.map((r) => r.id), rows.rows.map((r) => r.attempts), rows.rows.map(() => owner), rows.rows.map(() => now)],
        );
      }
      return rows.rows.sort((a, b) => a.id - b.id).map((r) => claimedFromRow(r, this.box));
    });
  }

  /** Makes dead the events whose lease ran out on their last attempt (see Store.claim). */
  private async killSpent(c: pg.PoolClient, now: number, maxAttempts: number): Promise<void> {
    // Named, so each connection plans it once: on every claim it costs a round trip (about 60 µs), not 300-400 µs of planning.
    const spent = await c.query<{ id: number; attempts: number; lapsed: number }>({
      name: 'b24gw-spent-events',
      text: `SELECT e.id, e.attempts, (SELECT COUNT(*)::int FROM event_attempts a
               WHERE a.event_id = e.id AND a.attempt <= e.attempts AND (a.finished_at IS NULL OR a.error = $3)) AS lapsed
             FROM events e WHERE e.status = 'processing' AND e.lease_until <= $1 AND e.attempts >= $2 FOR UPDATE OF e SKIP LOCKED`,
      values: [now, maxAttempts, lapsedAttempt],
    });
    if (spent.rows.length === 0) return;
    const ends = spent.rows.map((s): [number, number, string] => [s.id, s.attempts, spentByLapses(s.attempts, s.lapsed)]);
    await c.query(
      `UPDATE events SET status = 'dead', last_error = u.error, lease_owner = NULL, lease_until = NULL
       FROM unnest($1::int8[], $2::text[]) AS u(id, error) WHERE events.id = u.id`,
      [ends.map((e) => e[0]), ends.map((e) => e[2])],
    );
    // Dead: its handlers need its secrets no more.
    await c.query('DELETE FROM event_secrets WHERE event_id = ANY($1::int8[])', [ends.map((e) => e[0])]);
    await this.endAttempts(c, ends, now);
  }

  /** Closes attempt rows as failed: [event id, attempt, error]. */
  private async endAttempts(c: pg.PoolClient, ends: [number, number, string][], now: number): Promise<void> {
    await c.query(
      `UPDATE event_attempts SET finished_at = $4, ok = false, error = u.error
       FROM unnest($1::int8[], $2::int[], $3::text[]) AS u(id, attempt, error) WHERE event_id = u.id AND event_attempts.attempt = u.attempt`,
      [ends.map((e) => e[0]), ends.map((e) => e[1]), ends.map((e) => e[2]), now],
    );
  }

  async renewLeases(ids: readonly number[], owner: string, until: number): Promise<number[]> {
    if (ids.length === 0) return [];
    const rows = await this.q<{ id: number }>(
      "UPDATE events SET lease_until = $3 WHERE id = ANY($1::int8[]) AND lease_owner = $2 AND status = 'processing' RETURNING id",
      [ids, owner, until],
    );
    return rows.map((r) => r.id);
  }

  async finish(id: number, owner: string, outcome: Outcome, now: number): Promise<boolean> {
    const status = outcome.ok ? 'done' : outcome.retryAt === null ? 'dead' : 'retry';
    const error = outcome.ok ? null : outcome.error;
    const retryAt = outcome.ok ? null : outcome.retryAt;
    return this.tx(async (c) => {
      // A finished event needs its secrets no more (a replay runs without them).
      const r = await c.query<{ attempts: number }>(
        `WITH ended AS (
           UPDATE events SET status = $3, next_attempt_at = $4, last_error = $5, lease_owner = NULL, lease_until = NULL,
             processed_at = CASE WHEN $3 = 'done' THEN $6 ELSE processed_at END
           WHERE id = $1 AND lease_owner = $2 AND status = 'processing' RETURNING id, attempts),
         erased AS (DELETE FROM event_secrets WHERE event_id IN (SELECT id FROM ended) AND $3 <> 'retry')
         SELECT attempts FROM ended`,
        [id, owner, status, retryAt, error, now],
      );
      const attempt = r.rows[0]?.attempts;
      if (attempt === undefined) return false;
      await c.query('UPDATE event_attempts SET finished_at = $1, ok = $2, error = $3 WHERE event_id = $4 AND attempt = $5', [now, outcome.ok, error, id, attempt]);
      return true;
    });
  }

  async attempts(id: number): Promise<Attempt[]> {
    return (await this.q<AttemptRow>('SELECT * FROM event_attempts WHERE event_id = $1 ORDER BY attempt', [id])).map(attemptFromRow);
  }

  async requeue(ids: readonly number[]): Promise<number> {
    const rows = await this.q(
      `UPDATE events SET status = 'pending', attempts = 0, next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL
       WHERE id = ANY($1::int8[]) AND status IN ('dead', 'retry', 'done', 'pending') RETURNING id`,
      [ids],
    );
    if (rows.length > 0) await this.q(`NOTIFY ${CHANNEL}`);
    return rows.length;
  }

  async pruneEvents(q: PruneQuery): Promise<number> {
    const params = [finishedOnly(q.statuses), q.before];
    if (q.dryRun) return Number((await this.q<{ n: number }>(`SELECT COUNT(*)::int8 AS n ${PRUNABLE}`, params))[0]?.n ?? 0);
    return this.tx(async (c) => {
      // Locked, so a replay of one of them waits and then finds it gone; another pruner skips them.
      const ids = (await c.query<{ id: number }>(`SELECT e.id ${PRUNABLE} LIMIT $3 FOR UPDATE SKIP LOCKED`, [...params, q.limit])).rows.map((r) => r.id);
      if (ids.length === 0) return 0;
      for (const table of EVENT_TABLES) await c.query(`DELETE FROM ${table} WHERE event_id = ANY($1::int8[])`, [ids]);
      return (await c.query('DELETE FROM events WHERE id = ANY($1::int8[])', [ids])).rowCount ?? 0;
    });
  }

  async enqueueStatuses(statuses: readonly NewStatus[]): Promise<void> {
    if (statuses.length === 0) return;
    await this.q(
      `INSERT INTO status_outbox (member_id, connector, line, item, event_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::int8[])`,
      [statuses.map((s) => s.memberId), statuses.map((s) => s.connector), statuses.map((s) => s.line), statuses.map((s) => s.item), statuses.map((s) => s.eventId)],
    );
  }

  async claimStatuses(owner: string, now: number, leaseMs: number, limit: number, maxAttempts: number): Promise<PendingStatus[]> {
    return this.tx(async (c) => {
      await c.query(
        `WITH spent AS (
           SELECT id FROM status_outbox WHERE status = 'sending' AND lease_until <= $1 AND attempts >= $2 FOR UPDATE SKIP LOCKED)
         UPDATE status_outbox s SET status = 'dead', last_error = $3, lease_owner = NULL, lease_until = NULL FROM spent WHERE s.id = spent.id`,
        [now, maxAttempts, statusSpentByLapse],
      );
      const rows = await c.query<PendingStatus>(
        `WITH due AS (
           SELECT id FROM status_outbox
           WHERE (status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= $1)) OR (status = 'sending' AND lease_until <= $1 AND attempts < $5)
           ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE status_outbox s SET status = 'sending', lease_owner = $3, lease_until = $4, attempts = s.attempts + 1
         FROM due WHERE s.id = due.id
         RETURNING s.id, s.member_id AS "memberId", s.connector, s.line, s.item, s.event_id AS "eventId", s.attempts`,
        [now, limit, owner, now + leaseMs, maxAttempts],
      );
      return rows.rows.sort((a, b) => a.id - b.id);
    });
  }

  async finishStatuses(ids: readonly number[], owner: string, outcome: Outcome, _now: number): Promise<void> {
    const status = outcome.ok ? 'sent' : outcome.retryAt === null ? 'dead' : 'pending';
    await this.q(
      `UPDATE status_outbox SET status = $3, next_attempt_at = $4, last_error = $5, lease_owner = NULL, lease_until = NULL
       WHERE id = ANY($1::int8[]) AND lease_owner = $2 AND status = 'sending'`,
      [ids, owner, status, outcome.ok ? null : outcome.retryAt, outcome.ok ? null : outcome.error],
    );
  }

  async countStatuses(): Promise<{ pending: number; sent: number; dead: number }> {
    const counts = { pending: 0, sent: 0, dead: 0 };
    for (const r of await this.q<{ status: keyof typeof counts; n: number }>("SELECT status, COUNT(*)::int8 AS n FROM status_outbox WHERE status <> 'sending' GROUP BY status")) counts[r.status] = r.n;
    return counts;
  }

  /**
   * One leaky bucket per portal for every instance: the level drains at `perSecond`, each request
   * adds one, and a level past `burst` is a reservation whose wait is returned (FIFO across instances).
   */
  async rateSlot(memberId: string, limits: { burst: number; perSecond: number }, now: number, mode: 'take' | 'fill'): Promise<number> {
    const [row] = await this.q<{ level: number }>(
      `INSERT INTO rate_buckets AS b (member_id, level, updated_at) VALUES ($1, CASE WHEN $4 = 'fill' THEN $2::float8 ELSE 1 END, $5)
       ON CONFLICT (member_id) DO UPDATE SET
         level = CASE WHEN $4 = 'fill'
           THEN GREATEST(GREATEST(b.level - GREATEST($5 - b.updated_at, 0) * $3::float8 / 1000, 0), $2::float8)
           ELSE GREATEST(b.level - GREATEST($5 - b.updated_at, 0) * $3::float8 / 1000, 0) + 1 END,
         updated_at = GREATEST(b.updated_at, $5)
       RETURNING level`,
      [memberId, limits.burst, limits.perSecond, mode, now],
    );
    const over = (row?.level ?? 0) - limits.burst;
    return mode === 'take' && over > 0 ? Math.ceil((over / limits.perSecond) * 1000) : 0;
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

  async getEvent(id: number): Promise<StoredEvent | undefined> {
    const [row] = await this.q<EventRow>('SELECT * FROM events WHERE id = $1', [id]);
    return row && eventFromRow(row);
  }

  async listEvents(q: EventQuery = {}): Promise<StoredEvent[]> {
    const { where, params } = eventFilter(q);
    const rows = await this.q<EventRow>(toPg(`SELECT * FROM events ${where} ORDER BY id LIMIT ?`), [...params, q.limit ?? null]);
    return rows.map(eventFromRow);
  }

  async countEvents<S extends EventStatus = EventStatus>(statuses?: readonly S[]): Promise<Record<S, number>> {
    const all: readonly EventStatus[] = statuses ?? ['pending', 'invalid', 'processing', 'retry', 'done', 'dead'];
    const counts = Object.fromEntries(all.map((s) => [s, 0])) as Record<S, number>;
    // With a list, through events_status: one range per status listed, never the rows of the others.
    const rows = statuses
      ? await this.q<{ status: S; n: number }>('SELECT status, COUNT(*)::int8 AS n FROM events WHERE status = ANY($1::text[]) GROUP BY status', [statuses])
      : await this.q<{ status: S; n: number }>('SELECT status, COUNT(*)::int8 AS n FROM events GROUP BY status');
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }

  async getPortal(memberId: string): Promise<PortalRecord | undefined> {
    const [row] = await this.q<PortalRow>('SELECT * FROM portals WHERE member_id = $1', [memberId]);
    return row && portalFromRow(row, this.box);
  }

  async listPortals(): Promise<PortalRecord[]> {
    return (await this.q<PortalRow>('SELECT * FROM portals ORDER BY member_id')).map((r) => portalFromRow(r, this.box));
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

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.q('SELECT 1');
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
