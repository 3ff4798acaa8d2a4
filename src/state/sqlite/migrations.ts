import type Database from 'better-sqlite3';
import { migrate, type Migration } from '../../store/sqlite/migrations.js';

/** The connector state's own schema steps, versioned apart from the inbox's. Never edit a released step: add one. */
export const stateMigrations: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE state_applied (
        event_id INTEGER PRIMARY KEY,
        member_id TEXT NOT NULL,
        code TEXT NOT NULL,
        applied_at INTEGER NOT NULL
      );
      CREATE TABLE state_lines (
        member_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        first_seen_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        deleted_at INTEGER,
        PRIMARY KEY (member_id, line)
      );
      CREATE TABLE state_line_connectors (
        member_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        connector TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        status_deleted_at INTEGER,
        PRIMARY KEY (member_id, line, connector)
      );
      CREATE TABLE state_chats (
        member_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        external_chat_id TEXT NOT NULL,
        im_chat_id INTEGER,
        connector TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        PRIMARY KEY (member_id, line, external_chat_id)
      );
      CREATE INDEX state_chats_im ON state_chats (member_id, im_chat_id);
      CREATE TABLE state_messages (
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
      CREATE INDEX state_messages_im ON state_messages (member_id, im_message_id);
      CREATE INDEX state_messages_chat ON state_messages (member_id, line, external_chat_id);
      CREATE TABLE state_message_ids (
        message_id INTEGER NOT NULL REFERENCES state_messages (id),
        external_id TEXT NOT NULL,
        PRIMARY KEY (message_id, external_id)
      );
      CREATE INDEX state_message_ids_external ON state_message_ids (external_id);
      CREATE TABLE state_message_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL REFERENCES state_messages (id),
        event_id INTEGER NOT NULL,
        text TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX state_message_history_message ON state_message_history (message_id, id);
      CREATE TABLE state_dialogs (
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
      CREATE INDEX state_dialogs_chat ON state_dialogs (member_id, line, external_chat_id);
    `,
  },
];

export const migrateState = (db: Database.Database): number => migrate(db, stateMigrations, 'state_migrations');
