import { run, type Work } from '../../sql/work.js';
import type { CustomerChange, DeliveredIds } from '../types.js';
import { touchChat, touchLine, type ApplyMeta } from './lines.js';

/*
 * The other direction: what Bitrix24 accepted of the customers' actions. Bitrix24 sends no event
 * for them, so the customer sender records them here once the portal answered. Each write is
 * idempotent: a round sent again after a crash records the same.
 */

/** The customer message row, made if unseen (an edit may be the first the state hears of it). */
function* upsertCustomerMessage(
  memberId: string,
  c: Extract<CustomerChange, { externalMessageId: string }>,
  at: number,
): Work<void> {
  yield* run(
    `INSERT INTO state_customer_messages (member_id, line, connector, external_chat_id, external_message_id, external_user_id, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, external_chat_id, external_message_id) DO UPDATE SET updated_at = excluded.updated_at`,
    memberId,
    c.line,
    c.connector,
    c.externalChatId,
    c.externalMessageId,
    c.externalUserId,
    at,
    at,
  );
}

const whereMessage = 'member_id = ? AND line = ? AND external_chat_id = ? AND external_message_id = ?';

function* applyChange(meta: ApplyMeta, c: CustomerChange): Work<void> {
  const { memberId, receivedAt: at } = meta;
  switch (c.kind) {
    case 'created':
      yield* touchLine(meta, c.line, c.connector);
      yield* touchChat(meta, c.line, c.connector, c.externalChatId, c.imChatId);
      yield* upsertCustomerMessage(memberId, c, at);
      // COALESCE: an edit recorded first holds the newer text.
      yield* run(
        `UPDATE state_customer_messages SET im_chat_id = COALESCE(?, im_chat_id), session_id = COALESCE(?, session_id), im_user_id = COALESCE(?, im_user_id),
           original_text = COALESCE(original_text, ?), text = COALESCE(text, ?), files = COALESCE(files, ?)
         WHERE ${whereMessage}`,
        c.imChatId,
        c.sessionId,
        c.imUserId,
        c.text,
        c.text,
        JSON.stringify(c.files),
        memberId,
        c.line,
        c.externalChatId,
        c.externalMessageId,
      );
      return;
    case 'updated':
      yield* upsertCustomerMessage(memberId, c, at);
      yield* run(
        `UPDATE state_customer_messages SET text = COALESCE(?, text), files = COALESCE(?, files) WHERE ${whereMessage}`,
        c.text,
        c.files === undefined ? null : JSON.stringify(c.files),
        memberId,
        c.line,
        c.externalChatId,
        c.externalMessageId,
      );
      return;
    case 'deleted':
      yield* upsertCustomerMessage(memberId, c, at);
      yield* run(
        `UPDATE state_customer_messages SET deleted_at = COALESCE(deleted_at, ?) WHERE ${whereMessage}`,
        at,
        memberId,
        c.line,
        c.externalChatId,
        c.externalMessageId,
      );
      return;
    case 'read':
      for (const id of c.imMessageIds) {
        yield* run(
          'UPDATE state_messages SET read_at = COALESCE(read_at, ?) WHERE member_id = ? AND line = ? AND im_message_id = ?',
          at,
          memberId,
          c.line,
          id,
        );
      }
      return;
    case 'renamed':
      yield* touchChat(meta, c.line, c.connector, c.externalChatId, null);
      yield* run(
        'UPDATE state_chats SET name = ? WHERE member_id = ? AND line = ? AND external_chat_id = ?',
        c.name,
        memberId,
        c.line,
        c.externalChatId,
      );
      return;
  }
}

export function* recordCustomer(
  memberId: string,
  changes: readonly CustomerChange[],
  at: number,
  seen?: ApplyMeta['seen'],
): Work<void> {
  const meta: ApplyMeta = { eventId: 0, memberId, receivedAt: at, ...(seen ? { seen } : {}) };
  for (const c of changes) yield* applyChange(meta, c);
}

/** The channel's ids for operator messages it took, beside the ones update and delete events name. */
export function* recordDelivered(memberId: string, delivered: readonly DeliveredIds[]): Work<void> {
  for (const d of delivered) {
    for (const externalId of d.externalIds) {
      yield* run(
        `INSERT INTO state_message_ids (message_id, external_id)
         SELECT id, ? FROM state_messages WHERE member_id = ? AND line = ? AND im_message_id = ?
         ON CONFLICT DO NOTHING`,
        externalId,
        memberId,
        d.line,
        d.imMessageId,
      );
    }
  }
}
