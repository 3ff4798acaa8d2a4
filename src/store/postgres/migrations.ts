import type { PoolClient } from 'pg';

/**
 * The schema of the whole store on PostgreSQL: the tables of the SQLite steps (sqlite/migrations.ts),
 * integers as BIGINT, under the same numbers where the step is the same (3 and SQLite's 9 are the
 * rate buckets, 4 and 5 are SQLite's own indexes). Never edit a released step: add one.
 */
export const pgMigrations: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY,
        dedup_key TEXT NOT NULL UNIQUE,
        member_id TEXT NOT NULL,
        code TEXT NOT NULL,
        known BOOLEAN NOT NULL,
        status TEXT NOT NULL,
        handler_id BIGINT,
        ts BIGINT,
        order_key TEXT,
        received_at BIGINT NOT NULL,
        event TEXT NOT NULL,
        raw_body TEXT NOT NULL,
        content_type TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        lease_owner TEXT,
        lease_until BIGINT,
        last_error TEXT,
        duplicates INTEGER NOT NULL DEFAULT 0,
        processed_at BIGINT
      );
      CREATE INDEX events_runnable ON events (id) WHERE status IN ('pending', 'retry', 'processing');
      CREATE INDEX events_order ON events (order_key, id) WHERE status IN ('pending', 'retry', 'processing');
      CREATE INDEX events_received ON events (received_at);
      CREATE INDEX events_status ON events (status);
      CREATE TABLE portals (
        member_id TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        application_token TEXT,
        access_token TEXT,
        refresh_token TEXT,
        expires_at BIGINT,
        client_endpoint TEXT,
        server_endpoint TEXT,
        scope TEXT,
        status TEXT,
        installed_at BIGINT,
        uninstalled_at BIGINT,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE event_attempts (
        event_id BIGINT NOT NULL REFERENCES events (id),
        attempt INTEGER NOT NULL,
        owner TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT,
        ok BOOLEAN,
        error TEXT,
        PRIMARY KEY (event_id, attempt)
      );
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE status_outbox (
        id BIGSERIAL PRIMARY KEY,
        member_id TEXT NOT NULL,
        connector TEXT NOT NULL,
        line BIGINT NOT NULL,
        item TEXT NOT NULL,
        event_id BIGINT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        lease_owner TEXT,
        lease_until BIGINT,
        last_error TEXT
      );
      CREATE INDEX status_outbox_due ON status_outbox (id) WHERE status IN ('pending', 'sending');
    `,
  },
  {
    version: 3,
    sql: `
      CREATE TABLE rate_buckets (
        member_id TEXT PRIMARY KEY,
        level DOUBLE PRECISION NOT NULL,
        updated_at BIGINT NOT NULL
      );
    `,
  },
  {
    // Numbered as SQLite's step with the same tables (see its comment); 4 and 5 are SQLite's own indexes.
    version: 6,
    sql: `
      CREATE TABLE chat_heads (
        order_key TEXT PRIMARY KEY,
        last_key TEXT NOT NULL,
        last_id BIGINT NOT NULL,
        last_ts BIGINT
      );
      CREATE TABLE event_secrets (
        event_id BIGINT PRIMARY KEY REFERENCES events (id),
        data TEXT NOT NULL
      );
    `,
  },
  {
    // As SQLite's version 7: pruning by status and age, and delivery statuses by event, through indexes.
    version: 7,
    sql: `
      CREATE INDEX events_finished ON events (status, received_at) WHERE status IN ('done', 'invalid', 'dead');
      CREATE INDEX status_outbox_event ON status_outbox (event_id);
    `,
  },
  {
    // As SQLite's version 8: the connector state's tables, adopted where the state's own step 1
    // (state_migrations) made them already. state_migrations is left as it is, so an instance of the
    // previous version starting during an upgrade still finds its step applied.
    version: 8,
    sql: `
      CREATE TABLE IF NOT EXISTS state_applied (
        event_id BIGINT PRIMARY KEY,
        member_id TEXT NOT NULL,
        code TEXT NOT NULL,
        applied_at BIGINT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS state_lines (
        member_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        first_seen_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        deleted_at BIGINT,
        PRIMARY KEY (member_id, line)
      );
      CREATE TABLE IF NOT EXISTS state_line_connectors (
        member_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        connector TEXT NOT NULL,
        first_seen_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        status_deleted_at BIGINT,
        PRIMARY KEY (member_id, line, connector)
      );
      CREATE TABLE IF NOT EXISTS state_chats (
        member_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        external_chat_id TEXT NOT NULL,
        im_chat_id BIGINT,
        connector TEXT NOT NULL,
        first_seen_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        PRIMARY KEY (member_id, line, external_chat_id)
      );
      CREATE INDEX IF NOT EXISTS state_chats_im ON state_chats (member_id, im_chat_id);
      CREATE TABLE IF NOT EXISTS state_messages (
        id BIGSERIAL PRIMARY KEY,
        member_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        connector TEXT NOT NULL,
        im_chat_id BIGINT NOT NULL,
        im_message_id BIGINT NOT NULL,
        external_chat_id TEXT NOT NULL,
        user_id BIGINT,
        original_text TEXT,
        text TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        deleted_at BIGINT,
        UNIQUE (member_id, line, im_message_id)
      );
      CREATE INDEX IF NOT EXISTS state_messages_im ON state_messages (member_id, im_message_id);
      CREATE INDEX IF NOT EXISTS state_messages_chat ON state_messages (member_id, line, external_chat_id);
      -- rowid: the insertion order, named as SQLite's implicit column so the reads order both alike.
      CREATE TABLE IF NOT EXISTS state_message_ids (
        rowid BIGSERIAL NOT NULL,
        message_id BIGINT NOT NULL REFERENCES state_messages (id),
        external_id TEXT NOT NULL,
        PRIMARY KEY (message_id, external_id)
      );
      CREATE INDEX IF NOT EXISTS state_message_ids_external ON state_message_ids (external_id);
      CREATE TABLE IF NOT EXISTS state_message_history (
        id BIGSERIAL PRIMARY KEY,
        message_id BIGINT NOT NULL REFERENCES state_messages (id),
        event_id BIGINT NOT NULL,
        text TEXT NOT NULL,
        at BIGINT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS state_message_history_message ON state_message_history (message_id, id);
      CREATE TABLE IF NOT EXISTS state_dialogs (
        member_id TEXT NOT NULL,
        session_id BIGINT NOT NULL,
        line BIGINT NOT NULL,
        connector TEXT NOT NULL,
        external_chat_id TEXT NOT NULL,
        external_user_id TEXT,
        parent_id BIGINT,
        closed INTEGER NOT NULL,
        close_term INTEGER,
        started_at BIGINT,
        last_activity_at BIGINT,
        closed_at BIGINT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (member_id, session_id)
      );
      CREATE INDEX IF NOT EXISTS state_dialogs_chat ON state_dialogs (member_id, line, external_chat_id);
    `,
  },
  {
    // As SQLite's version 10: the customer actions, the customers' messages in the state, and the refused test events.
    version: 10,
    sql: `
      CREATE TABLE customer_actions (
        id BIGSERIAL PRIMARY KEY,
        member_id TEXT NOT NULL,
        connector TEXT NOT NULL,
        line BIGINT NOT NULL,
        type TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        order_key TEXT NOT NULL,
        item TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        lease_owner TEXT,
        lease_until BIGINT,
        last_error TEXT,
        sent_at BIGINT,
        UNIQUE (member_id, dedup_key)
      );
      CREATE INDEX customer_actions_open ON customer_actions (order_key, id) WHERE status IN ('pending', 'sending');
      CREATE INDEX customer_actions_due ON customer_actions (id) WHERE status IN ('pending', 'sending');
      CREATE INDEX customer_actions_status ON customer_actions (status);
      CREATE TABLE state_customer_messages (
        id BIGSERIAL PRIMARY KEY,
        member_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        connector TEXT NOT NULL,
        external_chat_id TEXT NOT NULL,
        external_message_id TEXT NOT NULL,
        external_user_id TEXT NOT NULL,
        im_chat_id BIGINT,
        session_id BIGINT,
        im_user_id BIGINT,
        original_text TEXT,
        text TEXT,
        files TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        deleted_at BIGINT,
        UNIQUE (member_id, line, external_chat_id, external_message_id)
      );
      ALTER TABLE state_messages ADD COLUMN read_at BIGINT;
      ALTER TABLE state_chats ADD COLUMN name TEXT;
      CREATE TABLE portal_probes (
        member_id TEXT PRIMARY KEY,
        refused_test_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 11,
    sql: `
      ALTER TABLE events ADD COLUMN delivery TEXT NOT NULL DEFAULT 'webhook';
      CREATE TABLE pull_cursors (
        id BIGSERIAL PRIMARY KEY,
        member_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        position TEXT,
        status TEXT NOT NULL DEFAULT 'active',
        due_at BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        pulled BIGINT NOT NULL DEFAULT 0,
        pulled_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (member_id, kind, target)
      );
      CREATE INDEX pull_cursors_due ON pull_cursors (due_at) WHERE status = 'active';
      `,
  },
  {
    // The console's events list: a page newest first under each filter walks an index of that
    // filter by id (status, code, portal, chat; a time range by receipt), never the table; a Bitrix24 message id finds its
    // chat through the state; and a status keeps when Bitrix24 took it (end-to-end latency).
    version: 12,
    sql: `
      CREATE INDEX events_status_id ON events (status, id);
      CREATE INDEX events_code_id ON events (code, id);
      CREATE INDEX events_member_id ON events (member_id, id);
      CREATE INDEX events_chat_id ON events (order_key, id);
      CREATE INDEX events_received_id ON events (received_at, id);
      DROP INDEX events_received;
      CREATE INDEX state_messages_message ON state_messages (im_message_id);
      ALTER TABLE status_outbox ADD COLUMN sent_at BIGINT;
    `,
  },
  {
    // The claim walks the chat heads through events_order (a seek per chat) and finds the events of
    // no chat through an index of their own: through events_runnable it stepped over every event
    // queued behind a held chat head. events_runnable stays while the previous release claims by it.
    version: 13,
    sql: `
      CREATE INDEX events_open_free ON events (id) WHERE order_key IS NULL AND status IN ('pending', 'retry', 'processing');
    `,
  },
  {
    // A chat's messages are found by (member, line, chat) in any column order; led by line, the index
    // matched a message looked up by (member, line, Bitrix24 id) as well as the unique key did, and a
    // planner without statistics yet (PostgreSQL before its first ANALYZE) walked a whole line for each.
    version: 14,
    sql: `
      DROP INDEX state_messages_chat;
      CREATE INDEX state_messages_chat ON state_messages (member_id, external_chat_id, line);
    `,
  },
  {
    // events_status_id (status, id) serves every lookup by status; each index is one more entry to
    // write on every change of an event's status (claim, finish), none of which is a HOT update.
    version: 15,
    sql: `
      DROP INDEX events_status;
    `,
  },
];

/** Any number constant to name the lock; instances starting together migrate one at a time. */
const MIGRATION_LOCK = 7_242_401;

export async function migratePg(client: PoolClient, steps = pgMigrations): Promise<number> {
  const table = 'schema_migrations';
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
    const done = new Set(
      (await client.query<{ version: number }>(`SELECT version FROM ${table}`)).rows.map((r) => r.version),
    );
    let applied = 0;
    for (const m of steps) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(`INSERT INTO ${table} (version, applied_at) VALUES ($1, $2)`, [m.version, Date.now()]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw e;
      }
      applied++;
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
