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
  /** Null until a message event names the Bitrix24 chat: dialog events carry only the external one. */
  imChatId: number | null;
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
  lastSeenAt: number;
}
