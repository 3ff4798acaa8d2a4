import type { EventMap } from '../../../events/registry.js';
import { get, greatest, run, type Work } from '../../sql/work.js';
import type { EventMeta } from '../types.js';

/** last_seen_at of lines and connectors moves only once it is this old: it is exact to the minute. */
const SEEN_RESOLUTION_MS = 60_000;

/**
 * The last_seen_at of the lines (and connectors on them) this process touched lately, so that
 * most events touch none: each event touching its line cost statements, and on PostgreSQL a row
 * updated in every transaction made them all wait for each other. A touch that would change
 * nothing is skipped, so the rows end alike whatever the number of processes. Forgotten if the
 * touch's transaction fails, so a line is never taken as seen that was not stored.
 */
export class SeenLines {
  private readonly lastSeenAt = new Map<string, number>();

  /** Whether a touch at `at` would change nothing: the row's last_seen_at is within the resolution of it. */
  fresh(key: string, at: number): boolean {
    const seen = this.lastSeenAt.get(key);
    return seen !== undefined && seen >= at - SEEN_RESOLUTION_MS;
  }

  note(key: string, lastSeenAt: number): void {
    // A bound on memory for a gateway with very many lines: forgetting only costs a touch.
    if (this.lastSeenAt.size >= 10_000) this.lastSeenAt.clear();
    this.lastSeenAt.set(key, Math.max(lastSeenAt, this.lastSeenAt.get(key) ?? lastSeenAt));
  }

  forget(keys: readonly string[]): void {
    for (const k of keys) this.lastSeenAt.delete(k);
  }
}

/** The meta an apply runs with: the store's SeenLines and the keys this apply touched (to forget on failure). */
export interface ApplyMeta extends EventMeta {
  seen?: { lines: SeenLines; touched: string[] };
}

/** last_seen_at moved to the event's time once it is a minute old; the row's value returned. */
const onConflictTouch = (table: string) =>
  `DO UPDATE SET last_seen_at = CASE WHEN ${table}.last_seen_at < excluded.last_seen_at - ${SEEN_RESOLUTION_MS}
     THEN excluded.last_seen_at ELSE ${table}.last_seen_at END
   RETURNING last_seen_at`;

/** Records that a line (and the connector on it) was seen, so lines() lists every line events mention. */
export function* touchLine(meta: ApplyMeta, line: number, connector?: string): Work<void> {
  const { memberId, receivedAt: at } = meta;
  yield* touch(
    meta,
    `${memberId}\n${line}`,
    `INSERT INTO state_lines (member_id, line, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (member_id, line) ${onConflictTouch('state_lines')}`,
    [memberId, line, at, at],
  );
  if (connector === undefined) return;
  yield* touch(
    meta,
    `${memberId}\n${line}\n${connector}`,
    `INSERT INTO state_line_connectors (member_id, line, connector, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (member_id, line, connector) ${onConflictTouch('state_line_connectors')}`,
    [memberId, line, connector, at, at],
  );
}

/** One row touched, unless this process knows the touch would change nothing. */
function* touch(meta: ApplyMeta, key: string, sql: string, params: unknown[]): Work<void> {
  const { seen, receivedAt: at } = meta;
  if (seen?.lines.fresh(key, at)) return;
  const row = yield* get<{ last_seen_at: number }>(sql, ...params);
  if (!seen || !row) return;
  seen.lines.note(key, row.last_seen_at);
  seen.touched.push(key);
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
