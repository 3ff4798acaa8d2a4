import { Chatbots } from './chatbots.js';
import { counter, hex } from './ids.js';
import { OfflineQueue } from './offline-queue.js';

/** Application status in the portal (auth[status], app.info STATUS). */
export type AppStatus = 'L' | 'F' | 'D' | 'T' | 'P' | 'S';

export interface PortalInit {
  memberId?: string;
  /** Host[:port] the portal answers on. Defaults to the sandbox's own `127.0.0.1:PORT`. */
  domain?: string;
  applicationToken?: string;
  status?: AppStatus;
  /** Comma-separated scopes granted to the application. */
  scope?: string;
  languageId?: string;
}

/** A handler registered with event.bind (or by imbot.register for a bot). */
export interface EventHandler {
  id: number;
  event: string;
  handler: string;
  authType: number;
  offline: 0 | 1;
  /** Set for handlers imbot.register bound for one bot. */
  botId?: number;
  /** An offline binding's `auth_connector` (its queue's source); empty for none. */
  authConnector?: string;
}

export interface ConnectorState {
  id: string;
  name: string;
  chatGroup: boolean;
  params: Record<string, unknown>;
}

export interface LineState {
  connector: string;
  line: number;
  active: boolean;
  data?: Record<string, unknown>;
}

export interface BotState {
  id: number;
  code: string;
  type: string;
  openline: boolean;
  properties: Record<string, unknown>;
  /** Handler URL per event code, as imbot.register bound them. */
  handlers: Record<string, string>;
}

/** An Open Lines chat behind a connector: the external chat (and user) it mirrors. */
export interface ChatState {
  id: number;
  connector: string;
  line: number;
  externalChatId: string;
  externalUserId?: string;
  /** The portal user standing for the external user. */
  userId: number;
  sessionId: number;
  /** Set by imconnector.chat.name.set. */
  name?: string;
}

export interface MessageState {
  id: number;
  chatId: number;
  /** `in`: came from the external channel (send.messages); `out`: an operator wrote it in Bitrix24. */
  direction: 'in' | 'out';
  authorId: number;
  text: string;
  externalIds: string[];
  deleted: boolean;
  delivered: boolean;
  read: boolean;
}

const lineKey = (connector: string, line: number): string => `${connector}\u0000${line}`;

/**
 * One fake Bitrix24 account with the application installed: its identity, the event
 * handlers bound, and the Open Lines / chat-bot state the imconnector and imbot methods
 * work on. Ids are per portal and look like real ones.
 */
export class Portal {
  readonly memberId: string;
  readonly domain: string;
  applicationToken: string;
  status: AppStatus;
  scope: string;
  languageId: string;
  installed = false;
  readonly adminUserId = 1;
  readonly appId: number;
  readonly appCode: string;
  readonly appVersion = 1;
  readonly handlers: EventHandler[] = [];
  readonly connectors = new Map<string, ConnectorState>();
  readonly lines = new Map<string, LineState>();
  readonly bots = new Map<number, BotState>();
  readonly chats = new Map<number, ChatState>();
  readonly messages = new Map<number, MessageState>();
  /** Chats, messages, commands and event queues of the chat bots (imbot.v2, im.v2, imbot.message.*). */
  readonly chatbots = new Chatbots();
  /** Events of offline bindings, waiting for event.offline.get. */
  readonly offline = new OfflineQueue();
  /** Incoming webhooks by code: `/rest/<userId>/<code>/<method>` calls as that user. */
  readonly webhooks = new Map<string, { userId: number; scope: string }>();

  readonly #ids = {
    handler: counter(1),
    chat: counter(1801),
    message: counter(86401),
    session: counter(3201),
    user: counter(501),
  };
  readonly #chatByExternal = new Map<string, number>();
  readonly #serverEndpoint: () => string;

  constructor(init: PortalInit & { domain: string }, serverEndpoint: () => string, appId: number) {
    this.memberId = init.memberId ?? hex();
    this.domain = init.domain;
    this.applicationToken = init.applicationToken ?? hex();
    this.status = init.status ?? 'F';
    this.scope = init.scope ?? 'imbot,imconnector,imopenlines,placement';
    this.languageId = init.languageId ?? 'en';
    this.appId = appId;
    this.appCode = `local.sandbox${appId}.b24imgateway`;
    this.#serverEndpoint = serverEndpoint;
  }

  /** Where the application calls this portal's REST API. */
  get clientEndpoint(): string {
    return `http://${this.domain}/rest/`;
  }

  /** The authorization server's REST address (the sandbox itself). */
  get serverEndpoint(): string {
    return this.#serverEndpoint();
  }

  // ---- event handlers ----

  /** Binds a handler; returns undefined when the same event/handler/auth_type is already bound. */
  bind(event: string, handler: string, authType = 0, botId?: number): EventHandler | undefined {
    const code = event.toUpperCase();
    if (this.handlers.some((h) => h.event === code && h.handler === handler && h.authType === authType))
      return undefined;
    const bound: EventHandler = {
      id: this.#ids.handler(),
      event: code,
      handler,
      authType,
      offline: 0,
      ...(botId === undefined ? {} : { botId }),
    };
    this.handlers.push(bound);
    return bound;
  }

  /** Binds an event offline (event_type=offline): its events go to the offline queue. Undefined when already bound so. */
  bindOffline(event: string, authConnector = ''): EventHandler | undefined {
    const code = event.toUpperCase();
    if (this.handlers.some((h) => h.event === code && h.offline === 1 && (h.authConnector ?? '') === authConnector))
      return undefined;
    const bound: EventHandler = {
      id: this.#ids.handler(),
      event: code,
      handler: '',
      authType: 0,
      offline: 1,
      authConnector,
    };
    this.handlers.push(bound);
    return bound;
  }

  unbind(filter: { event?: string; handler?: string; authType?: number; offline?: 0 | 1 }): number {
    const code = filter.event?.toUpperCase();
    let removed = 0;
    for (let i = this.handlers.length - 1; i >= 0; i--) {
      const h = this.handlers[i]!;
      if (code !== undefined && h.event !== code) continue;
      if (filter.handler !== undefined && h.handler !== filter.handler) continue;
      if (filter.authType !== undefined && h.authType !== filter.authType) continue;
      if (filter.offline !== undefined && h.offline !== filter.offline) continue;
      this.handlers.splice(i, 1);
      removed++;
    }
    return removed;
  }

  /** Removes the handlers bound for one bot (its subscriptions). */
  unbindBot(botId: number): void {
    for (let i = this.handlers.length - 1; i >= 0; i--)
      if (this.handlers[i]!.botId === botId) this.handlers.splice(i, 1);
  }

  handlersFor(event: string): EventHandler[] {
    const code = event.toUpperCase();
    return this.handlers.filter((h) => h.event === code);
  }

  // ---- connectors and lines ----

  registerConnector(id: string, name = id, chatGroup = false, params: Record<string, unknown> = {}): ConnectorState {
    const connector = { id: id.toLowerCase(), name, chatGroup, params };
    this.connectors.set(connector.id, connector);
    return connector;
  }

  /** Removes a connector and its lines, as imconnector.unregister does; false if it was not registered. */
  unregisterConnector(id: string): boolean {
    const known = this.connectors.delete(id.toLowerCase());
    for (const [key, state] of this.lines) if (state.connector === id.toLowerCase()) this.lines.delete(key);
    return known;
  }

  line(connector: string, line: number): LineState | undefined {
    return this.lines.get(lineKey(connector, line));
  }

  setLine(connector: string, line: number, patch: Partial<Omit<LineState, 'connector' | 'line'>>): LineState {
    const state = { connector, line, active: false, ...this.line(connector, line), ...patch };
    this.lines.set(lineKey(connector, line), state);
    return state;
  }

  /** Registers the connector if needed and activates it on the line, as an application's setup would. */
  ensureConnector(connector: string, line: number): void {
    if (!this.connectors.has(connector)) this.registerConnector(connector);
    this.setLine(connector, line, { active: true });
  }

  // ---- chats and messages ----

  /** The chat for an external chat (and, for one-to-one connectors, external user), if it exists. */
  findChat(connector: string, line: number, externalChatId: string, externalUserId?: string): ChatState | undefined {
    const id = this.#chatByExternal.get(this.#chatKey(connector, line, externalChatId, externalUserId));
    return id === undefined ? undefined : this.chats.get(id);
  }

  /** The newest chat mirroring an external chat, whichever external user it is with. */
  latestChat(connector: string, line: number, externalChatId: string): ChatState | undefined {
    let found: ChatState | undefined;
    for (const c of this.chats.values()) {
      if (c.connector === connector && c.line === line && c.externalChatId === externalChatId) found = c;
    }
    return found;
  }

  /** Forgets what the application set up (handlers, connectors, lines, bots), as uninstalling does. */
  forgetApplication(): void {
    // Bots registered through an incoming webhook (with a botToken) are the webhook's, not the application's.
    const hooked = (botId: number | undefined) =>
      botId !== undefined && this.chatbots.settings.get(botId)?.owner.kind === 'webhook';
    for (let i = this.handlers.length - 1; i >= 0; i--)
      if (!hooked(this.handlers[i]!.botId)) this.handlers.splice(i, 1);
    this.connectors.clear();
    this.lines.clear();
    for (const id of [...this.bots.keys()]) {
      if (hooked(id)) continue;
      this.bots.delete(id);
      this.chatbots.settings.delete(id);
    }
    this.chatbots.commands.forEach((c, id) => !this.bots.has(c.botId) && this.chatbots.commands.delete(id));
  }

  /** Adds an incoming webhook for a user; returns its code. */
  addWebhook(userId = this.adminUserId, scope = this.scope, code = hex(8)): string {
    this.webhooks.set(code, { userId, scope });
    return code;
  }

  /** As findChat, creating the chat (with a portal user for the external user and a session) on first use. */
  chatFor(connector: string, line: number, externalChatId: string, externalUserId?: string): ChatState {
    const known = this.findChat(connector, line, externalChatId, externalUserId);
    if (known) return known;
    const chat: ChatState = {
      id: this.#ids.chat(),
      connector,
      line,
      externalChatId,
      ...(externalUserId === undefined ? {} : { externalUserId }),
      userId: this.#ids.user(),
      sessionId: this.#ids.session(),
    };
    this.chats.set(chat.id, chat);
    this.#chatByExternal.set(this.#chatKey(connector, line, externalChatId, externalUserId), chat.id);
    return chat;
  }

  #chatKey(connector: string, line: number, externalChatId: string, externalUserId: string | undefined): string {
    // Group connectors have one chat per external chat; one-to-one connectors one per external user in it.
    const group = this.connectors.get(connector)?.chatGroup ?? true;
    return [connector, line, externalChatId, group ? '' : (externalUserId ?? '')].join('\u0000');
  }

  addMessage(
    chat: ChatState,
    m: Pick<MessageState, 'direction' | 'authorId' | 'text'> & { externalIds?: string[] },
  ): MessageState {
    const message: MessageState = {
      id: this.#ids.message(),
      chatId: chat.id,
      direction: m.direction,
      authorId: m.authorId,
      text: m.text,
      externalIds: m.externalIds ?? [],
      deleted: false,
      delivered: false,
      read: false,
    };
    this.messages.set(message.id, message);
    return message;
  }

  /** A message in a chat found by the id the external system gave it. */
  messageByExternalId(chat: ChatState, externalId: string): MessageState | undefined {
    for (const m of this.messages.values()) {
      if (m.chatId === chat.id && !m.deleted && m.externalIds.includes(externalId)) return m;
    }
    return undefined;
  }

  // ---- bots ----

  nextUserId(): number {
    return this.#ids.user();
  }
}
