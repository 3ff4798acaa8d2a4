/** What the admin API answers (docs/reference/admin-api.md), as the page reads it. */

export type EventStatus = 'pending' | 'invalid' | 'processing' | 'retry' | 'done' | 'dead';
export const STATUSES: EventStatus[] = ['pending', 'processing', 'retry', 'done', 'dead', 'invalid'];

export interface EventSummary {
  id: number;
  memberId: string;
  code: string;
  status: EventStatus;
  orderKey: string | null;
  receivedAt: number;
  processedAt: number | null;
  attempts: number;
  lastError: string | null;
  contentType: 'form' | 'json';
  delivery: 'webhook' | 'fetch' | 'offline';
  duplicates: number;
}

export interface EventPage {
  events: EventSummary[];
  next: number | null;
}

export interface Attempt {
  attempt: number;
  owner: string;
  startedAt: number;
  finishedAt: number | null;
  ok: boolean | null;
  error: string | null;
}

export interface StatusRecord {
  id: number;
  connector: string;
  line: number;
  item: string;
  status: string;
  attempts: number;
  lastError: string | null;
  sentAt: number | null;
}

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

export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface BotSeen {
  id: number;
  code: string | null;
  eventMode: string;
  lastEventAt: number;
  lastEventId: number;
}

export interface PortalView {
  memberId: string;
  domain: string;
  status: string | null;
  scope: string | null;
  installedAt: number | null;
  uninstalledAt: number | null;
  hasApplicationToken: boolean;
  hasOAuth: boolean;
  tokenExpiresAt: number | null;
  lastEventAt: number | null;
  dead: number;
  retry: number;
  deadStatuses: number;
  deadCustomerActions: number;
  rest: { level: number; burst: number; perSecond: number };
  bots: BotSeen[];
}

export interface Overview {
  now: number;
  since: number;
  minutes: number[];
  byStatus: Partial<Record<EventStatus, number[]>>;
  byCode: { code: string; counts: number[]; total: number }[];
  latency: { processed: Percentiles; confirmed: Percentiles };
  queue: Record<EventStatus, number>;
  statuses: { pending: number; sent: number; dead: number };
  customerActions: { pending: number; sent: number; dead: number };
  portals: PortalView[];
}

export interface LineView {
  line: number;
  deleted: boolean;
  connectors: { connector: string; statusDeleted: boolean }[];
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface ChatView {
  line: number;
  connector: string;
  externalChatId: string;
  imChatId: number | null;
  name: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface DialogView {
  sessionId: number;
  externalChatId: string;
  externalUserId: string | null;
  parentId: number | null;
  parents: number[];
  open: boolean;
  closeTerm: number | null;
  startedAt: number | null;
  lastActivityAt: number | null;
  closedAt: number | null;
  closesAt: number | null;
}

export interface MessageView {
  imMessageId: number;
  externalIds: string[];
  userId: number | null;
  text: string | null;
  originalText: string | null;
  history: { text: string; at: number; eventId: number }[];
  deleted: boolean;
  deletedAt: number | null;
  readAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface ConversationEntry {
  from: 'customer' | 'operator';
  externalIds: string[];
  imMessageId: number | null;
  text: string | null;
  deleted: boolean;
  readAt: number | null;
  createdAt: number;
  updatedAt: number;
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
