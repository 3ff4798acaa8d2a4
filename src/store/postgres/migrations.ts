import type { PoolClient } from 'pg';

/** Versioned schema steps for PostgreSQL; the same tables as the SQLite store. */
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
];

/** Any number constant to name the lock; instances starting together migrate one at a time. */
const MIGRATION_LOCK = 7_242_401;

export async function migratePg(client: PoolClient, steps = pgMigrations, table = 'schema_migrations'): Promise<number> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${table}`)).rows.map((r) => r.version));
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
