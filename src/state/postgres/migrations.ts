import type { PoolClient } from 'pg';
import { migratePg } from '../../store/postgres/migrations.js';

/**
 * The connector state's schema on PostgreSQL: the tables of the SQLite steps (src/state/sqlite/migrations.ts),
 * integers as BIGINT, versioned apart from the inbox's. Never edit a released step: add one, on both sides.
 */
export const statePgMigrations: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE state_applied (
        event_id BIGINT PRIMARY KEY,
        member_id TEXT NOT NULL,
        code TEXT NOT NULL,
        applied_at BIGINT NOT NULL
      );
      CREATE TABLE state_lines (
        member_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        first_seen_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        deleted_at BIGINT,
        PRIMARY KEY (member_id, line)
      );
      CREATE TABLE state_line_connectors (
        member_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        connector TEXT NOT NULL,
        first_seen_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        status_deleted_at BIGINT,
        PRIMARY KEY (member_id, line, connector)
      );
      CREATE TABLE state_chats (
        member_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        external_chat_id TEXT NOT NULL,
        im_chat_id BIGINT,
        connector TEXT NOT NULL,
        first_seen_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        PRIMARY KEY (member_id, line, external_chat_id)
      );
      CREATE INDEX state_chats_im ON state_chats (member_id, im_chat_id);
      CREATE TABLE state_messages (
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
      CREATE INDEX state_messages_im ON state_messages (member_id, im_message_id);
      CREATE INDEX state_messages_chat ON state_messages (member_id, line, external_chat_id);
      -- rowid: the insertion order, named as SQLite's implicit column so the reads order both alike.
      CREATE TABLE state_message_ids (
        rowid BIGSERIAL NOT NULL,
        message_id BIGINT NOT NULL REFERENCES state_messages (id),
        external_id TEXT NOT NULL,
        PRIMARY KEY (message_id, external_id)
      );
      CREATE INDEX state_message_ids_external ON state_message_ids (external_id);
      CREATE TABLE state_message_history (
        id BIGSERIAL PRIMARY KEY,
        message_id BIGINT NOT NULL REFERENCES state_messages (id),
        event_id BIGINT NOT NULL,
        text TEXT NOT NULL,
        at BIGINT NOT NULL
      );
      CREATE INDEX state_message_history_message ON state_message_history (message_id, id);
      CREATE TABLE state_dialogs (
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
      CREATE INDEX state_dialogs_chat ON state_dialogs (member_id, line, external_chat_id);
    `,
  },
];

export const migrateStatePg = (client: PoolClient): Promise<number> => migratePg(client, statePgMigrations, 'state_migrations');
