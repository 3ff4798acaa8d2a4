import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migratePg, pgMigrations } from '../../src/store/postgres/migrations.js';
import { toPg } from '../../src/store/postgres/run.js';
import { PgStore } from '../../src/store/postgres/store.js';
import { migrations, type Migration } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../helpers.js';
import { freshDatabase, pgAvailable } from '../pg.js';
import { newEvent } from './conformance.js';

/*
 * A database as the previous release left it: the inbox's steps 1-7 in schema_migrations, the
 * connector state's tables under their own state_migrations (step 1), and rows in every status.
 * Opened by this release, it must be upgraded in place with nothing lost.
 */

const released = (steps: readonly Migration[]) => steps.filter((m) => m.version <= 7);
/** The state's step 1 as it was released: the tables this release's step 8 adopts (it only adds IF NOT EXISTS). */
const releasedState = (steps: readonly Migration[]) =>
  steps.find((m) => m.version === 8)!.sql.replaceAll(' IF NOT EXISTS', '');

const T = 1_000;
const rows: [string, unknown[]][] = [
  ...(['pending', 'invalid', 'processing', 'retry', 'done', 'dead'] as const).map((status, i): [string, unknown[]] => [
    `INSERT INTO events (id, dedup_key, member_id, code, known, status, handler_id, ts, order_key, received_at, event, raw_body, content_type,
       attempts, next_attempt_at, lease_owner, lease_until, last_error, duplicates, processed_at)
     VALUES (?, ?, 'm1', 'ONIMCONNECTORMESSAGEADD', '1', ?, 7, 100, ?, ?, '{"event":"ONIMCONNECTORMESSAGEADD"}', 'event=x', 'form', ?, ?, ?, ?, ?, 0, ?)`,
    [
      i + 1,
      `key-${status}`,
      status,
      `chat-${status}`,
      T + i,
      ['processing', 'retry', 'done', 'dead'].includes(status) ? 1 : 0,
      status === 'retry' ? T + 50 : null,
      status === 'processing' ? 'crashed' : null,
      status === 'processing' ? T + 10 : null,
      ['retry', 'dead', 'invalid'].includes(status) ? `${status} error` : null,
      status === 'done' ? T + 20 : null,
    ],
  ]),
  [
    "INSERT INTO event_attempts (event_id, attempt, owner, started_at, finished_at, ok, error) VALUES (4, 1, 'w', ?, ?, '0', 'retry error')",
    [T, T + 1],
  ],
  ["INSERT INTO event_attempts (event_id, attempt, owner, started_at) VALUES (3, 1, 'crashed', ?)", [T]],
  ['INSERT INTO event_secrets (event_id, data) VALUES (3, \'{"AUTH":"bot-secret"}\')', []],
  ["INSERT INTO chat_heads (order_key, last_key, last_id, last_ts) VALUES ('chat-pending', 'key-pending', 1, 100)", []],
  ...(['pending', 'sending', 'sent', 'dead'] as const).map((status, i): [string, unknown[]] => [
    "INSERT INTO status_outbox (member_id, connector, line, item, event_id, status, attempts, lease_owner, lease_until) VALUES ('m1', 'c', 1, '{}', ?, ?, ?, ?, ?)",
    [5, status, i, status === 'sending' ? 's' : null, status === 'sending' ? T : null],
  ]),
  [
    `INSERT INTO portals (member_id, domain, application_token, access_token, refresh_token, expires_at, client_endpoint, server_endpoint, scope, status, installed_at, updated_at)
    VALUES ('m1', 'a.bitrix24.com', 'app-digest', 'acc', 'ref', 9000, 'https://a.bitrix24.com/rest/', 'https://oauth.bitrix.info/rest/', 'imconnector', 'L', 1, 1)`,
    [],
  ],
  [
    "INSERT INTO state_applied (event_id, member_id, code, applied_at) VALUES (5, 'm1', 'ONIMCONNECTORMESSAGEADD', ?)",
    [T],
  ],
  ['INSERT INTO state_lines (member_id, line, first_seen_at, last_seen_at) VALUES (?, 1, ?, ?)', ['m1', T, T]],
  [
    "INSERT INTO state_chats (member_id, line, external_chat_id, im_chat_id, connector, first_seen_at, last_seen_at) VALUES ('m1', 1, 'ext-chat', 1807, 'c', ?, ?)",
    [T, T],
  ],
  [
    `INSERT INTO state_messages (id, member_id, line, connector, im_chat_id, im_message_id, external_chat_id, user_id, original_text, text, created_at, updated_at)
    VALUES (1, 'm1', 1, 'c', 1807, 42, 'ext-chat', 27, 'hello', 'hello again', ?, ?)`,
    [T, T],
  ],
  ["INSERT INTO state_message_ids (message_id, external_id) VALUES (1, 'ext-42')", []],
  ["INSERT INTO state_message_history (message_id, event_id, text, at) VALUES (1, 5, 'hello again', ?)", [T]],
];

/** What the upgraded store must still say, and do. */
async function expectKept(store: Store): Promise<void> {
  expect(await store.countEvents()).toEqual({ pending: 1, invalid: 1, processing: 1, retry: 1, done: 1, dead: 1 });
  expect(await store.getEvent(6)).toMatchObject({
    status: 'dead',
    lastError: 'dead error',
    attempts: 1,
    orderKey: 'chat-dead',
    known: true,
  });
  expect(await store.getEvent(5)).toMatchObject({ status: 'done', processedAt: T + 20 });
  expect(await store.countStatuses()).toEqual({ pending: 1, sent: 1, dead: 1 });
  expect(await store.getPortal('m1')).toMatchObject({
    accessToken: 'acc',
    refreshToken: 'ref',
    applicationToken: 'app-digest',
    expiresAt: 9000,
  });
  expect(await store.state.message('m1', { externalId: 'ext-42' })).toMatchObject({
    text: 'hello again',
    originalText: 'hello',
    history: [{ text: 'hello again', at: T, eventId: 5 }],
  });
  expect(await store.state.chatByImId('m1', 1807)).toMatchObject({ externalChatId: 'ext-chat' });
  expect(await store.state.applied(5)).toBe(true);
  expect(
    await store.state.apply(
      { event: 'ONIMCONNECTORLINEDELETE', data: 1 },
      { eventId: 5, memberId: 'm1', receivedAt: T },
    ),
  ).toBe(false);
  // The lapsed lease is taken again (its secrets with it), the due retry and the pending event run.
  const claimed = await store.claim('w', T + 100, 1_000, 10, 8);
  expect(claimed.map((e) => [e.id, e.status, e.attempts])).toEqual([
    [1, 'processing', 1],
    [3, 'processing', 2],
    [4, 'processing', 2],
  ]);
  expect(claimed.find((e) => e.id === 3)?.secrets).toBe('{"AUTH":"bot-secret"}');
  expect((await store.attempts(3)).map((a) => [a.attempt, a.owner, a.ok])).toEqual([
    [1, 'crashed', false],
    [2, 'w', null],
  ]);
  // A re-delivery of a kept event is a duplicate; a new one is stored, and the new tables work.
  expect(await store.append(newEvent({ dedupKey: 'key-done' }))).toEqual({ id: 5, duplicate: true });
  expect((await store.append(newEvent())).duplicate).toBe(false);
  expect(await store.rateSlot('m1', { burst: 1, perSecond: 1 }, T, 'take')).toBe(0);
}

type Cleanups = (() => Promise<void> | void)[];

/** Opens the store on an old SQLite file (closed by `cleanups`): every migration is then recorded as applied. */
function upgradedSqlite(file: string, cleanups: Cleanups): SqliteStore {
  const store = new SqliteStore(file);
  cleanups.push(() => store.close());
  expect(store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual(
    migrations.map((m) => m.version),
  );
  return store;
}

/** Opens the store on an old PostgreSQL database (closed by `cleanups`): every migration is then recorded as applied. */
async function upgradedPg(url: string, cleanups: Cleanups): Promise<PgStore> {
  const store = new PgStore(url);
  cleanups.push(() => store.close());
  await store.ready;
  expect(
    (await store.pool.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map(
      (r: { version: number }) => r.version,
    ),
  ).toEqual(pgMigrations.map((m) => m.version));
  return store;
}

describe('an upgrade in place, from the previous release', () => {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('SQLite: every row kept, the state adopted, the new steps applied once', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const file = `${tmp.dir}/old.db`;
    const old = new Database(file);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of released(migrations)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, 1)').run(m.version);
    }
    old.exec(
      `CREATE TABLE state_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL); INSERT INTO state_migrations VALUES (1, 1); ${releasedState(migrations)}`,
    );
    for (const [sql, params] of rows) old.prepare(sql).run(...params);
    old.close();

    const store = upgradedSqlite(file, cleanups);
    expect(store.db.prepare('SELECT version FROM state_migrations').pluck().all()).toEqual([1]);
    await expectKept(store);
  });

  it.skipIf(!pgAvailable)('PostgreSQL: every row kept, the state adopted, the new steps applied once', async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const old = new pg.Client({ connectionString: db.url });
    await old.connect();
    try {
      await old.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      for (const m of released(pgMigrations)) {
        await old.query(m.sql);
        await old.query('INSERT INTO schema_migrations VALUES ($1, 1)', [m.version]);
      }
      await old.query(
        `CREATE TABLE state_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); INSERT INTO state_migrations VALUES (1, 1); ${releasedState(pgMigrations)}`,
      );
      for (const [sql, params] of rows) await old.query(toPg(sql), params);
      // Serial columns go on from the ids the rows took.
      await old.query("SELECT setval('events_id_seq', 6), setval('state_messages_id_seq', 1)");
    } finally {
      await old.end();
    }

    const store = await upgradedPg(db.url, cleanups);
    expect((await store.pool.query('SELECT version FROM state_migrations')).rows).toEqual([{ version: 1 }]);
    await expectKept(store);
    // Migrating again changes nothing.
    const client = await store.pool.connect();
    try {
      expect(await migratePg(client)).toBe(0);
    } finally {
      client.release();
    }
  });
});

/*
 * Every earlier schema version: a database left by the steps up to N (and, before step 8, the
 * connector state under state_migrations), holding a row of every kind the tables of N can hold,
 * events in every status. Opened by this release on both databases, every value of every row is
 * still there, unchanged, and the upgraded store counts, claims and appends.
 */

type Row = { table: string; values: Record<string, unknown> };
const statuses = ['pending', 'invalid', 'processing', 'retry', 'done', 'dead'] as const;
const everyKind: Row[] = [
  ...statuses.map((status, i): Row => ({
    table: 'events',
    values: {
      id: i + 1,
      dedup_key: `key-${status}`,
      member_id: 'm1',
      code: 'ONIMCONNECTORMESSAGEADD',
      known: 1,
      status,
      handler_id: 7,
      ts: 100 + i,
      order_key: `chat-${status}`,
      received_at: T + i,
      event: `{"event":"ONIMCONNECTORMESSAGEADD","n":${i}}`,
      raw_body: `event=x&n=${i}`,
      content_type: 'form',
      attempts: ['processing', 'retry', 'done', 'dead'].includes(status) ? 1 : 0,
      next_attempt_at: status === 'retry' ? T + 50 : null,
      lease_owner: status === 'processing' ? 'crashed' : null,
      lease_until: status === 'processing' ? T + 10 : null,
      last_error: ['retry', 'dead', 'invalid'].includes(status) ? `${status} error` : null,
      duplicates: i,
      processed_at: status === 'done' ? T + 20 : null,
    },
  })),
  {
    table: 'portals',
    values: {
      member_id: 'm1',
      domain: 'a.bitrix24.com',
      application_token: 'app-digest',
      access_token: 'acc',
      refresh_token: 'ref',
      expires_at: 9000,
      client_endpoint: 'https://a.bitrix24.com/rest/',
      server_endpoint: 'https://oauth.bitrix.info/rest/',
      scope: 'imconnector',
      status: 'L',
      installed_at: 1,
      uninstalled_at: null,
      updated_at: 2,
    },
  },
  {
    table: 'event_attempts',
    values: { event_id: 4, attempt: 1, owner: 'w', started_at: T, finished_at: T + 1, ok: 0, error: 'retry error' },
  },
  { table: 'event_attempts', values: { event_id: 3, attempt: 1, owner: 'crashed', started_at: T } },
  ...(['pending', 'sending', 'sent', 'dead'] as const).map((status, i): Row => ({
    table: 'status_outbox',
    values: {
      id: i + 1,
      member_id: 'm1',
      connector: 'c',
      line: 1,
      item: `{"n":${i}}`,
      event_id: 5,
      status,
      attempts: i,
      next_attempt_at: null,
      lease_owner: status === 'sending' ? 's' : null,
      lease_until: status === 'sending' ? T : null,
      last_error: status === 'dead' ? 'dead error' : null,
    },
  })),
  { table: 'chat_heads', values: { order_key: 'chat-pending', last_key: 'key-pending', last_id: 1, last_ts: 100 } },
  { table: 'event_secrets', values: { event_id: 3, data: '{"AUTH":"bot-secret"}' } },
  { table: 'rate_buckets', values: { member_id: 'm1', level: 3.5, updated_at: T } },
  { table: 'state_applied', values: { event_id: 5, member_id: 'm1', code: 'ONIMCONNECTORMESSAGEADD', applied_at: T } },
  { table: 'state_lines', values: { member_id: 'm1', line: 1, first_seen_at: T, last_seen_at: T } },
  {
    table: 'state_chats',
    values: {
      member_id: 'm1',
      line: 1,
      external_chat_id: 'ext-chat',
      im_chat_id: 1807,
      connector: 'c',
      first_seen_at: T,
      last_seen_at: T,
    },
  },
  {
    table: 'state_messages',
    values: {
      id: 1,
      member_id: 'm1',
      line: 1,
      connector: 'c',
      im_chat_id: 1807,
      im_message_id: 42,
      external_chat_id: 'ext-chat',
      user_id: 27,
      original_text: 'hello',
      text: 'hello again',
      created_at: T,
      updated_at: T,
    },
  },
  { table: 'state_message_ids', values: { message_id: 1, external_id: 'ext-42' } },
  { table: 'state_message_history', values: { message_id: 1, event_id: 5, text: 'hello again', at: T } },
];

/** One database, as the tests below see it: its tables' columns, a way to run SQL, and the rows of a table. */
interface Old {
  columns(table: string): Promise<string[]>;
  exec(sql: string, params?: unknown[]): Promise<void>;
  rows(table: string, columns: string[]): Promise<string[]>;
}

/** Inserts what the tables of this version can hold, and returns each table's rows (as JSON, sorted), column by column. */
async function fill(db: Old): Promise<Map<string, { columns: string[]; rows: string[] }>> {
  const kept = new Map<string, { columns: string[]; rows: string[] }>();
  for (const { table, values } of everyKind) {
    const columns = await db.columns(table);
    if (columns.length === 0) continue;
    const names = Object.keys(values).filter((c) => columns.includes(c));
    await db.exec(
      `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
      names.map((c) => values[c]),
    );
  }
  for (const table of new Set(everyKind.map((r) => r.table))) {
    const columns = await db.columns(table);
    if (columns.length > 0) kept.set(table, { columns, rows: await db.rows(table, columns) });
  }
  return kept;
}

/** Every row of every table of the old version, unchanged; the upgraded store counts, claims and appends. */
async function expectUpgraded(
  store: Store,
  db: Old,
  kept: Map<string, { columns: string[]; rows: string[] }>,
): Promise<void> {
  for (const [table, { columns, rows }] of kept) expect([table, await db.rows(table, columns)]).toEqual([table, rows]);
  expect(await store.countEvents()).toEqual({ pending: 1, invalid: 1, processing: 1, retry: 1, done: 1, dead: 1 });
  expect(await store.getEvent(6)).toMatchObject({ status: 'dead', lastError: 'dead error', duplicates: 5 });
  if (kept.has('status_outbox')) expect(await store.countStatuses()).toEqual({ pending: 1, sent: 1, dead: 1 });
  expect(await store.getPortal('m1')).toMatchObject({ accessToken: 'acc', refreshToken: 'ref', expiresAt: 9000 });
  const claimed = await store.claim('w', T + 100, 1_000, 10, 8);
  expect(claimed.map((e) => e.id)).toEqual([1, 3, 4]);
  expect(await store.append(newEvent({ dedupKey: 'key-done' }))).toEqual({ id: 5, duplicate: true });
  const fresh = await store.append(newEvent());
  expect(fresh.duplicate).toBe(false);
  expect(fresh.id).toBeGreaterThan(6);
  expect(await store.state.applied(5)).toBe(true);
}

/** The steps a database of each earlier version had: every version but the newest. */
const earlier = (steps: readonly Migration[]) => steps.slice(0, -1).map((m) => m.version);

describe('an upgrade from every earlier schema version, with a row of every kind', () => {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  for (const version of earlier(migrations))
    it(`SQLite, version ${version}: every row of its tables unchanged, the store works`, async () => {
      const tmp = tempDir();
      cleanups.push(tmp.cleanup);
      const file = `${tmp.dir}/v${version}.db`;
      const raw = new Database(file);
      const old: Old = {
        columns: async (table) =>
          (raw.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]).sort(),
        exec: async (sql, params = []) => void raw.prepare(sql).run(...params),
        rows: async (table, columns) =>
          (raw.prepare(`SELECT ${columns.join(', ')} FROM ${table}`).all() as object[])
            .map((r) => JSON.stringify(r))
            .sort(),
      };
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      for (const m of migrations.filter((m) => m.version <= version)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, 1)').run(m.version);
      }
      if (version < 8)
        raw.exec(
          `CREATE TABLE state_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL); INSERT INTO state_migrations VALUES (1, 1); ${releasedState(migrations)}`,
        );
      const kept = await fill(old);
      raw.close();

      const store = upgradedSqlite(file, cleanups);
      const now: Old = {
        ...old,
        rows: async (table, columns) =>
          (store.db.prepare(`SELECT ${columns.join(', ')} FROM ${table}`).all() as object[])
            .map((r) => JSON.stringify(r))
            .sort(),
      };
      await expectUpgraded(store, now, kept);
    });

  for (const version of earlier(pgMigrations))
    it.skipIf(!pgAvailable)(
      `PostgreSQL, version ${version}: every row of its tables unchanged, the store works`,
      async () => {
        const db = await freshDatabase();
        cleanups.push(db.drop);
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        cleanups.push(() => client.end());
        const old: Old = {
          columns: async (table) =>
            (
              await client.query<{ column_name: string }>(
                'SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY column_name',
                [table],
              )
            ).rows.map((r) => r.column_name),
          exec: async (sql, params = []) => void (await client.query(toPg(sql), params)),
          rows: async (table, columns) =>
            (await client.query(`SELECT ${columns.join(', ')} FROM ${table}`)).rows
              .map((r) => JSON.stringify(r))
              .sort(),
        };
        await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
        for (const m of pgMigrations.filter((m) => m.version <= version)) {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations VALUES ($1, 1)', [m.version]);
        }
        if (version < 8)
          await client.query(
            `CREATE TABLE state_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); INSERT INTO state_migrations VALUES (1, 1); ${releasedState(pgMigrations)}`,
          );
        const kept = await fill(old);
        // Serial columns go on from the ids the rows took.
        await client.query("SELECT setval('events_id_seq', 6), setval('state_messages_id_seq', 1)");
        if (kept.has('status_outbox')) await client.query("SELECT setval('status_outbox_id_seq', 4)");

        const store = await upgradedPg(db.url, cleanups);
        await expectUpgraded(store, old, kept);
      },
    );
});
