import type Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';
import { normalizeCode } from '../events/registry.js';
import { applyData, isStateCode, type StateCode } from './apply/index.js';
import { migrateState } from './migrations.js';
import { Sql, whereOf, type EventMeta } from './sql.js';
import type { ChatView, DialogView, LineView, MessageRef, MessageView } from './types.js';
import { chatView, dialogView, lineView, messageView, type ChatRow, type DialogRow, type LineRow, type MessageRow } from './views.js';

export type { EventMeta } from './sql.js';
export type * from './types.js';

/** What apply() reads of an event: its code and data, as stored by the inbox or as received. */
export interface StateEvent {
  event: string;
  data?: unknown;
  [k: string]: unknown;
}

/**
 * What the connector events say about a portal's lines, chats, messages and dialogs, kept in
 * `state_*` tables beside the inbox. The worker applies each event once; reads serve the effects.
 */
export class ConnectorState {
  private readonly sql: Sql;
  private readonly applyTx: Database.Transaction<(code: StateCode, data: unknown, meta: EventMeta) => boolean>;

  constructor(readonly db: Database.Database) {
    migrateState(db);
    this.sql = new Sql(db);
    this.applyTx = db.transaction((code: StateCode, data: unknown, meta: EventMeta): boolean => {
      const fresh = this.sql.run(
        'INSERT INTO state_applied (event_id, member_id, code, applied_at) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING',
        meta.eventId, meta.memberId, code, Date.now(),
      );
      if (fresh.changes === 0) return false;
      applyData({ sql: this.sql, meta }, code, data);
      return true;
    });
  }

  /**
   * Applies one event's effect on the state, in one transaction. Idempotent by meta.eventId: the worker
   * retries. Returns true if this call changed the state; false for an event already applied or one
   * that does not concern the state. Throws (and changes nothing) if the data does not match its schema.
   */
  apply(event: StateEvent, meta: EventMeta): boolean {
    const code = typeof event.event === 'string' ? normalizeCode(event.event) : '';
    if (!isStateCode(code)) return false;
    // immediate: take the write lock up front, so two processes never deadlock upgrading a read.
    return this.applyTx.immediate(code, event.data, meta);
  }

  /** Whether an event id has been applied. */
  applied(eventId: number): boolean {
    return this.sql.get('SELECT 1 FROM state_applied WHERE event_id = ?', eventId) !== undefined;
  }

  /** One message by its Bitrix24 id and/or an external id; if several lines match, the latest updated. */
  message(memberId: string, ref: MessageRef): MessageView | undefined {
    if (ref.imMessageId === undefined && ref.externalId === undefined) {
      throw new GatewayError('B24GW_BAD_INPUT', 'message() needs imMessageId or externalId');
    }
    const { where, params } = whereOf(memberId, [
      ['line = ?', ref.line],
      ['im_message_id = ?', ref.imMessageId],
      // The outer member_id scopes it: message rows belong to one portal.
      ['id IN (SELECT message_id FROM state_message_ids WHERE external_id = ?)', ref.externalId],
    ]);
    const row = this.sql.get<MessageRow>(`SELECT * FROM state_messages WHERE ${where} ORDER BY updated_at DESC, id DESC LIMIT 1`, ...params);
    return row && messageView(this.sql, row);
  }

  /** Messages in the order first seen, deleted ones included. */
  messages(memberId: string, filter: { line?: number; externalChatId?: string } = {}): MessageView[] {
    const { where, params } = whereOf(memberId, [
      ['line = ?', filter.line],
      ['external_chat_id = ?', filter.externalChatId],
    ]);
    return this.sql.all<MessageRow>(`SELECT * FROM state_messages WHERE ${where} ORDER BY id`, ...params).map((r) => messageView(this.sql, r));
  }

  /** The Bitrix24 chat behind an external chat on a line. */
  chat(memberId: string, line: number, externalChatId: string): ChatView | undefined {
    const row = this.sql.get<ChatRow>(
      'SELECT * FROM state_chats WHERE member_id = ? AND line = ? AND external_chat_id = ?',
      memberId, line, externalChatId,
    );
    return row && chatView(row);
  }

  /** The external chat behind a Bitrix24 chat (the other direction of chat()); the latest seen if several. */
  chatByImId(memberId: string, imChatId: number): ChatView | undefined {
    const row = this.sql.get<ChatRow>(
      'SELECT * FROM state_chats WHERE member_id = ? AND im_chat_id = ? ORDER BY last_seen_at DESC LIMIT 1',
      memberId, imChatId,
    );
    return row && chatView(row);
  }

  /** Dialogs (sessions) by session id. */
  dialogs(memberId: string, filter: { line?: number; open?: boolean } = {}): DialogView[] {
    const { where, params } = whereOf(memberId, [
      ['line = ?', filter.line],
      ['closed = ?', filter.open === undefined ? undefined : filter.open ? 0 : 1],
    ]);
    return this.sql.all<DialogRow>(`SELECT * FROM state_dialogs WHERE ${where} ORDER BY session_id`, ...params).map((r) => dialogView(this.sql, r));
  }

  /** Every line a connector event mentioned, with its delete marks. */
  lines(memberId: string): LineView[] {
    return this.sql
      .all<LineRow>('SELECT * FROM state_lines WHERE member_id = ? ORDER BY line', memberId)
      .map((r) => lineView(this.sql, memberId, r));
  }
}
