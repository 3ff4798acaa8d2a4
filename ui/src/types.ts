import type { ChatView, ConversationEntry, DialogView, MessageView } from '../../src/store/state/types.js';
import type { Attempt, EventStatus, EventSummary, StatusRecord } from '../../src/store/types.js';

/**
 * What the admin API answers (docs/reference/admin-api.md), as the page reads it: the server's own
 * types where they are types only, so the page and the API cannot drift apart.
 */

export type { Attempt, EventPage, EventStatus, EventSummary, StatusRecord } from '../../src/store/types.js';
export type { ChatView, ConversationEntry, DialogView, LineView, MessageView } from '../../src/store/state/types.js';
export type { BotSeen, Overview, Percentiles, PortalView } from '../../src/console/views.js';

export const STATUSES: EventStatus[] = ['pending', 'processing', 'retry', 'done', 'dead', 'invalid'];

export interface EventDetail {
  event: EventSummary & {
    known: boolean;
    handlerId: number | null;
    ts: number | null;
    event: unknown;
    rawBody: string;
    nextAttemptAt: number | null;
  };
  attempts: Attempt[];
  statuses: StatusRecord[];
  channel: { webhookId: string; payload: { type: string } & Record<string, unknown>; externalIds: string[] | null }[];
  timeline: { at: number; what: string; detail?: string }[];
}

export interface Conversation {
  chat: ChatView | null;
  dialogs: DialogView[];
  messages: MessageView[];
  conversation: ConversationEntry[];
}

export interface ReplayResult {
  requested: number;
  requeued: number;
  ids: number[];
}
