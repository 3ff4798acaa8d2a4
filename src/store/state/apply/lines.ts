import type { EventMap } from '../../../events/registry.js';
import { greatest, run, type Work } from '../../sql/work.js';
import type { EventMeta } from '../types.js';

/** last_seen_at of lines and connectors is exact to this: a line is touched at most once per this long per process. */
const SEEN_RESOLUTION_MS = 60_000;

/**
 * The lines (and connectors on them) this process touched lately, so that most events touch none:
 * every event of a line touching its row cost two statements, and on PostgreSQL a row updated in
 * every transaction made them all wait for each other. A touch is noted when it is sent, and
 * forgotten if its transaction fails, so a line is never taken as seen that was not stored.
 */
export class SeenLines {
  private readonly touchedAt = new Map<string, number>();

  /** Whether a touch at `at` would change nothing: this process touched the key within the resolution. */
  fresh(key: string, at: number): boolean {
    const t = this.touchedAt.get(key);
    return t !== undefined && t >= at - SEEN_RESOLUTION_MS;
  }

  note(key: string, at: number): void {
    // A bound on memory for a gateway with very many lines: forgetting only costs a touch.
    if (this.touchedAt.size >= 10_000) this.touchedAt.clear();
    this.touchedAt.set(key, Math.max(at, this.touchedAt.get(key) ?? at));
  }

  forget(keys: readonly string[]): void {
    for (const k of keys) this.touchedAt.delete(k);
  }
}

/** The meta an apply runs with: the store's SeenLines and the keys this apply touched (to forget on failure). */
export interface ApplyMeta extends EventMeta {
  seen?: { lines: SeenLines; touched: string[] };
}

/** Records that a line (and the connector on it) was seen, so lines() lists every line events mention. */
export function* touchLine(meta: ApplyMeta, line: number, connector?: string): Work<void> {
  const { memberId, receivedAt: at } = meta;
  if (touching(meta, `${memberId}\n${line}`))
    yield* run(
      `INSERT INTO state_lines (member_id, line, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (member_id, line) DO UPDATE SET last_seen_at = ${greatest('state_lines.last_seen_at', 'excluded.last_seen_at')}`,
      memberId,
      line,
      at,
      at,
    );
  if (connector !== undefined && touching(meta, `${memberId}\n${line}\n${connector}`))
    yield* run(
      `INSERT INTO state_line_connectors (member_id, line, connector, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (member_id, line, connector) DO UPDATE SET
         last_seen_at = ${greatest('state_line_connectors.last_seen_at', 'excluded.last_seen_at')}`,
      memberId,
      line,
      connector,
      at,
      at,
    );
}

/** Whether a line's row is to be touched by this apply; if so, it is noted as touched. */
function touching(meta: ApplyMeta, key: string): boolean {
  const { seen, receivedAt: at } = meta;
  if (!seen) return true;
  if (seen.lines.fresh(key, at)) return false;
  seen.lines.note(key, at);
  seen.touched.push(key);
  return true;
}

/** The Bitrix24 chat behind an external chat. Dialog events carry no Bitrix24 chat id, so a null keeps the known one. */
export function* touchChat(
  meta: ApplyMeta,
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
export function* applyStatusDelete(meta: ApplyMeta, data: EventMap['ONIMCONNECTORSTATUSDELETE']['data']): Work<void> {
  yield* touchLine(meta, data.line, data.connector);
  yield* run(
    'UPDATE state_line_connectors SET status_deleted_at = ? WHERE member_id = ? AND line = ? AND connector = ?',
    meta.receivedAt,
    meta.memberId,
    data.line,
    data.connector,
  );
}

export function* applyLineDelete(meta: ApplyMeta, line: EventMap['ONIMCONNECTORLINEDELETE']['data']): Work<void> {
  yield* touchLine(meta, line);
  yield* run(
    'UPDATE state_lines SET deleted_at = ? WHERE member_id = ? AND line = ?',
    meta.receivedAt,
    meta.memberId,
    line,
  );
}
