import type { Sql } from './sql.js';
import type { ChatView, DialogView, LineView, MessageEdit, MessageView } from './types.js';

export interface MessageRow {
  id: number;
  line: number;
  connector: string;
  im_chat_id: number;
  im_message_id: number;
  external_chat_id: string;
  user_id: number | null;
  original_text: string | null;
  text: string | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export function messageView(sql: Sql, r: MessageRow): MessageView {
  return {
    line: r.line,
    connector: r.connector,
    imChatId: r.im_chat_id,
    imMessageId: r.im_message_id,
    externalChatId: r.external_chat_id,
    externalIds: sql
      .all<{ external_id: string }>('SELECT external_id FROM state_message_ids WHERE message_id = ? ORDER BY rowid', r.id)
      .map((x) => x.external_id),
    userId: r.user_id,
    text: r.text,
    originalText: r.original_text,
    history: sql.all<MessageEdit>('SELECT text, at, event_id AS eventId FROM state_message_history WHERE message_id = ? ORDER BY id', r.id),
    deleted: r.deleted_at !== null,
    deletedAt: r.deleted_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}


export interface ChatRow {
  line: number;
  connector: string;
  external_chat_id: string;
  im_chat_id: number | null;
  first_seen_at: number;
  last_seen_at: number;
}

export const chatView = (r: ChatRow): ChatView => ({
  line: r.line,
  connector: r.connector,
  externalChatId: r.external_chat_id,
  imChatId: r.im_chat_id,
  firstSeenAt: r.first_seen_at,
  lastSeenAt: r.last_seen_at,
});

export interface DialogRow {
  member_id: string;
  session_id: number;
  line: number;
  connector: string;
  external_chat_id: string;
  external_user_id: string | null;
  parent_id: number | null;
  closed: number;
  close_term: number | null;
  started_at: number | null;
  last_activity_at: number | null;
  closed_at: number | null;
}

/** Follows parent_id through the sessions we know; a cycle or a missing session ends the chain. */
function parentsOf(sql: Sql, r: DialogRow): number[] {
  const chain: number[] = [];
  const seen = new Set([r.session_id]);
  let next = r.parent_id;
  while (next !== null && !seen.has(next)) {
    chain.push(next);
    seen.add(next);
    next = sql.get<{ parent_id: number | null }>('SELECT parent_id FROM state_dialogs WHERE member_id = ? AND session_id = ?', r.member_id, next)?.parent_id ?? null;
  }
  return chain;
}

export function dialogView(sql: Sql, r: DialogRow): DialogView {
  const open = r.closed === 0;
  const base = Math.max(r.started_at ?? -Infinity, r.last_activity_at ?? -Infinity);
  return {
    sessionId: r.session_id,
    line: r.line,
    connector: r.connector,
    externalChatId: r.external_chat_id,
    externalUserId: r.external_user_id,
    parentId: r.parent_id,
    parents: parentsOf(sql, r),
    open,
    closeTerm: r.close_term,
    startedAt: r.started_at,
    lastActivityAt: r.last_activity_at,
    closedAt: r.closed_at,
    closesAt: open && r.close_term !== null && Number.isFinite(base) ? base + r.close_term * 60_000 : null,
  };
}

export interface LineRow {
  line: number;
  deleted_at: number | null;
  first_seen_at: number;
  last_seen_at: number;
}

export function lineView(sql: Sql, memberId: string, r: LineRow): LineView {
  const connectors = sql.all<{ connector: string; status_deleted_at: number | null }>(
    'SELECT connector, status_deleted_at FROM state_line_connectors WHERE member_id = ? AND line = ? ORDER BY connector',
    memberId, r.line,
  );
  return {
    line: r.line,
    deleted: r.deleted_at !== null,
    deletedAt: r.deleted_at,
    connectors: connectors.map((c) => ({ connector: c.connector, statusDeleted: c.status_deleted_at !== null, statusDeletedAt: c.status_deleted_at })),
    firstSeenAt: r.first_seen_at,
    lastSeenAt: r.last_seen_at,
  };
}
