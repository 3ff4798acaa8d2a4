import type pg from 'pg';
import { EVENT_COLUMNS, appendSql, eventValues, type ChatHead } from '../queries/append.js';
import { portalChangeQuery } from '../queries/portals.js';
import { sealChange, sealedSecrets, type SecretBox } from '../secret-box.js';
import type { AppendResult, NewEvent, PortalChange } from '../types.js';
import { named, runSql } from './run.js';

/*
 * The append on PostgreSQL. It differs from SQLite's writer thread (sqlite/appender.ts) in how a
 * batch is written: every event of a commit in one statement (arrays, unnest), since each statement
 * is a round trip; and in the lock on a chat's head row, which orders two instances writing one chat.
 * The rule for one row is the thread's.
 */

export interface Pending {
  event: NewEvent;
  change: PortalChange | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

export const CHANNEL = 'b24gw_events';

const casts = ['text', 'text', 'text', 'bool', 'text', 'int8', 'int8', 'text', 'int8', 'text', 'text', 'text', 'text'];
const cols = EVENT_COLUMNS.join(', ');

/**
 * A whole batch in one statement: the events, each chat's head (its latest event), and the
 * events' secrets when some have them ($14: one per event, null for none; the first copy of a
 * key is the one stored).
 */
const batchInsert = (withSecrets: boolean) => `
  WITH ins AS (
    INSERT INTO events (${cols})
    SELECT ${cols} FROM unnest(${casts.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) WITH ORDINALITY AS u(${cols}, n)
    ORDER BY n
    ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key, order_key, ts),
  heads AS (
    INSERT INTO chat_heads (order_key, last_key, last_id, last_ts)
    SELECT DISTINCT ON (order_key) order_key, dedup_key, id, ts FROM ins WHERE order_key IS NOT NULL ORDER BY order_key, id DESC
    ON CONFLICT (order_key) DO UPDATE SET last_key = excluded.last_key, last_id = excluded.last_id, last_ts = excluded.last_ts
    WHERE excluded.last_id > chat_heads.last_id)${
      withSecrets
        ? `,
  secrets AS (
    INSERT INTO event_secrets (event_id, data)
    SELECT id, data FROM (
      SELECT DISTINCT ON (ins.id) ins.id, s.data FROM ins JOIN unnest($1::text[], $14::text[]) WITH ORDINALITY AS s(k, data, n) ON s.k = ins.dedup_key
      ORDER BY ins.id, s.n) AS first WHERE data IS NOT NULL)`
        : ''
    }
  SELECT id, dedup_key FROM ins`;
const batchSql = { plain: batchInsert(false), secrets: batchInsert(true) };

/** Thrown in a batch's transaction when a row repeats a stored key of a chat: the batch is then written row by row, in order. */
export const IN_ORDER = new Error('the batch is written again row by row');

async function applyChange(c: pg.PoolClient, change: PortalChange | undefined, box: SecretBox): Promise<void> {
  const q = portalChangeQuery(sealChange(change, box));
  if (q) await runSql(c, q.sql, q.params);
}

export async function writeBatch(c: pg.PoolClient, batch: Pending[], box: SecretBox): Promise<AppendResult[]> {
  const e = batch.map((p) => p.event);
  const rows = e.map(eventValues);
  const arrays = EVENT_COLUMNS.map((_, i) => rows.map((r) => r[i]));
  const secrets = e.some((x) => x.secrets != null) ? e.map((x) => sealedSecrets(x, box)) : undefined;
  const inserted = await c.query<{ id: number; dedup_key: string }>(
    named(secrets ? batchSql.secrets : batchSql.plain, secrets ? [...arrays, secrets] : arrays),
  );
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
      await applyChange(c, p.change, box);
    } else {
      // Whether it repeats its chat's head or comes after another event of its chat: see writeOne.
      if (p.event.orderKey !== null) throw IN_ORDER;
      dupes.set(key, (dupes.get(key) ?? 0) + 1);
      results.push({ id: -1, duplicate: true });
    }
  }
  if (dupes.size > 0) {
    const counted = await c.query<{ id: number; dedup_key: string }>(
      named(
        `UPDATE events SET duplicates = duplicates + d.n FROM unnest($1::text[], $2::int[]) AS d(k, n)
       WHERE events.dedup_key = d.k RETURNING events.id, events.dedup_key`,
        [[...dupes.keys()], [...dupes.values()]],
      ),
    );
    const ids = new Map(counted.rows.map((r) => [r.dedup_key, r.id]));
    batch.forEach((p, i) => {
      if (results[i]!.id === -1) results[i] = { id: ids.get(p.event.dedupKey)!, duplicate: true };
    });
  }
  if (fresh.size > 0) await c.query(`NOTIFY ${CHANNEL}`);
  return results;
}

/** The batch row by row, in order, in the caller's transaction. */
export async function writeEach(c: pg.PoolClient, batch: Pending[], box: SecretBox): Promise<AppendResult[]> {
  const results: AppendResult[] = [];
  for (const p of batch) results.push(await writeOne(c, p, box));
  if (results.some((r) => !r.duplicate)) await c.query(`NOTIFY ${CHANNEL}`);
  return results;
}

const one = async (c: pg.PoolClient, sql: string, params: unknown[]) =>
  (await runSql<{ id: number }>(c, sql, params)).rows[0]?.id;

/**
 * One event. A repeat of a stored key is a re-delivery, counted on the stored event, unless a
 * different event of its chat and of the same second came in between: then it is a genuine
 * repeat (an edit back, A -> B -> A), kept under its key and the id of the chat's head.
 * The head's row lock orders two instances writing one chat.
 */
async function writeOne(c: pg.PoolClient, p: Pending, box: SecretBox): Promise<AppendResult> {
  const e = p.event;
  const values = eventValues(e);
  const duplicate = async (sql: string, value: unknown) => {
    const id = await one(c, sql, [value]);
    return id === undefined ? undefined : { id, duplicate: true };
  };
  let id = await one(c, appendSql.insert, values);
  if (id === undefined) {
    const head =
      e.orderKey === null
        ? undefined
        : (await runSql<ChatHead>(c, `${appendSql.head} FOR UPDATE`, [e.orderKey])).rows[0];
    // The stored key when the head's own row is gone (archived).
    if (head && head.last_key === e.dedupKey)
      return (
        (await duplicate(appendSql.duplicateOf, head.last_id)) ?? (await duplicate(appendSql.duplicate, e.dedupKey))!
      );
    if (!head || head.last_ts !== e.ts) return (await duplicate(appendSql.duplicate, e.dedupKey))!;
    const repeat = `${e.dedupKey}#${head.last_id}`;
    id = await one(c, appendSql.insert, [repeat, ...values.slice(1)]);
    if (id === undefined) return (await duplicate(appendSql.duplicate, repeat))!;
  }
  if (e.orderKey !== null) await runSql(c, appendSql.setHead, [e.orderKey, e.dedupKey, id, e.ts]);
  const secrets = sealedSecrets(e, box);
  if (secrets !== null) await runSql(c, appendSql.secret, [id, secrets]);
  await applyChange(c, p.change, box);
  return { id, duplicate: false };
}
