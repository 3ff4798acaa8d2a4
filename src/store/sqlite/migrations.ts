import type Database from 'better-sqlite3';

/** Versioned schema steps, applied in order, each once. Never edit a released step: add one. */
export const migrations: readonly { version: number; sql: string }[] = [
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
];

/** Applies what is missing under a write lock, so processes starting together do it once. */
export function migrate(db: Database.Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const run = db.transaction(() => {
    const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    let applied = 0;
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
      applied++;
    }
    return applied;
  });
  return run.immediate();
}
