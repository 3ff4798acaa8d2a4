import type { z } from 'zod';
import type { dialogItem } from '../../../events/connector.js';
import { itemsOf } from '../../../events/lists.js';
import type { EventMap } from '../../../events/registry.js';
import { greatest, run, type Work } from '../../sql/work.js';
import { touchChat, touchLine, type ApplyMeta } from './lines.js';

type DialogData = EventMap['ONIMCONNECTORDIALOGSTART']['data'];
type DialogItem = z.output<typeof dialogItem>;

const isClosed = (flag: string | undefined): boolean => flag?.trim().toUpperCase() === 'Y';

/** The session row, created or refreshed; `close` says whether this event closes it. */
function* upsertDialog(meta: ApplyMeta, item: DialogItem, close: boolean, starts: boolean): Work<void> {
  const { memberId, receivedAt: at } = meta;
  const line = item.connector.line_id;
  const connector = item.connector.connector_id;
  yield* touchLine(meta, line, connector);
  yield* touchChat(meta, line, connector, item.chat.id, null);
  const s = item.session;
  // The docs send parent_id 0 for a first session.
  const parent = s.parent_id === undefined || s.parent_id === 0 ? null : s.parent_id;
  const closed = close ? 1 : 0;
  // closed = the greater: Bitrix24 continues a closed dialog as a new session (parent_id), so nothing reopens one.
  yield* run(
    `INSERT INTO state_dialogs (member_id, session_id, line, connector, external_chat_id, external_user_id, parent_id,
       closed, close_term, started_at, closed_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (member_id, session_id) DO UPDATE SET line = excluded.line, connector = excluded.connector,
       external_chat_id = excluded.external_chat_id,
       external_user_id = COALESCE(excluded.external_user_id, state_dialogs.external_user_id),
       parent_id = COALESCE(excluded.parent_id, state_dialogs.parent_id),
       close_term = COALESCE(excluded.close_term, state_dialogs.close_term),
       closed = ${greatest('state_dialogs.closed', 'excluded.closed')},
       started_at = COALESCE(state_dialogs.started_at, excluded.started_at),
       closed_at = COALESCE(state_dialogs.closed_at, excluded.closed_at), updated_at = excluded.updated_at`,
    memberId,
    s.id,
    line,
    connector,
    item.chat.id,
    item.user?.id ?? item.connector.user_id ?? null,
    parent,
    closed,
    s.close_term ?? null,
    starts ? at : null,
    close ? at : null,
    at,
  );
}

export function* applyDialogStart(meta: ApplyMeta, data: DialogData): Work<void> {
  yield* touchLine(meta, data.LINE, data.CONNECTOR);
  for (const item of itemsOf(data)) yield* upsertDialog(meta, item, isClosed(item.session.closed), true);
}

export function* applyDialogFinish(meta: ApplyMeta, data: EventMap['ONIMCONNECTORDIALOGFINISH']['data']): Work<void> {
  yield* touchLine(meta, data.LINE, data.CONNECTOR);
  for (const item of itemsOf(data)) yield* upsertDialog(meta, item, true, false);
}
