import type Database from 'better-sqlite3';

/** Versioned schema steps, applied in order, each once. Never edit a released step: add one. */
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
];

/**
 * Applies what is missing under a write lock, so processes starting together do it once.
 * Each part of the schema (the inbox, the connector state) keeps its own version table.
 */
export function migrate(db: Database.Database, steps: readonly Migration[] = migrations, table = 'schema_migrations'): number {
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
