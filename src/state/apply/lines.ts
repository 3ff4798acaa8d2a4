import type { EventMap } from '../../events/registry.js';
import type { Tx } from '../sql.js';

/** Records that a line (and the connector on it) was seen, so lines() lists every line events mention. */
export function touchLine(tx: Tx, line: number, connector?: string): void {
  const { memberId, receivedAt: at } = tx.meta;
  tx.sql.run(
    `INSERT INTO state_lines (member_id, line, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (member_id, line) DO UPDATE SET last_seen_at = MAX(last_seen_at, excluded.last_seen_at)`,
    memberId, line, at, at,
  );
  if (connector === undefined) return;
  tx.sql.run(
    `INSERT INTO state_line_connectors (member_id, line, connector, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, connector) DO UPDATE SET last_seen_at = MAX(last_seen_at, excluded.last_seen_at)`,
    memberId, line, connector, at, at,
  );
}

/** The Bitrix24 chat behind an external chat. Dialog events carry no Bitrix24 chat id, so a null keeps the known one. */
export function touchChat(tx: Tx, line: number, connector: string, externalChatId: string, imChatId: number | null): void {
  const { memberId, receivedAt: at } = tx.meta;
  tx.sql.run(
    `INSERT INTO state_chats (member_id, line, external_chat_id, im_chat_id, connector, first_seen_at, last_seen_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, external_chat_id) DO UPDATE SET
       im_chat_id = COALESCE(excluded.im_chat_id, im_chat_id), connector = excluded.connector,
       last_seen_at = MAX(last_seen_at, excluded.last_seen_at)`,
    memberId, line, externalChatId, imChatId, connector, at, at,
  );
}

/*
 * Both marks stay set: a status or line delete is keyed by line, a message by chat, so a message
 * sent before the delete may be applied after it and must not read as a reactivation.
 */
export function applyStatusDelete(tx: Tx, data: EventMap['ONIMCONNECTORSTATUSDELETE']['data']): void {
  touchLine(tx, data.line, data.connector);
  tx.sql.run(
    'UPDATE state_line_connectors SET status_deleted_at = ? WHERE member_id = ? AND line = ? AND connector = ?',
    tx.meta.receivedAt, tx.meta.memberId, data.line, data.connector,
  );
}

export function applyLineDelete(tx: Tx, line: EventMap['ONIMCONNECTORLINEDELETE']['data']): void {
  touchLine(tx, line);
  tx.sql.run('UPDATE state_lines SET deleted_at = ? WHERE member_id = ? AND line = ?', tx.meta.receivedAt, tx.meta.memberId, line);
}
