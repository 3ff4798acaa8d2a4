import { GatewayError } from '../../../errors.js';
import { itemsOf } from '../../../events/lists.js';
import type { EventMap } from '../../../events/registry.js';
import { get, run, type Work } from '../../sql/work.js';
import { touchChat, touchLine, type ApplyMeta } from './lines.js';

type AddData = EventMap['ONIMCONNECTORMESSAGEADD']['data'];
type UpdateData = EventMap['ONIMCONNECTORMESSAGEUPDATE']['data'];
type DeleteData = EventMap['ONIMCONNECTORMESSAGEDELETE']['data'];

interface Item {
  im: { chat_id: number; message_id: number };
  chat: { id: string };
}

/**
 * The message row for one item, created if unseen (an update or delete may be the first we hear of it).
 * A message is one Bitrix24 message on one line; the chat ids follow the latest event. An add gives
 * its author and text, kept unless an update got here first: its text is newer than the add's.
 */
function* upsertMessage(
  meta: ApplyMeta,
  line: number,
  connector: string,
  item: Item,
  added?: { userId: number | null; text: string },
): Work<number> {
  const { memberId, receivedAt: at } = meta;
  yield* touchChat(meta, line, connector, item.chat.id, item.im.chat_id);
  // Operator messages are activity: they push back when close_term closes the open dialog.
  yield* run(
    `UPDATE state_dialogs SET last_activity_at = ?
     WHERE member_id = ? AND line = ? AND external_chat_id = ? AND closed = 0 AND (last_activity_at IS NULL OR last_activity_at < ?)`,
    at,
    memberId,
    line,
    item.chat.id,
    at,
  );
  const row = yield* get<{ id: number }>(
    `INSERT INTO state_messages (member_id, line, connector, im_chat_id, im_message_id, external_chat_id, created_at, updated_at,
       user_id, original_text, text)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, im_message_id) DO UPDATE SET connector = excluded.connector,
       im_chat_id = excluded.im_chat_id, external_chat_id = excluded.external_chat_id, updated_at = excluded.updated_at,
       user_id = COALESCE(excluded.user_id, state_messages.user_id),
       original_text = COALESCE(state_messages.original_text, excluded.original_text),
       text = COALESCE(state_messages.text, excluded.text)
     RETURNING id`,
    memberId,
    line,
    connector,
    item.im.chat_id,
    item.im.message_id,
    item.chat.id,
    at,
    at,
    added?.userId ?? null,
    added?.text ?? null,
    added?.text ?? null,
  );
  if (!row) throw new GatewayError('B24GW_STORE_FAILED', 'The connector state kept no row for a message it upserted');
  return row.id;
}

function* addExternalIds(messageId: number, ids: string | readonly string[]): Work<void> {
  for (const id of typeof ids === 'string' ? [ids] : ids) {
    yield* run(
      'INSERT INTO state_message_ids (message_id, external_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
      messageId,
      id,
    );
  }
}

export function* applyMessageAdd(meta: ApplyMeta, data: AddData): Work<void> {
  yield* touchLine(meta, data.LINE, data.CONNECTOR);
  for (const item of itemsOf(data)) {
    yield* upsertMessage(meta, data.LINE, data.CONNECTOR, item, {
      userId: item.message.user_id ?? null,
      text: item.message.text,
    });
  }
}

export function* applyMessageUpdate(meta: ApplyMeta, data: UpdateData): Work<void> {
  yield* touchLine(meta, data.LINE, data.CONNECTOR);
  for (const item of itemsOf(data)) {
    const id = yield* upsertMessage(meta, data.LINE, data.CONNECTOR, item);
    yield* addExternalIds(id, item.message.id);
    const text = item.message.text;
    // The schema allows an update without text: it still maps ids, but there is no edit to record.
    if (text === undefined) continue;
    yield* run(
      'INSERT INTO state_message_history (message_id, event_id, text, at) VALUES (?, ?, ?, ?)',
      id,
      meta.eventId,
      text,
      meta.receivedAt,
    );
    yield* run('UPDATE state_messages SET text = ? WHERE id = ?', text, id);
  }
}

/** A tombstone: the row, its text and history stay readable. */
export function* applyMessageDelete(meta: ApplyMeta, data: DeleteData): Work<void> {
  yield* touchLine(meta, data.LINE, data.CONNECTOR);
  for (const item of itemsOf(data)) {
    const id = yield* upsertMessage(meta, data.LINE, data.CONNECTOR, item);
    yield* addExternalIds(id, item.message.id);
    yield* run('UPDATE state_messages SET deleted_at = COALESCE(deleted_at, ?) WHERE id = ?', meta.receivedAt, id);
  }
}
