import type { z } from 'zod';
import type { dialogItem } from '../../events/connector.js';
import { itemsOf } from '../../events/lists.js';
import type { EventMap } from '../../events/registry.js';
import type { Tx } from '../sql.js';
import { touchChat, touchLine } from './lines.js';

type DialogData = EventMap['ONIMCONNECTORDIALOGSTART']['data'];
type DialogItem = z.output<typeof dialogItem>;

const isClosed = (flag: string | undefined): boolean => flag?.trim().toUpperCase() === 'Y';

/** The session row, created or refreshed; `close` says whether this event closes it. */
function upsertDialog(tx: Tx, item: DialogItem, close: boolean, starts: boolean): void {
  const { memberId, receivedAt: at } = tx.meta;
  const line = item.connector.line_id;
  const connector = item.connector.connector_id;
  touchLine(tx, line, connector);
  touchChat(tx, line, connector, item.chat.id, null);
  const s = item.session;
  // The docs send parent_id 0 for a first session.
  const parent = s.parent_id === undefined || s.parent_id === 0 ? null : s.parent_id;
  const closed = close ? 1 : 0;
  // closed = MAX(...): Bitrix24 continues a closed dialog as a new session (parent_id), so nothing reopens one.
  tx.sql.run(
    `INSERT INTO state_dialogs (member_id, session_id, line, connector, external_chat_id, external_user_id, parent_id,
       closed, close_term, started_at, closed_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (member_id, session_id) DO UPDATE SET line = excluded.line, connector = excluded.connector,
       external_chat_id = excluded.external_chat_id, external_user_id = COALESCE(excluded.external_user_id, external_user_id),
       parent_id = COALESCE(excluded.parent_id, parent_id), close_term = COALESCE(excluded.close_term, close_term),
       closed = MAX(closed, excluded.closed), started_at = COALESCE(started_at, excluded.started_at),
       closed_at = COALESCE(closed_at, excluded.closed_at), updated_at = excluded.updated_at`,
    memberId, s.id, line, connector, item.chat.id, item.user?.id ?? item.connector.user_id ?? null, parent,
    closed, s.close_term ?? null, starts ? at : null, close ? at : null, at,
  );
}

export function applyDialogStart(tx: Tx, data: DialogData): void {
  touchLine(tx, data.LINE, data.CONNECTOR);
  for (const item of itemsOf(data)) upsertDialog(tx, item, isClosed(item.session.closed), true);
}

export function applyDialogFinish(tx: Tx, data: EventMap['ONIMCONNECTORDIALOGFINISH']['data']): void {
  touchLine(tx, data.LINE, data.CONNECTOR);
  for (const item of itemsOf(data)) upsertDialog(tx, item, true, false);
}
