import type {
  ChatView,
  CustomerFile,
  CustomerMessageView,
  DialogView,
  LineConnectorView,
  LineView,
  MessageEdit,
  MessageView,
} from './types.js';

/** Rows as both databases return them (PostgreSQL's BIGINT read as numbers), and the views made of them. */

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
  read_at: number | null;
}

export const messageView = (r: MessageRow, externalIds: string[], history: MessageEdit[]): MessageView => ({
  line: r.line,
  connector: r.connector,
  imChatId: r.im_chat_id,
  imMessageId: r.im_message_id,
  externalChatId: r.external_chat_id,
  externalIds,
  userId: r.user_id,
  text: r.text,
  originalText: r.original_text,
  history,
  deleted: r.deleted_at !== null,
  deletedAt: r.deleted_at,
  readAt: r.read_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export interface ChatRow {
  line: number;
  connector: string;
  external_chat_id: string;
  im_chat_id: number | null;
  name: string | null;
  first_seen_at: number;
  last_seen_at: number;
}

export const chatView = (r: ChatRow): ChatView => ({
  line: r.line,
  connector: r.connector,
  externalChatId: r.external_chat_id,
  imChatId: r.im_chat_id,
  name: r.name,
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

export function dialogView(r: DialogRow, parents: number[]): DialogView {
  const open = r.closed === 0;
  const base = Math.max(r.started_at ?? -Infinity, r.last_activity_at ?? -Infinity);
  return {
    sessionId: r.session_id,
    line: r.line,
    connector: r.connector,
    externalChatId: r.external_chat_id,
    externalUserId: r.external_user_id,
    parentId: r.parent_id,
    parents,
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

export interface LineConnectorRow {
  connector: string;
  status_deleted_at: number | null;
}

export const lineView = (r: LineRow, connectors: LineConnectorRow[]): LineView => ({
  line: r.line,
  deleted: r.deleted_at !== null,
  deletedAt: r.deleted_at,
  connectors: connectors.map((c): LineConnectorView => ({
    connector: c.connector,
    statusDeleted: c.status_deleted_at !== null,
    statusDeletedAt: c.status_deleted_at,
  })),
  firstSeenAt: r.first_seen_at,
  lastSeenAt: r.last_seen_at,
});

export interface CustomerMessageRow {
  line: number;
  connector: string;
  external_chat_id: string;
  external_message_id: string;
  external_user_id: string;
  im_chat_id: number | null;
  session_id: number | null;
  im_user_id: number | null;
  original_text: string | null;
  text: string | null;
  files: string | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export const customerMessageView = (r: CustomerMessageRow): CustomerMessageView => ({
  line: r.line,
  connector: r.connector,
  externalChatId: r.external_chat_id,
  externalMessageId: r.external_message_id,
  externalUserId: r.external_user_id,
  imChatId: r.im_chat_id,
  sessionId: r.session_id,
  imUserId: r.im_user_id,
  text: r.text,
  originalText: r.original_text,
  files: r.files === null ? [] : (JSON.parse(r.files) as CustomerFile[]),
  deleted: r.deleted_at !== null,
  deletedAt: r.deleted_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
