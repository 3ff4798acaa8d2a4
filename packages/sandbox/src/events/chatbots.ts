import type { BotMessage, BotV2Settings, ChatV2 } from '../chatbots.js';
import type { SandboxCore } from '../core.js';
import { SandboxError } from '../errors.js';
import type { BotState, Portal } from '../portal.js';
import { botAuthV2 } from './auth.js';
import { sendEvent, type DeliveryResult, type QueuedRecord } from './deliver.js';
import { botUserV2, botV2, chatV2, isoDate, messageV2, sandboxUser, userV2 } from './payloads/chatbots.js';

/**
 * Chatbots 2.0 events as the platform sends them: to a bot registered with `eventMode: webhook`
 * a form POST to its webhookUrl (data.bot = `{id, code, auth}`, the top-level auth carrying the
 * bot's application token); to a `fetch` bot an item in its queue for imbot.v2.Event.get (data.bot
 * = the full bot object, native types); to each subscribed user (im.v2.Event.subscribe) an item in
 * theirs for im.v2.Event.get. A bot gets events only in the version it was registered with.
 */

const IM_EVENT_TTL_MS = 24 * 3600_000;

/** One ONIMBOTV2 event to one bot. */
export async function toBot(
  core: SandboxCore,
  portal: Portal,
  botId: number,
  code: string,
  data: Record<string, unknown>,
  userId?: number,
): Promise<DeliveryResult> {
  const bot = portal.bots.get(botId);
  const s = portal.chatbots.settings.get(botId);
  if (!bot || s?.version !== 2 || (s.deleted && code !== 'ONIMBOTV2DELETE')) return { code, ok: false, deliveries: [] };
  if (s.eventMode === 'fetch') {
    const eventId = portal.chatbots.nextEventId();
    const now = core.clock.now();
    s.queue.push({
      eventId,
      type: code,
      date: isoDate(now),
      data: { bot: botV2(bot, s, portal.chatbots.counts(bot.id)), ...data },
      at: now,
    });
    return { code, ok: true, deliveries: [], queued: [{ eventId, botId }] };
  }
  const webhookBot = { id: bot.id, code: bot.code, auth: botAuthV2(core, portal, bot.id, s.applicationToken) };
  return sendEvent(
    core,
    portal,
    code,
    { bot: webhookBot, ...data },
    { applicationToken: s.applicationToken, ...(userId === undefined ? {} : { userId }) },
  );
}

/** One ONIMV2 event to every subscribed member of a chat, each seeing it from their side. */
export function toUsers(
  core: SandboxCore,
  portal: Portal,
  chat: ChatV2,
  code: string,
  dataFor: (viewerId: number) => Record<string, unknown>,
): QueuedRecord[] {
  const queued: QueuedRecord[] = [];
  const now = core.clock.now();
  for (const member of chat.members) {
    const u = portal.chatbots.users.get(member);
    if (!u?.subscribed) continue;
    u.queue.expire(now - IM_EVENT_TTL_MS);
    const eventId = portal.chatbots.nextEventId();
    u.queue.push({ eventId, type: code, date: isoDate(now), data: dataFor(member), at: now });
    queued.push({ eventId, userId: member });
  }
  return queued;
}

/** What a user does in a chat with bots; each action changes the portal's chats and sends its events. */
export type ChatbotAct =
  /** A user adds the bot to a group chat (a new one unless `chatId`): ONIMBOTV2JOINCHAT. */
  | { kind: 'join'; botId: number; chatId?: number; title?: string; userId?: number }
  /** A user writes to the bot (its private chat), or in group chat `chatId` (mentioning `botId` unless `mention: false`): ONIMBOTV2MESSAGEADD. */
  | { kind: 'write'; text: string; botId?: number; chatId?: number; userId?: number; mention?: boolean }
  /** The author edits a message: ONIMBOTV2MESSAGEUPDATE to the bots it was addressed to. */
  | { kind: 'edit'; messageId: number; text: string }
  /** The author deletes a message: ONIMBOTV2MESSAGEDELETE. */
  | { kind: 'delete'; messageId: number }
  /** A user calls a registered slash command (in the bot's private chat, or `chatId`): ONIMBOTV2COMMANDADD. */
  | {
      kind: 'command';
      botId: number;
      command: string;
      params?: string;
      chatId?: number;
      userId?: number;
      context?: 'textarea' | 'keyboard' | 'menu';
    }
  /** A user reacts to a message: ONIMBOTV2REACTIONCHANGE to the bot that wrote it. */
  | { kind: 'react'; messageId: number; reaction?: string; action?: 'add' | 'delete'; userId?: number }
  /** A user opens the bot's dialog with a context: ONIMBOTV2CONTEXTGET. */
  | { kind: 'context'; botId: number; context: Record<string, unknown>; userId?: number };

export interface ChatbotOutcome {
  kind: ChatbotAct['kind'];
  chatId: number;
  /** The message the action wrote or changed. */
  messageId?: number;
  /** One per event sent (to bots, then to subscribed users). */
  results: DeliveryResult[];
  /** Every bot event was posted with a 2xx answer or queued. */
  ok: boolean;
}

const v2Bot = (portal: Portal, botId: number): { bot: BotState; s: BotV2Settings } => {
  const bot = portal.bots.get(botId);
  const s = portal.chatbots.settings.get(botId);
  if (!bot || !s || s.deleted)
    throw new SandboxError(
      'B24SB_NOT_FOUND',
      `No bot ${botId} on portal ${portal.memberId}; register one with imbot.v2.Bot.register`,
    );
  return { bot, s };
};

const messageOf = (portal: Portal, id: number): { message: BotMessage; chat: ChatV2 } => {
  const message = portal.chatbots.messages.get(id);
  const chat = message && portal.chatbots.chats.get(message.chatId);
  if (!message || !chat || message.deleted)
    throw new SandboxError('B24SB_NOT_FOUND', `No message ${id} on portal ${portal.memberId}`);
  return { message, chat };
};

const chatOf = (portal: Portal, chatId: number): ChatV2 => {
  const chat = portal.chatbots.chats.get(chatId);
  if (!chat)
    throw new SandboxError(
      'B24SB_NOT_FOUND',
      `No chat ${chatId} on portal ${portal.memberId}; a join action makes one`,
    );
  return chat;
};

/** A person or a bot as the `user` of an event. */
const userObject = (core: SandboxCore, portal: Portal, userId: number): Record<string, unknown> => {
  const s = portal.chatbots.settings.get(userId);
  return s ? botUserV2(userId, s.properties) : userV2(sandboxUser(userId), core.clock.now());
};

/** The v2 bots that see a message in a chat: a private chat's bot; in a group, those mentioned and the supervisor and personal bots in it. */
function addressed(portal: Portal, chat: ChatV2, mentioned: number[]): number[] {
  return [...chat.members].filter((id) => {
    const s = portal.chatbots.settings.get(id);
    if (s?.version !== 2 || s.deleted) return false;
    return chat.type === 'private' || mentioned.includes(id) || s.type === 'supervisor' || s.type === 'personal';
  });
}

export async function chatbotAct(core: SandboxCore, portal: Portal, act: ChatbotAct): Promise<ChatbotOutcome> {
  const cb = portal.chatbots;
  const language = portal.languageId;
  const now = () => isoDate(core.clock.now());
  const results: DeliveryResult[] = [];
  const users = (chat: ChatV2, code: string, dataFor: (viewer: number) => Record<string, unknown>) => {
    const queued = toUsers(core, portal, chat, code, dataFor);
    if (queued.length > 0) results.push({ code, ok: true, deliveries: [], queued });
  };
  const bots = async (
    ids: number[],
    code: string,
    dataFor: (botId: number) => Record<string, unknown>,
    userId?: number,
  ) => {
    for (const id of ids) results.push(await toBot(core, portal, id, code, dataFor(id), userId));
  };
  const done = (chatId: number, messageId?: number): ChatbotOutcome => ({
    kind: act.kind,
    chatId,
    ...(messageId === undefined ? {} : { messageId }),
    results,
    ok: results.every((r) => r.ok),
  });

  switch (act.kind) {
    case 'join': {
      const { bot } = v2Bot(portal, act.botId);
      const userId = act.userId ?? portal.adminUserId;
      const chat =
        act.chatId === undefined ? cb.groupChat(userId, act.title ?? 'Sandbox chat') : chatOf(portal, act.chatId);
      chat.members.add(userId);
      chat.members.add(bot.id);
      const dialogId = `chat${chat.id}`;
      await bots(
        [bot.id],
        'ONIMBOTV2JOINCHAT',
        (id) => ({ dialogId, chat: chatV2(chat, id), user: userObject(core, portal, userId), language }),
        userId,
      );
      users(chat, 'ONIMV2JOINCHAT', (viewer) => ({
        dialogId,
        chat: chatV2(chat, viewer),
        user: userObject(core, portal, bot.id),
        language,
      }));
      return done(chat.id);
    }
    case 'write': {
      const userId = act.userId ?? portal.adminUserId;
      let chat: ChatV2;
      let text = act.text;
      const mentioned: number[] = [];
      if (act.chatId !== undefined) {
        chat = chatOf(portal, act.chatId);
        chat.members.add(userId);
        if (act.botId !== undefined && act.mention !== false) {
          const { bot, s } = v2Bot(portal, act.botId);
          text = `[USER=${bot.id}]${s.properties.name}[/USER] ${text}`;
          mentioned.push(bot.id);
        }
      } else {
        if (act.botId === undefined)
          throw new SandboxError('B24SB_BAD_REQUEST', 'A write needs botId (its private chat) or chatId');
        chat = cb.privateChat(userId, v2Bot(portal, act.botId).bot.id);
      }
      const to = addressed(portal, chat, mentioned);
      const message = cb.addMessage({
        chatId: chat.id,
        authorId: userId,
        text,
        date: now(),
        system: false,
        params: {},
        addressedTo: to,
      });
      const common = (viewer: number) => ({
        message: messageV2(message),
        chat: chatV2(chat, viewer),
        user: userObject(core, portal, userId),
        language,
      });
      await bots(to, 'ONIMBOTV2MESSAGEADD', common, userId);
      users(chat, 'ONIMV2MESSAGEADD', common);
      return done(chat.id, message.id);
    }
    case 'edit': {
      const { message, chat } = messageOf(portal, act.messageId);
      message.text = act.text;
      message.params = { ...message.params, IS_EDITED: 'Y' };
      const common = (viewer: number) => ({
        message: messageV2(message),
        chat: chatV2(chat, viewer),
        user: userObject(core, portal, message.authorId),
        language,
      });
      await bots(message.addressedTo, 'ONIMBOTV2MESSAGEUPDATE', common, message.authorId);
      users(chat, 'ONIMV2MESSAGEUPDATE', common);
      return done(chat.id, message.id);
    }
    case 'delete': {
      const { message, chat } = messageOf(portal, act.messageId);
      message.deleted = true;
      const common = (viewer: number) => ({
        messageId: message.id,
        chat: chatV2(chat, viewer),
        user: userObject(core, portal, message.authorId),
        language,
      });
      await bots(message.addressedTo, 'ONIMBOTV2MESSAGEDELETE', common, message.authorId);
      users(chat, 'ONIMV2MESSAGEDELETE', common);
      return done(chat.id, message.id);
    }
    case 'command': {
      const { bot } = v2Bot(portal, act.botId);
      const name = act.command.replace(/^\//, '');
      const command = [...cb.commands.values()].find((c) => c.botId === bot.id && c.command === name);
      if (!command)
        throw new SandboxError(
          'B24SB_NOT_FOUND',
          `Bot ${bot.id} has no command /${name}; register it with imbot.v2.Command.register`,
        );
      const userId = act.userId ?? portal.adminUserId;
      const chat = act.chatId === undefined ? cb.privateChat(userId, bot.id) : chatOf(portal, act.chatId);
      chat.members.add(userId);
      const params = act.params ?? '';
      const message = cb.addMessage({
        chatId: chat.id,
        authorId: userId,
        text: `/${name}${params ? ` ${params}` : ''}`,
        date: now(),
        system: false,
        params: {},
        addressedTo: [],
      });
      cb.commandCalls.add(`${message.id}:${command.id}`);
      const call = { id: command.id, command: `/${name}`, params, context: act.context ?? 'textarea' };
      await bots(
        [bot.id],
        'ONIMBOTV2COMMANDADD',
        (viewer) => ({
          command: call,
          message: messageV2(message),
          chat: chatV2(chat, viewer),
          user: userObject(core, portal, userId),
          language,
        }),
        userId,
      );
      users(chat, 'ONIMV2MESSAGEADD', (viewer) => ({
        message: messageV2(message),
        chat: chatV2(chat, viewer),
        user: userObject(core, portal, userId),
        language,
      }));
      return done(chat.id, message.id);
    }
    case 'react': {
      const { message, chat } = messageOf(portal, act.messageId);
      const userId = act.userId ?? portal.adminUserId;
      const reaction = act.reaction ?? 'like';
      const action = act.action ?? 'add';
      const author = cb.settings.get(message.authorId);
      const to = author?.version === 2 && author.isReactionsEnabled && !message.system ? [message.authorId] : [];
      const common = (viewer: number) => ({
        reaction,
        action,
        message: messageV2(message),
        chat: chatV2(chat, viewer),
        user: userObject(core, portal, userId),
        language,
      });
      await bots(to, 'ONIMBOTV2REACTIONCHANGE', common, userId);
      users(chat, 'ONIMV2REACTIONCHANGE', common);
      return done(chat.id, message.id);
    }
    case 'context': {
      const { bot } = v2Bot(portal, act.botId);
      const userId = act.userId ?? portal.adminUserId;
      const chat = cb.privateChat(userId, bot.id);
      await bots(
        [bot.id],
        'ONIMBOTV2CONTEXTGET',
        (viewer) => ({
          dialogId: String(userId),
          context: act.context,
          chat: chatV2(chat, viewer),
          user: userObject(core, portal, userId),
          language,
        }),
        userId,
      );
      return done(chat.id);
    }
  }
}
