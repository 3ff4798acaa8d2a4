/** Times are Unix ms on the gateway's clock (EventMeta.receivedAt of the event that set them). */

export interface MessageEdit {
  text: string;
  at: number;
  eventId: number;
}

export interface MessageView {
  line: number;
  connector: string;
  imChatId: number;
  imMessageId: number;
  externalChatId: string;
  /** The external channel's ids for this message, as updates and deletes named them (an add names none). */
  externalIds: string[];
  userId: number | null;
  /** The current text; null if neither an add nor an update with text was seen. */
  text: string | null;
  /** The text the add carried; null if the add was not seen. */
  originalText: string | null;
  /** One entry per update that carried text, oldest first. */
  history: MessageEdit[];
  deleted: boolean;
  deletedAt: number | null;
  /** When the customer read it (the channel said so and Bitrix24 took the read status); null until then. */
  readAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface MessageRef {
  line?: number;
  imMessageId?: number;
  externalId?: string;
}

export interface ChatView {
  line: number;
  connector: string;
  externalChatId: string;
  /** Null until a message event (or Bitrix24's answer to a customer's message) names the Bitrix24 chat: dialog events carry only the external one. */
  imChatId: number | null;
  /** The name the channel last gave the chat (chat.renamed); null if none. */
  name: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface DialogView {
  sessionId: number;
  line: number;
  connector: string;
  externalChatId: string;
  externalUserId: string | null;
  parentId: number | null;
  /** Ancestor session ids, nearest first: parent, its parent, ... as far as known. */
  parents: number[];
  open: boolean;
  /** Minutes of inactivity after which Bitrix24 closes the session. */
  closeTerm: number | null;
  /** Null if only the finish was seen. */
  startedAt: number | null;
  lastActivityAt: number | null;
  closedAt: number | null;
  /** While open: (last activity, or the start) + closeTerm minutes; otherwise null. */
  closesAt: number | null;
}

export interface LineConnectorView {
  connector: string;
  statusDeleted: boolean;
  statusDeletedAt: number | null;
}

export interface LineView {
  line: number;
  deleted: boolean;
  deletedAt: number | null;
  connectors: LineConnectorView[];
  firstSeenAt: number;
  /** Exact to the minute: moving it on every event would serialize a line's events on PostgreSQL. */
  lastSeenAt: number;
}

export interface EventMeta {
  /** The inbox event id: the idempotency key. */
  eventId: number;
  memberId: string;
  /** Unix ms, gateway clock: every time in the state is this clock's. */
  receivedAt: number;
}

/** What apply() reads of an event: its code and data, as stored by the inbox or as received. */
export interface StateEvent {
  event: string;
  data?: unknown;
  [k: string]: unknown;
}

export interface MessageFilter {
  line?: number;
  externalChatId?: string;
}

export interface DialogFilter {
  line?: number;
  open?: boolean;
}

/** A file a customer sent: a URL Bitrix24 fetches, and its name. */
export interface CustomerFile {
  url: string;
  name?: string | undefined;
}

/** A message a customer wrote in the external channel, as Bitrix24 took it (imconnector.send.messages). */
export interface CustomerMessageView {
  line: number;
  connector: string;
  externalChatId: string;
  externalMessageId: string;
  externalUserId: string;
  /** The Open Lines chat, session and portal user Bitrix24 answered with; null if it named none. */
  imChatId: number | null;
  sessionId: number | null;
  imUserId: number | null;
  text: string | null;
  /** The text it was first sent with. */
  originalText: string | null;
  files: CustomerFile[];
  deleted: boolean;
  deletedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** The customer's message a change is about: its line, chat, sender and the channel's id for it. */
interface CustomerMessageRef {
  line: number;
  connector: string;
  externalChatId: string;
  externalUserId: string;
  externalMessageId: string;
}

/** What Bitrix24 accepted of a customer's action, as the state keeps it. */
export type CustomerChange =
  | (CustomerMessageRef & {
      kind: 'created';
      text: string | null;
      files: CustomerFile[];
      imChatId: number | null;
      sessionId: number | null;
      imUserId: number | null;
    })
  | (CustomerMessageRef & { kind: 'updated'; text: string | null; files?: CustomerFile[] | undefined })
  | (CustomerMessageRef & { kind: 'deleted' })
  /** The customer read these operator messages. */
  | { kind: 'read'; line: number; imMessageIds: number[] }
  | { kind: 'renamed'; line: number; connector: string; externalChatId: string; name: string };

/** The ids the channel gave an operator's message when it was delivered (or the delivery id standing in). */
export interface DeliveredIds {
  line: number;
  imMessageId: number;
  externalIds: string[];
}

/** One message of a conversation, whichever side wrote it. */
export interface ConversationEntry {
  from: 'customer' | 'operator';
  /** The channel's ids of the message (a customer's own id; the ids an operator's message was delivered under). */
  externalIds: string[];
  /** Bitrix24's id of an operator's message; null for a customer's (Bitrix24 names none). */
  imMessageId: number | null;
  text: string | null;
  deleted: boolean;
  /** An operator's message the customer read; null otherwise. */
  readAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * What the connector events say about a portal's lines, chats, messages and dialogs, kept in
 * `state_*` tables beside the inbox, on SQLite or PostgreSQL alike. The worker applies each event
 * once; reads serve the effects. Several instances may share one database.
 */
export interface ConnectorStateStore {
  /**
   * Applies one event's effect on the state, in one transaction. Idempotent by meta.eventId: the worker
   * retries, and another instance may apply the same event at the same time. Resolves true if this call
   * changed the state; false for an event already applied or one that does not concern the state.
   * Rejects (and changes nothing) if the data does not match its schema.
   */
  apply(event: StateEvent, meta: EventMeta): Promise<boolean>;
  /** Whether an event id has been applied. */
  applied(eventId: number): Promise<boolean>;
  /** One message by its Bitrix24 id and/or an external id; if several lines match, the latest updated. */
  message(memberId: string, ref: MessageRef): Promise<MessageView | undefined>;
  /** Messages in the order first seen, deleted ones included. */
  messages(memberId: string, filter?: MessageFilter): Promise<MessageView[]>;
  /** The Bitrix24 chat behind an external chat on a line. */
  chat(memberId: string, line: number, externalChatId: string): Promise<ChatView | undefined>;
  /** The external chat behind a Bitrix24 chat (the other direction of chat()); the latest seen if several. */
  chatByImId(memberId: string, imChatId: number): Promise<ChatView | undefined>;
  /** The chats seen on the portal (on one line, if given), latest seen first. */
  chats(memberId: string, filter?: { line?: number }): Promise<ChatView[]>;
  /** Dialogs (sessions) by session id. */
  dialogs(memberId: string, filter?: DialogFilter): Promise<DialogView[]>;
  /** Every line a connector event mentioned, with its delete marks. */
  lines(memberId: string): Promise<LineView[]>;
  /** Records what Bitrix24 accepted of customers' actions, in one transaction; idempotent. */
  recordCustomer(memberId: string, changes: readonly CustomerChange[], at: number): Promise<void>;
  /** Records the ids operator messages were delivered under, so a read or a later event finds them by the channel's id. */
  recordDelivered(memberId: string, delivered: readonly DeliveredIds[]): Promise<void>;
  /** A customer's message by the channel's ids. */
  customerMessage(
    memberId: string,
    line: number,
    externalChatId: string,
    externalMessageId: string,
  ): Promise<CustomerMessageView | undefined>;
  /** Both sides of one chat, oldest first: the customers' messages and the operators'. */
  conversation(memberId: string, line: number, externalChatId: string): Promise<ConversationEntry[]>;
}
