import { counter } from './ids.js';
import { EventQueue } from './event-queue.js';

/**
 * A portal's chat-bot state behind imbot.v2 and im.v2 (and the v1 message methods, which work on
 * the same chats): bots' Chatbots 2.0 settings, chats with their members, messages, slash
 * commands, command calls awaiting an answer, and the event queues Event.get reads.
 */

export type EventMode = 'fetch' | 'webhook';

/** Who registered a bot: the OAuth application, or an incoming webhook with the bot's botToken. */
export type BotOwner = { kind: 'app' } | { kind: 'webhook'; hook: string; botToken: string };

/** What imbot.v2 keeps of a bot beside its identity (BotState). */
export interface BotV2Settings {
  /** The API the bot was registered with: it gets its events in that version only. */
  version: 1 | 2;
  owner: BotOwner;
  eventMode: EventMode;
  webhookUrl: string | undefined;
  /** The application_token its webhooks carry: the portal's for an OAuth application, one of its own for a botToken bot. */
  applicationToken: string;
  type: string;
  isHidden: boolean;
  isReactionsEnabled: boolean;
  isSupportOpenline: boolean;
  backgroundId: string | null;
  language: string;
  properties: { name: string; lastName?: string; workPosition?: string; color?: string; gender?: string };
  /** Unregistered: only its unconfirmed events (the last one ONIMBOTV2DELETE) stay readable. */
  deleted: boolean;
  queue: EventQueue;
}

export interface ChatV2 {
  id: number;
  /** `private` for a one-to-one dialog, `chat` for a group chat. */
  type: 'private' | 'chat';
  name: string;
  owner: number;
  color: string;
  members: Set<number>;
  managers: Set<number>;
}

export interface BotMessage {
  id: number;
  chatId: number;
  authorId: number;
  text: string;
  date: string;
  system: boolean;
  deleted: boolean;
  params: Record<string, unknown>;
  /** The bots a user's message was addressed to (mentioned, or the bot of a private chat): they see its edit and deletion. */
  addressedTo: number[];
}

export interface CommandV2 {
  id: number;
  botId: number;
  /** Without the slash, as registered. */
  command: string;
  common: boolean;
  hidden: boolean;
  extranetSupport: boolean;
  title: Record<string, string>;
  params: Record<string, string>;
}

export interface UserV2Subscription {
  userId: number;
  queue: EventQueue;
}

export class Chatbots {
  readonly settings = new Map<number, BotV2Settings>();
  readonly chats = new Map<number, ChatV2>();
  readonly messages = new Map<number, BotMessage>();
  readonly commands = new Map<number, CommandV2>();
  /** `messageId:commandId` of each command call: Command.answer is allowed for it. */
  readonly commandCalls = new Set<string>();
  /** Users subscribed with im.v2.Event.subscribe; an unsubscribed user's queue stays until read (24 h). */
  readonly users = new Map<number, UserV2Subscription & { subscribed: boolean }>();
  readonly #ids = { chat: counter(4501), message: counter(90001), command: counter(41) };
  #nextEvent = 1001;

  nextMessageId(): number {
    return this.#ids.message();
  }

  nextCommandId(): number {
    return this.#ids.command();
  }

  /** The next id the portal's event log hands out (one sequence for bots' and users' queues). */
  nextEventId(): number {
    return this.#nextEvent++;
  }

  /** The id the next event will get, without taking it. */
  peekEventId(): number {
    return this.#nextEvent;
  }

  /** The private chat of a user and a bot, made on first use (Bitrix24 creates it when either writes). */
  privateChat(userId: number, botId: number): ChatV2 {
    for (const c of this.chats.values())
      if (c.type === 'private' && c.members.has(userId) && c.members.has(botId) && c.members.size === 2) return c;
    const chat: ChatV2 = {
      id: this.#ids.chat(),
      type: 'private',
      name: '',
      owner: botId,
      color: '#ab7761',
      members: new Set([userId, botId]),
      managers: new Set(),
    };
    this.chats.set(chat.id, chat);
    return chat;
  }

  groupChat(owner: number, name: string, id?: number): ChatV2 {
    const known = id === undefined ? undefined : this.chats.get(id);
    if (known) return known;
    const chat: ChatV2 = {
      id: id ?? this.#ids.chat(),
      type: 'chat',
      name,
      owner,
      color: '#ab7761',
      members: new Set([owner]),
      managers: new Set([owner]),
    };
    this.chats.set(chat.id, chat);
    return chat;
  }

  /** The chat a `dialogId` names for `selfId`: `chatN`, or the private chat with user N. */
  chatOf(dialogId: string, selfId: number): ChatV2 | undefined {
    const group = /^chat(\d+)$/.exec(dialogId);
    if (group) return this.chats.get(Number(group[1]));
    if (/^\d+$/.test(dialogId) && Number(dialogId) > 0 && Number(dialogId) !== selfId)
      return this.privateChat(Number(dialogId), selfId);
    return undefined;
  }

  addMessage(m: Omit<BotMessage, 'id' | 'deleted' | 'addressedTo'> & { addressedTo?: number[] }): BotMessage {
    const message: BotMessage = { ...m, id: this.nextMessageId(), deleted: false, addressedTo: m.addressedTo ?? [] };
    this.messages.set(message.id, message);
    return message;
  }

  user(userId: number): UserV2Subscription & { subscribed: boolean } {
    let u = this.users.get(userId);
    if (!u) this.users.set(userId, (u = { userId, queue: new EventQueue(), subscribed: false }));
    return u;
  }

  /** A bot's counters as Bot.get shows them to its owner. */
  counts(botId: number): { message: number; command: number; chat: number; user: number } {
    let message = 0;
    for (const m of this.messages.values()) if (m.authorId === botId && !m.system) message++;
    let command = 0;
    for (const c of this.commands.values()) if (c.botId === botId) command++;
    const chats = [...this.chats.values()].filter((c) => c.members.has(botId));
    const users = new Set(chats.flatMap((c) => [...c.members]).filter((id) => id !== botId));
    return { message, command, chat: chats.length, user: users.size };
  }
}

/** `dialogId` of a chat as `viewerId` sees it: `chatN`, or in a private chat the other member's id. */
export function dialogIdOf(chat: ChatV2, viewerId: number): string {
  if (chat.type === 'chat') return `chat${chat.id}`;
  const other = [...chat.members].find((m) => m !== viewerId);
  return String(other ?? viewerId);
}
