import type { EventMap } from '../../../events/registry.js';
import { greatest, run, type Work } from '../../sql/work.js';
import type { EventMeta } from '../types.js';

/** Records that a line (and the connector on it) was seen, so lines() lists every line events mention. */
/**
 * Every event of a line touches its row, and on PostgreSQL a row updated in every transaction
 * makes all of them wait for each other. So an existing row is left alone (DO NOTHING takes no
 * lock), and last_seen_at moves only when it is a minute old: it is exact to the minute.
 */
export function* touchLine(meta: EventMeta, line: number, connector?: string): Work<void> {
  const { memberId, receivedAt: at } = meta;
  yield* run(
    'INSERT INTO state_lines (member_id, line, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (member_id, line) DO NOTHING',
    memberId,
    line,
    at,
    at,
  );
  yield* run(
    'UPDATE state_lines SET last_seen_at = ? WHERE member_id = ? AND line = ? AND last_seen_at < ?',
    at,
    memberId,
    line,
    at - SEEN_RESOLUTION_MS,
  );
  if (connector === undefined) return;
  yield* run(
    `INSERT INTO state_line_connectors (member_id, line, connector, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, connector) DO NOTHING`,
    memberId,
    line,
    connector,
    at,
    at,
  );
  yield* run(
    'UPDATE state_line_connectors SET last_seen_at = ? WHERE member_id = ? AND line = ? AND connector = ? AND last_seen_at < ?',
    at,
    memberId,
    line,
    connector,
    at - SEEN_RESOLUTION_MS,
  );
}

const SEEN_RESOLUTION_MS = 60_000;

/** The Bitrix24 chat behind an external chat. Dialog events carry no Bitrix24 chat id, so a null keeps the known one. */
export function* touchChat(
  meta: EventMeta,
  line: number,
  connector: string,
  externalChatId: string,
  imChatId: number | null,
): Work<void> {
  const { memberId, receivedAt: at } = meta;
  yield* run(
    `INSERT INTO state_chats (member_id, line, external_chat_id, im_chat_id, connector, first_seen_at, last_seen_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, external_chat_id) DO UPDATE SET
       im_chat_id = COALESCE(excluded.im_chat_id, state_chats.im_chat_id), connector = excluded.connector,
       last_seen_at = ${greatest('state_chats.last_seen_at', 'excluded.last_seen_at')}`,
    memberId,
    line,
    externalChatId,
    imChatId,
    connector,
    at,
    at,
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
    meta.receivedAt,
    meta.memberId,
    data.line,
    data.connector,
  );
}

export function* applyLineDelete(meta: EventMeta, line: EventMap['ONIMCONNECTORLINEDELETE']['data']): Work<void> {
  yield* touchLine(meta, line);
  yield* run(
    'UPDATE state_lines SET deleted_at = ? WHERE member_id = ? AND line = ?',
    meta.receivedAt,
    meta.memberId,
    line,
  );
}
