import { GatewayError } from '../../errors.js';
import { all, get, where as conditions, type Work } from '../sql/work.js';
import type {
  ChatView,
  ConversationEntry,
  CustomerMessageView,
  DialogFilter,
  DialogView,
  LineView,
  MessageEdit,
  MessageFilter,
  MessageRef,
  MessageView,
} from './types.js';
import {
  chatView,
  customerMessageView,
  dialogView,
  lineView,
  messageView,
  type ChatRow,
  type CustomerMessageRow,
  type DialogRow,
  type LineConnectorRow,
  type LineRow,
  type MessageRow,
} from './views.js';

/** Which messages, as a condition on message_id: `= ?` for one, `IN (SELECT ...)` for the rows a filter found. */
interface Which {
  sql: string;
  params: unknown[];
}

/** The rows of `table` for the messages `which` selects, grouped by message, each group in the query's order. */
function* byMessage<R extends { message_id: number }>(
  select: string,
  table: string,
  order: string,
  which: Which,
): Work<Map<number, R[]>> {
  const found = new Map<number, R[]>();
  for (const r of yield* all<R>(
    `SELECT message_id, ${select} FROM ${table} WHERE message_id ${which.sql} ORDER BY ${order}`,
    ...which.params,
  )) {
    const list = found.get(r.message_id);
    if (list) list.push(r);
    else found.set(r.message_id, [r]);
  }
  return found;
}

/** The views of message rows: their external ids and edits read in one query each, not one per message. */
function* messageViews(rows: MessageRow[], which: Which): Work<MessageView[]> {
  if (rows.length === 0) return [];
  // rowid: insertion order (SQLite's implicit column; on PostgreSQL a serial of that name).
  const externalIds = yield* byMessage<{ message_id: number; external_id: string }>(
    'external_id',
    'state_message_ids',
    'rowid',
    which,
  );
  const history = yield* byMessage<MessageEdit & { message_id: number }>(
    'text, at, event_id AS "eventId"',
    'state_message_history',
    'id',
    which,
  );
  return rows.map((r) =>
    messageView(
      r,
      (externalIds.get(r.id) ?? []).map((x) => x.external_id),
      (history.get(r.id) ?? []).map((h) => ({ text: h.text, at: h.at, eventId: h.eventId })),
    ),
  );
}

export function* readApplied(eventId: number): Work<boolean> {
  return (yield* get('SELECT 1 AS one FROM state_applied WHERE event_id = ?', eventId)) !== undefined;
}

export function* readMessage(memberId: string, ref: MessageRef): Work<MessageView | undefined> {
  if (ref.imMessageId === undefined && ref.externalId === undefined) {
    throw new GatewayError('B24GW_BAD_INPUT', 'message() needs imMessageId or externalId');
  }
  const { where, params } = conditions([
    ['member_id = ?', memberId],
    ['line = ?', ref.line],
    ['im_message_id = ?', ref.imMessageId],
    // The outer member_id scopes it: message rows belong to one portal.
    ['id IN (SELECT message_id FROM state_message_ids WHERE external_id = ?)', ref.externalId],
  ]);
  const row = yield* get<MessageRow>(
    `SELECT * FROM state_messages WHERE ${where} ORDER BY updated_at DESC, id DESC LIMIT 1`,
    ...params,
  );
  return row && (yield* messageViews([row], { sql: '= ?', params: [row.id] }))[0];
}

export function* readMessages(memberId: string, filter: MessageFilter = {}): Work<MessageView[]> {
  const { where, params } = conditions([
    ['member_id = ?', memberId],
    ['line = ?', filter.line],
    ['external_chat_id = ?', filter.externalChatId],
  ]);
  const rows = yield* all<MessageRow>(`SELECT * FROM state_messages WHERE ${where} ORDER BY id`, ...params);
  return yield* messageViews(rows, { sql: `IN (SELECT id FROM state_messages WHERE ${where})`, params });
}

export function* readChat(memberId: string, line: number, externalChatId: string): Work<ChatView | undefined> {
  const row = yield* get<ChatRow>(
    'SELECT * FROM state_chats WHERE member_id = ? AND line = ? AND external_chat_id = ?',
    memberId,
    line,
    externalChatId,
  );
  return row && chatView(row);
}

export function* readChatByImId(memberId: string, imChatId: number): Work<ChatView | undefined> {
  const row = yield* get<ChatRow>(
    'SELECT * FROM state_chats WHERE member_id = ? AND im_chat_id = ? ORDER BY last_seen_at DESC LIMIT 1',
    memberId,
    imChatId,
  );
  return row && chatView(row);
}

export function* readChats(memberId: string, filter: { line?: number } = {}): Work<ChatView[]> {
  const { where, params } = conditions([
    ['member_id = ?', memberId],
    ['line = ?', filter.line],
  ]);
  const rows = yield* all<ChatRow>(
    `SELECT * FROM state_chats WHERE ${where} ORDER BY last_seen_at DESC, line, external_chat_id`,
    ...params,
  );
  return rows.map(chatView);
}

/** Follows parent_id through the sessions we know; a cycle or a missing session ends the chain. */
function* parentsOf(r: DialogRow): Work<number[]> {
  const chain: number[] = [];
  const seen = new Set([r.session_id]);
  let next = r.parent_id;
  while (next !== null && !seen.has(next)) {
    chain.push(next);
    seen.add(next);
    next =
      (yield* get<{ parent_id: number | null }>(
        'SELECT parent_id FROM state_dialogs WHERE member_id = ? AND session_id = ?',
        r.member_id,
        next,
      ))?.parent_id ?? null;
  }
  return chain;
}

export function* readDialogs(memberId: string, filter: DialogFilter = {}): Work<DialogView[]> {
  const { where, params } = conditions([
    ['member_id = ?', memberId],
    ['line = ?', filter.line],
    ['closed = ?', filter.open === undefined ? undefined : filter.open ? 0 : 1],
  ]);
  const views: DialogView[] = [];
  for (const r of yield* all<DialogRow>(`SELECT * FROM state_dialogs WHERE ${where} ORDER BY session_id`, ...params)) {
    views.push(dialogView(r, yield* parentsOf(r)));
  }
  return views;
}

export function* readLines(memberId: string): Work<LineView[]> {
  const views: LineView[] = [];
  for (const r of yield* all<LineRow>('SELECT * FROM state_lines WHERE member_id = ? ORDER BY line', memberId)) {
    const connectors = yield* all<LineConnectorRow>(
      'SELECT connector, status_deleted_at FROM state_line_connectors WHERE member_id = ? AND line = ?',
      memberId,
      r.line,
    );
    // Sorted here: PostgreSQL orders text by the database's locale, SQLite by code point.
    connectors.sort((a, b) => (a.connector < b.connector ? -1 : a.connector > b.connector ? 1 : 0));
    views.push(lineView(r, connectors));
  }
  return views;
}

export function* readCustomerMessage(
  memberId: string,
  line: number,
  externalChatId: string,
  externalMessageId: string,
): Work<CustomerMessageView | undefined> {
  const row = yield* get<CustomerMessageRow>(
    'SELECT * FROM state_customer_messages WHERE member_id = ? AND line = ? AND external_chat_id = ? AND external_message_id = ?',
    memberId,
    line,
    externalChatId,
    externalMessageId,
  );
  return row && customerMessageView(row);
}

/** Both sides of a chat by when each message was first seen, the operators' first on a tie. */
export function* readConversation(memberId: string, line: number, externalChatId: string): Work<ConversationEntry[]> {
  const operators = yield* readMessages(memberId, { line, externalChatId });
  const customers = yield* all<CustomerMessageRow>(
    'SELECT * FROM state_customer_messages WHERE member_id = ? AND line = ? AND external_chat_id = ? ORDER BY id',
    memberId,
    line,
    externalChatId,
  );
  const entries: ConversationEntry[] = [
    ...operators.map((m): ConversationEntry => ({
      from: 'operator',
      externalIds: m.externalIds,
      imMessageId: m.imMessageId,
      text: m.text,
      deleted: m.deleted,
      readAt: m.readAt,
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
    })),
    ...customers.map(customerMessageView).map((m): ConversationEntry => ({
      from: 'customer',
      externalIds: [m.externalMessageId],
      imMessageId: null,
      text: m.text,
      deleted: m.deleted,
      readAt: null,
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
    })),
  ];
  // A stable sort: each side keeps its own order within one millisecond.
  return entries.sort((a, b) => a.createdAt - b.createdAt);
}
