import type Database from 'better-sqlite3';

/**
 * The schema of the whole store (inbox, outbox, portals, connector state) on SQLite: steps applied in
 * order, each once. Never edit a released step: add one, with PostgreSQL's under the same number
 * when it is the same step (postgres/migrations.ts).
 */
export interface Migration {
  version: number;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dedup_key TEXT NOT NULL UNIQUE,
        member_id TEXT NOT NULL,
        code TEXT NOT NULL,
        known INTEGER NOT NULL,
        status TEXT NOT NULL,
        handler_id INTEGER,
        ts INTEGER,
        order_key TEXT,
        received_at INTEGER NOT NULL,
        event TEXT NOT NULL,
        raw_body TEXT NOT NULL,
        content_type TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        last_error TEXT,
        duplicates INTEGER NOT NULL DEFAULT 0,
        processed_at INTEGER
      );
      CREATE INDEX events_status ON events (status, next_attempt_at);
      CREATE INDEX events_order ON events (order_key, id);
      CREATE INDEX events_received ON events (received_at);
      CREATE TABLE portals (
        member_id TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        application_token TEXT,
        access_token TEXT,
        refresh_token TEXT,
        expires_at INTEGER,
        client_endpoint TEXT,
        server_endpoint TEXT,
        scope TEXT,
        status TEXT,
        installed_at INTEGER,
        uninstalled_at INTEGER,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE event_attempts (
        event_id INTEGER NOT NULL REFERENCES events (id),
        attempt INTEGER NOT NULL,
        owner TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        ok INTEGER,
        error TEXT,
        PRIMARY KEY (event_id, attempt)
      );
    `,
  },
  {
    version: 3,
    sql: `
      CREATE TABLE status_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id TEXT NOT NULL,
        connector TEXT NOT NULL,
        line INTEGER NOT NULL,
        item TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        last_error TEXT
      );
      CREATE INDEX status_outbox_due ON status_outbox (status, next_attempt_at);
    `,
  },
  {
    // Claims look only at unfinished events; indexes over done ones made each claim scan a chat's whole history.
    version: 4,
    sql: `
      CREATE INDEX events_open ON events (id) WHERE status IN ('pending', 'retry', 'processing');
      CREATE INDEX events_open_order ON events (order_key, id) WHERE status IN ('pending', 'retry', 'processing');
      DROP INDEX events_order;
    `,
  },
  {
    // Events of no chat have an index of their own: under a flood, finding them through every
    // unfinished event (events_open) scanned the whole backlog on each claim, 3/4 of the worker's CPU.
    version: 5,
    sql: `
      CREATE INDEX events_open_free ON events (id) WHERE order_key IS NULL AND status IN ('pending', 'retry', 'processing');
      DROP INDEX events_open;
    `,
  },
  {
    // chat_heads: each chat's latest stored event, so that a repeat of an earlier event after a
    // different one of the same second is kept (an edit back), not taken for a re-delivery.
    // event_secrets: what handlers need of an event's secrets, apart from the event, until it is finished.
    version: 6,
    sql: `
      CREATE TABLE chat_heads (
        order_key TEXT PRIMARY KEY,
        last_key TEXT NOT NULL,
        last_id INTEGER NOT NULL,
        last_ts INTEGER
      ) WITHOUT ROWID;
      CREATE TABLE event_secrets (
        event_id INTEGER PRIMARY KEY,
        data TEXT NOT NULL
      );
    `,
  },
  {
    // Pruning finds old finished events by status and age, and each one's delivery statuses by its id,
    // without walking the table. Only finished events are in the first index: the intake's inserts skip it.
    version: 7,
    sql: `
      CREATE INDEX events_finished ON events (status, received_at) WHERE status IN ('done', 'invalid', 'dead');
      CREATE INDEX status_outbox_event ON status_outbox (event_id);
    `,
  },
  {
    // The connector state's tables. Until this step the state kept them under a version table of its
    // own (state_migrations, step 1): IF NOT EXISTS adopts the tables such a database already has,
    // and state_migrations is left as it is, so nothing of the state is lost or made twice.
    version: 8,
    sql: `
      CREATE TABLE IF NOT EXISTS state_applied (
        event_id INTEGER PRIMARY KEY,
        member_id TEXT NOT NULL,
        code TEXT NOT NULL,
        applied_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS state_lines (
        member_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        first_seen_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        deleted_at INTEGER,
        PRIMARY KEY (member_id, line)
      );
      CREATE TABLE IF NOT EXISTS state_line_connectors (
        member_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        connector TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        status_deleted_at INTEGER,
        PRIMARY KEY (member_id, line, connector)
      );
      CREATE TABLE IF NOT EXISTS state_chats (
        member_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        external_chat_id TEXT NOT NULL,
        im_chat_id INTEGER,
        connector TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        PRIMARY KEY (member_id, line, external_chat_id)
      );
      CREATE INDEX IF NOT EXISTS state_chats_im ON state_chats (member_id, im_chat_id);
      CREATE TABLE IF NOT EXISTS state_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        connector TEXT NOT NULL,
        im_chat_id INTEGER NOT NULL,
        im_message_id INTEGER NOT NULL,
        external_chat_id TEXT NOT NULL,
        user_id INTEGER,
        original_text TEXT,
        text TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted_at INTEGER,
        UNIQUE (member_id, line, im_message_id)
      );
      CREATE INDEX IF NOT EXISTS state_messages_im ON state_messages (member_id, im_message_id);
      CREATE INDEX IF NOT EXISTS state_messages_chat ON state_messages (member_id, line, external_chat_id);
      CREATE TABLE IF NOT EXISTS state_message_ids (
        message_id INTEGER NOT NULL REFERENCES state_messages (id),
        external_id TEXT NOT NULL,
        PRIMARY KEY (message_id, external_id)
      );
      CREATE INDEX IF NOT EXISTS state_message_ids_external ON state_message_ids (external_id);
      CREATE TABLE IF NOT EXISTS state_message_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL REFERENCES state_messages (id),
        event_id INTEGER NOT NULL,
        text TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS state_message_history_message ON state_message_history (message_id, id);
      CREATE TABLE IF NOT EXISTS state_dialogs (
        member_id TEXT NOT NULL,
        session_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        connector TEXT NOT NULL,
        external_chat_id TEXT NOT NULL,
        external_user_id TEXT,
        parent_id INTEGER,
        closed INTEGER NOT NULL,
        close_term INTEGER,
        started_at INTEGER,
        last_activity_at INTEGER,
        closed_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (member_id, session_id)
      );
      CREATE INDEX IF NOT EXISTS state_dialogs_chat ON state_dialogs (member_id, line, external_chat_id);
    `,
  },
  {
    // Each portal's REST leaky bucket as a row (PostgreSQL's step 3), so that every thread and
    // process on the file reserves slots from one bucket, as the portal counts them.
    version: 9,
    sql: `
      CREATE TABLE rate_buckets (
        member_id TEXT PRIMARY KEY,
        level REAL NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    // The customer's side: what the channel's customers did, kept before the channel is answered
    // and sent to Bitrix24 in order per chat (order_key); dedup_key is the channel's own key, so a
    // retried request is kept once. The state learns the customers' messages, the chats' names and
    // which operator messages were read; portal_probes notes an ONAPPTEST refused for its token.
    version: 10,
    sql: `
      CREATE TABLE customer_actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id TEXT NOT NULL,
        connector TEXT NOT NULL,
        line INTEGER NOT NULL,
        type TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        order_key TEXT NOT NULL,
        item TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        last_error TEXT,
        sent_at INTEGER,
        UNIQUE (member_id, dedup_key)
      );
      CREATE INDEX customer_actions_open ON customer_actions (order_key, id) WHERE status IN ('pending', 'sending');
      CREATE INDEX customer_actions_due ON customer_actions (id) WHERE status IN ('pending', 'sending');
      CREATE INDEX customer_actions_status ON customer_actions (status);
      CREATE TABLE state_customer_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        connector TEXT NOT NULL,
        external_chat_id TEXT NOT NULL,
        external_message_id TEXT NOT NULL,
        external_user_id TEXT NOT NULL,
        im_chat_id INTEGER,
        session_id INTEGER,
        im_user_id INTEGER,
        original_text TEXT,
        text TEXT,
        files TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted_at INTEGER,
        UNIQUE (member_id, line, external_chat_id, external_message_id)
      );
      ALTER TABLE state_messages ADD COLUMN read_at INTEGER;
      ALTER TABLE state_chats ADD COLUMN name TEXT;
      CREATE TABLE portal_probes (
        member_id TEXT PRIMARY KEY,
        refused_test_at INTEGER NOT NULL
      );
    `,
  },
  {
    // Pull modes: where each pull stands (a bot's Event.get offset, a portal's offline process_id), and how each event arrived.
    version: 11,
    sql: `
      ALTER TABLE events ADD COLUMN delivery TEXT NOT NULL DEFAULT 'webhook';
      CREATE TABLE pull_cursors (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        position TEXT,
        status TEXT NOT NULL DEFAULT 'active',
        due_at INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        pulled INTEGER NOT NULL DEFAULT 0,
        pulled_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
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
      ALTER TABLE status_outbox ADD COLUMN sent_at INTEGER;
    `,
  },
  {
    // PostgreSQL's step 13 gives its claim the index of the events of no chat that SQLite's has had
    // since step 5: here the step only keeps the numbers in step.
    version: 13,
    sql: `
      CREATE INDEX IF NOT EXISTS events_open_free ON events (id) WHERE order_key IS NULL AND status IN ('pending', 'retry', 'processing');
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
];

/** Applies what is missing under a write lock, so processes starting together do it once. */
export function migrate(db: Database.Database, steps: readonly Migration[] = migrations): number {
  const table = 'schema_migrations';
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`);
  const run = db.transaction(() => {
    const done = new Set(db.prepare(`SELECT version FROM ${table}`).pluck().all() as number[]);
    let applied = 0;
    for (const m of steps) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare(`INSERT INTO ${table} (version, applied_at) VALUES (?, ?)`).run(m.version, Date.now());
      applied++;
    }
    return applied;
  });
  return run.immediate();
}
