import type { EventMap } from '../../events/registry.js';
import { greatest, run, type Work } from '../sql.js';
import type { EventMeta } from '../types.js';

/** Records that a line (and the connector on it) was seen, so lines() lists every line events mention. */
export function* touchLine(meta: EventMeta, line: number, connector?: string): Work<void> {
  const { memberId, receivedAt: at } = meta;
  yield* run(
    `INSERT INTO state_lines (member_id, line, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (member_id, line) DO UPDATE SET last_seen_at = ${greatest('state_lines.last_seen_at', 'excluded.last_seen_at')}`,
    memberId, line, at, at,
  );
  if (connector === undefined) return;
  yield* run(
    `INSERT INTO state_line_connectors (member_id, line, connector, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, connector) DO UPDATE SET
       last_seen_at = ${greatest('state_line_connectors.last_seen_at', 'excluded.last_seen_at')}`,
    memberId, line, connector, at, at,
  );
}

/** The Bitrix24 chat behind an external chat. Dialog events carry no Bitrix24 chat id, so a null keeps the known one. */
export function* touchChat(meta: EventMeta, line: number, connector: string, externalChatId: string, imChatId: number | null): Work<void> {
  const { memberId, receivedAt: at } = meta;
  yield* run(
    `INSERT INTO state_chats (member_id, line, external_chat_id, im_chat_id, connector, first_seen_at, last_seen_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, external_chat_id) DO UPDATE SET
       im_chat_id = COALESCE(excluded.im_chat_id, state_chats.im_chat_id), connector = excluded.connector,
       last_seen_at = ${greatest('state_chats.last_seen_at', 'excluded.last_seen_at')}`,
    memberId, line, externalChatId, imChatId, connector, at, at,
  );
}

/*
 * Both marks stay set: a status or line delete is keyed by line, a message by chat, so a message
 * sent before the delete may be applied after it and must not read as a reactivation.
 */
export function* applyStatusDelete(meta: EventMeta, data: EventMap['ONIMCONNECTORSTATUSDELETE']['data']): Work<void> {
  yield* touchLine(meta, data.line, data.connector);
  yield* run(
    'UPDATE state_line_connectors SET status_deleted_at = ? WHERE member_id = ? AND line = ? AND connector = ?',
    meta.receivedAt, meta.memberId, data.line, data.connector,
  );
}

export function* applyLineDelete(meta: EventMeta, line: EventMap['ONIMCONNECTORLINEDELETE']['data']): Work<void> {
  yield* touchLine(meta, line);
  yield* run('UPDATE state_lines SET deleted_at = ? WHERE member_id = ? AND line = ?', meta.receivedAt, meta.memberId, line);
}
