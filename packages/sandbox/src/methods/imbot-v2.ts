import { EventQueue, eventLimit, readQueues } from '../event-queue.js';
import type { BotOwner, BotV2Settings, ChatV2 } from '../chatbots.js';
import { toBot, toUsers } from '../events/chatbots.js';
import { botUserV2, botV2, chatV2, commandV2, isoDate, messageV2 } from '../events/payloads/chatbots.js';
import { hex } from '../ids.js';
import type { BotState, Portal } from '../portal.js';
import { RestError } from '../rest/answer.js';
import { asInt, asString, isObject, phpEmpty, type Params } from '../rest/params.js';
import type { MethodContext, MethodHandler } from './context.js';

/**
 * imbot.v2: bots, their messages and commands, and Event.get, as the Chatbots 2.0 pages
 * document them. Parameters are read by their documented camelCase names.
 */

// The docs answer these with 400 or 403; 403 where the caller may not act on what exists.
const fail = (code: string, description: string, status = 400) => new RestError(status, code, description);
const FORBIDDEN = new Set(['ACCESS_DENIED', 'BOT_OWNERSHIP_ERROR']);
const refuse = (code: string, description: string) => fail(code, description, FORBIDDEN.has(code) ? 403 : 400);

export const BOT_TYPES = new Set(['bot', 'network', 'openline', 'supervisor', 'personal']);
export const BACKGROUNDS = new Set(['azure', 'mint', 'steel', 'slate', 'teal', 'cornflower', 'sky', 'peach', 'frost']);
export const V2_EVENTS = [
  'ONIMBOTV2MESSAGEADD',
  'ONIMBOTV2MESSAGEUPDATE',
  'ONIMBOTV2MESSAGEDELETE',
  'ONIMBOTV2JOINCHAT',
  'ONIMBOTV2DELETE',
  'ONIMBOTV2CONTEXTGET',
  'ONIMBOTV2COMMANDADD',
  'ONIMBOTV2REACTIONCHANGE',
] as const;
const MAX_BOTS = 100;
const MAX_TOKEN = 40;
/** BOT-BC-0506-1: from this day Bot.register refuses a botToken over 40 characters. */
const TOKEN_LIMIT_FROM = Date.UTC(2026, 7, 6);
const MAX_TEXT = 20_000;

/** `true`/`false`, or "Y"/"N" for clients without JSON booleans (a form body's true is "1"). */
export function flag(v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null || v === '') return fallback;
  if (v === true || v === 1 || v === '1' || (typeof v === 'string' && v.toUpperCase() === 'Y') || v === 'true')
    return true;
  if (v === false || v === 0 || v === '0' || (typeof v === 'string' && v.toUpperCase() === 'N') || v === 'false')
    return false;
  return fallback;
}

function httpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

const fieldsOf = (raw: Params): Params => (isObject(raw.fields) ? raw.fields : {});

/** The owner a call acts as: the OAuth application, or the incoming webhook with a botToken. */
function callerOwner(ctx: MethodContext, botToken: string | undefined): BotOwner {
  return ctx.hook === undefined ? { kind: 'app' } : { kind: 'webhook', hook: ctx.hook, botToken: botToken ?? '' };
}

const sameOwner = (a: BotOwner, b: BotOwner): boolean =>
  a.kind === 'app' ? b.kind === 'app' : b.kind === 'webhook' && a.botToken === b.botToken;

/** A webhook call names its bot with botToken; an OAuth call needs none. */
function tokenOf(ctx: MethodContext): string | undefined {
  const token = asString(ctx.raw.botToken);
  if (ctx.hook !== undefined && !token?.trim()) throw refuse('BOT_TOKEN_NOT_SPECIFIED', 'Bot token is not specified');
  return token;
}

/** A bot's v2 settings; a bot registered with imbot.register (v1) is seen in v2 as its application's webhook bot. */
export function settingsOf(portal: Portal, bot: BotState): BotV2Settings {
  let s = portal.chatbots.settings.get(bot.id);
  if (!s) {
    const name = String((bot.properties as { NAME?: unknown }).NAME ?? bot.code);
    s = {
      version: 1,
      owner: { kind: 'app' },
      eventMode: 'webhook',
      webhookUrl: bot.handlers.ONIMBOTMESSAGEADD,
      applicationToken: portal.applicationToken,
      type: bot.type === 'O' ? 'openline' : bot.type === 'S' ? 'supervisor' : 'bot',
      isHidden: false,
      isReactionsEnabled: true,
      isSupportOpenline: bot.openline,
      backgroundId: null,
      language: portal.languageId,
      properties: { name },
      deleted: false,
      queue: new EventQueue(),
    };
    portal.chatbots.settings.set(bot.id, s);
  }
  return s;
}

/** The bot a call acts on, after the checks every imbot.v2 method makes (token, id, existence, ownership). */
function botOf(ctx: MethodContext, opts: { readable?: boolean } = {}): { bot: BotState; s: BotV2Settings } {
  const token = tokenOf(ctx);
  const id = asInt(ctx.raw.botId);
  if (id === undefined || id <= 0) throw refuse('BOT_ID_REQUIRED', 'Bot ID is required');
  const bot = ctx.portal.bots.get(id);
  const s = bot && settingsOf(ctx.portal, bot);
  // An unregistered fetch bot's last events (ONIMBOTV2DELETE) stay readable until confirmed.
  if (!bot || !s || (s.deleted && !(opts.readable && s.queue.size > 0))) throw refuse('BOT_NOT_FOUND', 'Bot not found');
  if (!sameOwner(s.owner, callerOwner(ctx, token)))
    throw refuse('BOT_OWNERSHIP_ERROR', 'Bot is registered by another application');
  return { bot, s };
}

const botAnswer = (portal: Portal, bot: BotState, s: BotV2Settings, extended = true) => ({
  bot: botV2(bot, s, extended ? portal.chatbots.counts(bot.id) : undefined),
  users: [botUserV2(bot.id, s.properties)],
});

/** The eight ONIMBOTV2 subscriptions of a webhook bot, rebuilt; none for a fetch bot. */
function subscribe(portal: Portal, bot: BotState, s: BotV2Settings): void {
  portal.unbindBot(bot.id);
  bot.handlers = {};
  if (s.eventMode !== 'webhook' || !s.webhookUrl || s.deleted) return;
  for (const code of V2_EVENTS) {
    bot.handlers[code] = s.webhookUrl;
    portal.bind(code, s.webhookUrl, 0, bot.id);
  }
}

function properties(p: Params): BotV2Settings['properties'] {
  const out: BotV2Settings['properties'] = { name: asString(p.name) ?? '' };
  for (const key of ['lastName', 'workPosition', 'color', 'gender'] as const) {
    const v = asString(p[key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** A Base64 avatar must be an image (PNG, JPEG, GIF or WebP by its first bytes). */
function checkAvatar(p: Params): void {
  const data = asString(p.avatar);
  if (!data) return;
  const head = Buffer.from(data.slice(0, 24), 'base64');
  const image =
    head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) ||
    head.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) ||
    head.subarray(0, 4).toString('latin1') === 'GIF8' ||
    (head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP');
  if (!image) throw refuse('BOT_AVATAR_INCORRECT_TYPE', 'Avatar must be an image');
}

const background = (v: unknown): string | null => {
  const s = asString(v);
  return s !== undefined && BACKGROUNDS.has(s) ? s : null;
};

/** imbot.v2.Bot.register: idempotent by code for the same owner. */
export const botRegister: MethodHandler = (ctx) => {
  const { portal, raw, core } = ctx;
  const fields = fieldsOf(raw);
  const botToken = asString(fields.botToken) ?? asString(raw.botToken);
  if (ctx.hook !== undefined && !botToken?.trim())
    throw refuse('BOT_TOKEN_NOT_SPECIFIED', 'Bot token is not specified');
  const code = asString(fields.code);
  if (!code) throw refuse('BOT_CODE_REQUIRED', 'Bot code is required');
  const props = fields.properties;
  if (!isObject(props) || phpEmpty(props.name)) throw refuse('BOT_PROPERTIES_REQUIRED', 'Bot properties are required');
  const type = asString(fields.type) ?? 'bot';
  if (!BOT_TYPES.has(type)) throw refuse('BOT_INVALID_TYPE', 'Invalid bot type');
  const eventMode = asString(fields.eventMode) ?? 'fetch';
  if (eventMode !== 'fetch' && eventMode !== 'webhook') throw refuse('BOT_INVALID_EVENT_MODE', 'Invalid event mode');
  const webhookUrl = phpEmpty(fields.webhookUrl) ? undefined : asString(fields.webhookUrl);
  if (eventMode === 'webhook' && !webhookUrl) throw refuse('BOT_WEBHOOK_URL_REQUIRED', 'Webhook URL is required');
  if (webhookUrl !== undefined && !httpUrl(webhookUrl)) throw refuse('BOT_INVALID_CALLBACK', 'Invalid callback URL');
  if (botToken !== undefined && botToken.length > MAX_TOKEN && core.clock.now() >= TOKEN_LIMIT_FROM) {
    throw refuse('BOT_TOKEN_INVALID_LENGTH', `Bot token must not be longer than ${MAX_TOKEN} characters`);
  }
  checkAvatar(props);
  const owner = callerOwner(ctx, botToken);
  const existing = [...portal.bots.values()].find(
    (b) => b.code === code && !portal.chatbots.settings.get(b.id)?.deleted,
  );
  if (existing) {
    const s = settingsOf(portal, existing);
    if (!sameOwner(s.owner, owner)) throw refuse('BOT_CODE_ALREADY_TAKEN', 'Bot code is already taken');
    return botAnswer(portal, existing, s);
  }
  const mine = [...portal.chatbots.settings.values()].filter((s) => !s.deleted && sameOwner(s.owner, owner)).length;
  if (mine >= MAX_BOTS) throw refuse('BOT_LIMIT_EXCEEDED', 'Bot limit exceeded');
  const isSupportOpenline = flag(fields.isSupportOpenline, false);
  const bot: BotState = {
    id: portal.nextUserId(),
    code,
    type,
    openline: isSupportOpenline,
    properties: props,
    handlers: {},
  };
  const s: BotV2Settings = {
    version: 2,
    owner,
    eventMode,
    webhookUrl,
    // A botToken bot's webhooks carry an application token of its own; an application's bots, the application's.
    applicationToken: owner.kind === 'app' ? portal.applicationToken : hex(),
    type,
    isHidden: flag(fields.isHidden, false),
    isReactionsEnabled: flag(fields.isReactionsEnabled, true),
    isSupportOpenline,
    backgroundId: background(fields.backgroundId),
    language: portal.languageId,
    properties: properties(props),
    deleted: false,
    queue: new EventQueue(),
  };
  portal.bots.set(bot.id, bot);
  portal.chatbots.settings.set(bot.id, s);
  subscribe(portal, bot, s);
  return botAnswer(portal, bot, s);
};

/** imbot.v2.Bot.update: properties, switches, mode and URL (subscriptions rebuilt), botToken rotation. */
export const botUpdate: MethodHandler = (ctx) => {
  const { portal } = ctx;
  const { bot, s } = botOf(ctx);
  const fields = fieldsOf(ctx.raw);
  const eventMode = fields.eventMode === undefined ? s.eventMode : asString(fields.eventMode);
  if (eventMode !== 'fetch' && eventMode !== 'webhook') throw refuse('BOT_INVALID_EVENT_MODE', 'Invalid event mode');
  const webhookUrl = phpEmpty(fields.webhookUrl) ? s.webhookUrl : asString(fields.webhookUrl);
  if (webhookUrl !== undefined && !httpUrl(webhookUrl)) throw refuse('BOT_INVALID_CALLBACK', 'Invalid callback URL');
  if (eventMode === 'webhook' && !webhookUrl) throw refuse('BOT_INVALID_CALLBACK', 'Invalid callback URL');
  if (isObject(fields.properties)) checkAvatar(fields.properties);
  const rotate = asString(fields.botToken)?.trim() ? asString(fields.botToken)! : undefined;
  if (rotate !== undefined) {
    // One generic answer for a long token and a taken one: it must not reveal other bots' tokens.
    const taken = [...portal.chatbots.settings.values()].some(
      (o) => o !== s && o.owner.kind === 'webhook' && o.owner.botToken === rotate,
    );
    if (s.owner.kind !== 'webhook' || rotate.length > MAX_TOKEN || taken)
      throw refuse('BOT_TOKEN_ROTATION_FAILED', 'Bot token rotation failed');
  }
  if (isObject(fields.properties)) {
    const p = fields.properties;
    const next = properties({ ...s.properties, ...p });
    if (phpEmpty(p.name)) next.name = s.properties.name;
    s.properties = next;
  }
  s.isHidden = flag(fields.isHidden, s.isHidden);
  s.isReactionsEnabled = flag(fields.isReactionsEnabled, s.isReactionsEnabled);
  s.isSupportOpenline = flag(fields.isSupportOpenline, s.isSupportOpenline);
  bot.openline = s.isSupportOpenline;
  if (Object.hasOwn(fields, 'backgroundId')) s.backgroundId = background(fields.backgroundId);
  const resubscribe = eventMode !== s.eventMode || webhookUrl !== s.webhookUrl || rotate !== undefined;
  s.eventMode = eventMode;
  s.webhookUrl = webhookUrl;
  if (rotate !== undefined && s.owner.kind === 'webhook') {
    // The old token loses access at once; the webhooks carry a new application token.
    s.owner = { ...s.owner, botToken: rotate };
    s.applicationToken = hex();
  }
  if (resubscribe) subscribe(portal, bot, s);
  return botAnswer(portal, bot, s);
};

/** imbot.v2.Bot.get: by botId or code; extended for the owner, brief for others. */
export const botGet: MethodHandler = (ctx) => {
  const token = tokenOf(ctx);
  const id = asInt(ctx.raw.botId);
  const code = asString(ctx.raw.code);
  if ((id === undefined || id <= 0) && !code) throw refuse('PARAMS_REQUIRED', 'Required parameters are missing');
  const bot =
    id !== undefined && id > 0 ? ctx.portal.bots.get(id) : [...ctx.portal.bots.values()].find((b) => b.code === code);
  const s = bot && settingsOf(ctx.portal, bot);
  if (!bot || !s || s.deleted) throw refuse('BOT_NOT_FOUND', 'Bot not found');
  return botAnswer(ctx.portal, bot, s, sameOwner(s.owner, callerOwner(ctx, token)));
};

/** imbot.v2.Bot.list: the caller's bots (an incoming webhook's: those registered through it), extended. */
export const botList: MethodHandler = (ctx) => {
  tokenOf(ctx);
  const filter = isObject(ctx.raw.filter) ? asString(ctx.raw.filter.type) : undefined;
  const limit = Math.max(1, asInt(ctx.raw.limit) ?? 50);
  const offset = Math.max(0, asInt(ctx.raw.offset) ?? 0);
  const mine = [...ctx.portal.bots.values()].filter((b) => {
    const s = settingsOf(ctx.portal, b);
    if (s.deleted || (filter !== undefined && s.type !== filter)) return false;
    return ctx.hook === undefined ? s.owner.kind === 'app' : s.owner.kind === 'webhook' && s.owner.hook === ctx.hook;
  });
  const page = mine.slice(offset, offset + limit);
  return {
    bots: page.map((b) => botV2(b, settingsOf(ctx.portal, b), ctx.portal.chatbots.counts(b.id))),
    users: page.map((b) => botUserV2(b.id, settingsOf(ctx.portal, b).properties)),
    hasNextPage: offset + limit < mine.length,
  };
};

/**
 * imbot.v2.Bot.unregister: the bot is gone and its subscriptions with it; ONIMBOTV2DELETE, "the last
 * event the bot will receive", goes to its webhook, or stays in its queue until confirmed.
 */
export const botUnregister: MethodHandler = async (ctx) => {
  const { portal, core } = ctx;
  const { bot, s } = botOf(ctx);
  for (const [id, c] of portal.chatbots.commands) if (c.botId === bot.id) portal.chatbots.commands.delete(id);
  if (s.version === 2) {
    // Sent before the subscriptions go: it is the last event delivered through them.
    const sent = toBot(core, portal, bot.id, 'ONIMBOTV2DELETE', {});
    s.deleted = true;
    await sent;
  }
  s.deleted = true;
  portal.unbindBot(bot.id);
  if (s.queue.size === 0) forgetBot(portal, bot.id);
  return { result: true };
};

function forgetBot(portal: Portal, botId: number): void {
  portal.bots.delete(botId);
  portal.chatbots.settings.delete(botId);
  for (const chat of portal.chatbots.chats.values()) chat.members.delete(botId);
}

/** The chat a bot may write in through `dialogId`: one it is a member of. */
function botChat(portal: Portal, bot: BotState, dialogId: string | undefined): ChatV2 {
  const chat = dialogId ? portal.chatbots.chatOf(dialogId, bot.id) : undefined;
  if (!chat || !chat.members.has(bot.id)) throw refuse('ACCESS_DENIED', 'Access denied');
  return chat;
}

const truncated = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)} (...)` : text);

/** What a message keeps of `fields` beside its text, in the `params` of its Message object. */
function paramsOf(fields: Params): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!phpEmpty(fields.attach)) out.ATTACH = fields.attach;
  if (!phpEmpty(fields.keyboard) && fields.keyboard !== 'N') out.KEYBOARD = fields.keyboard;
  const reply = asInt(fields.replyId);
  if (reply !== undefined && reply > 0) out.REPLY_ID = reply;
  if (flag(fields.urlPreview, true) === false) out.URL_PREVIEW = 'N';
  return out;
}

/** imbot.v2.Chat.Message.send: as the bot, into a dialog it is in. */
export const messageSend: MethodHandler = (ctx) => {
  const { portal, core } = ctx;
  const { bot } = botOf(ctx);
  const chat = botChat(portal, bot, asString(ctx.raw.dialogId));
  const fields = fieldsOf(ctx.raw);
  const text = asString(fields.message) ?? '';
  const forward = isObject(fields.forwardIds) ? Object.entries(fields.forwardIds) : [];
  if (!text.trim() && phpEmpty(fields.attach) && forward.length === 0)
    throw refuse('EMPTY_MESSAGE', 'Message is empty');
  if (forward.length > 100) throw refuse('SENDING_FAILED', 'Sending failed');
  const date = isoDate(core.clock.now());
  const uuidMap: Record<string, number> = {};
  for (const [uuid, ref] of forward) {
    const original = portal.chatbots.messages.get(asInt(ref) ?? 0);
    if (!original || original.deleted || !portal.chatbots.chats.get(original.chatId)?.members.has(bot.id))
      throw refuse('ACCESS_DENIED', 'Access denied');
    const copy = portal.chatbots.addMessage({
      chatId: chat.id,
      authorId: bot.id,
      text: original.text,
      date,
      system: false,
      params: { FORWARD_ID: original.id },
    });
    uuidMap[uuid] = copy.id;
  }
  const sent =
    text.trim() || !phpEmpty(fields.attach)
      ? portal.chatbots.addMessage({
          chatId: chat.id,
          authorId: bot.id,
          text: truncated(text),
          date,
          system: flag(fields.system, false),
          params: paramsOf(fields),
        })
      : undefined;
  const id = sent?.id ?? Object.values(uuidMap).at(-1)!;
  if (sent)
    toUsers(core, portal, chat, 'ONIMV2MESSAGEADD', (viewer) => ({
      message: messageV2(sent),
      chat: chatV2(chat, viewer),
      user: botUserV2(bot.id, settingsOf(portal, bot).properties),
      language: portal.languageId,
    }));
  return { id, uuidMap };
};

/** A message of the bot's own that it may change: not a system message (those are nobody's). */
function ownMessage(ctx: MethodContext, bot: BotState, opts: { orManager?: boolean } = {}) {
  const m = ctx.portal.chatbots.messages.get(asInt(ctx.raw.messageId) ?? 0);
  const chat = m && ctx.portal.chatbots.chats.get(m.chatId);
  const own = m && !m.deleted && m.authorId === bot.id && !m.system;
  if (!m || !chat || m.deleted || !(own || (opts.orManager && chat.managers.has(bot.id))))
    throw refuse('ACCESS_DENIED', 'Access denied');
  return { message: m, chat };
}

/** imbot.v2.Chat.Message.update: the bot's own messages only. */
export const messageUpdate: MethodHandler = (ctx) => {
  const { bot } = botOf(ctx);
  const { message, chat } = ownMessage(ctx, bot);
  const fields = fieldsOf(ctx.raw);
  if (fields.message !== undefined) message.text = truncated(asString(fields.message) ?? '');
  if (fields.keyboard === 'N') delete message.params.KEYBOARD;
  message.params = { ...message.params, ...paramsOf(fields), IS_EDITED: 'Y' };
  toUsers(ctx.core, ctx.portal, chat, 'ONIMV2MESSAGEUPDATE', (viewer) => ({
    message: messageV2(message),
    chat: chatV2(chat, viewer),
    user: botUserV2(bot.id, settingsOf(ctx.portal, bot).properties),
    language: ctx.portal.languageId,
  }));
  return { result: true };
};

/** imbot.v2.Chat.Message.delete: its own messages, or any in a chat it manages. */
export const messageDelete: MethodHandler = (ctx) => {
  const { bot } = botOf(ctx);
  const { message, chat } = ownMessage(ctx, bot, { orManager: true });
  message.deleted = true;
  if (flag(ctx.raw.complete, false)) ctx.portal.chatbots.messages.delete(message.id);
  toUsers(ctx.core, ctx.portal, chat, 'ONIMV2MESSAGEDELETE', (viewer) => ({
    messageId: message.id,
    chat: chatV2(chat, viewer),
    user: botUserV2(bot.id, settingsOf(ctx.portal, bot).properties),
    language: ctx.portal.languageId,
  }));
  return { result: true };
};

/** imbot.v2.Command.register: `fields` (or, until 30.09.2026, the same at the top level); idempotent per bot and command. */
export const commandRegister: MethodHandler = (ctx) => {
  const { bot } = botOf(ctx);
  const fields = isObject(ctx.raw.fields) ? ctx.raw.fields : ctx.raw;
  if (phpEmpty(fields.command)) throw refuse('COMMAND_REQUIRED', 'Command is required');
  if (typeof fields.command !== 'string') throw refuse('COMMAND_NAME_INVALID', 'Command name is invalid');
  const name = fields.command.replace(/^\//, '');
  const hidden = flag(fields.hidden, false);
  const title = isObject(fields.title) ? fields.title : {};
  if (!hidden && phpEmpty(title)) throw refuse('COMMAND_TITLE_REQUIRED', 'Command title is required');
  const cb = ctx.portal.chatbots;
  const known = [...cb.commands.values()].find((c) => c.botId === bot.id && c.command === name);
  if (known) return { command: commandV2(known) };
  const strings = (o: Params) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, asString(v) ?? '']));
  const command = {
    id: cb.nextCommandId(),
    botId: bot.id,
    command: name,
    common: flag(fields.common, false),
    hidden,
    extranetSupport: flag(fields.extranetSupport, false),
    title: strings(title),
    params: strings(isObject(fields.params) ? fields.params : {}),
  };
  cb.commands.set(command.id, command);
  return { command: commandV2(command) };
};

/**
 * imbot.v2.Command.answer: allowed for a command call (messageId + commandId) in its dialog,
 * even where the bot is not a member: there the answer is a system message.
 */
export const commandAnswer: MethodHandler = (ctx) => {
  const { portal, core } = ctx;
  const { bot } = botOf(ctx);
  const cb = portal.chatbots;
  const commandId = asInt(ctx.raw.commandId) ?? 0;
  const messageId = asInt(ctx.raw.messageId) ?? 0;
  const call = cb.messages.get(messageId);
  const command = cb.commands.get(commandId);
  const dialogId = asString(ctx.raw.dialogId);
  const chat = dialogId ? cb.chatOf(dialogId, bot.id) : undefined;
  const fields = fieldsOf(ctx.raw);
  const text = asString(fields.message) ?? '';
  const failed = () => refuse('COMMAND_ANSWER_FAILED', 'Command answer failed');
  if (!call || !command || command.botId !== bot.id || !cb.commandCalls.has(`${messageId}:${commandId}`))
    throw failed();
  if (!chat || chat.id !== call.chatId || (!text.trim() && phpEmpty(fields.attach))) throw failed();
  const system = flag(fields.system, false) || !chat.members.has(bot.id);
  cb.addMessage({
    chatId: chat.id,
    authorId: bot.id,
    text: truncated(text),
    date: isoDate(core.clock.now()),
    system,
    params: paramsOf(fields),
  });
  return { result: true };
};

/** The user a call acts for may read im.v2 events with it only with the `im` scope. */
function hasScope(ctx: MethodContext, scope: string): boolean {
  const granted = ctx.hook === undefined ? ctx.portal.scope : (ctx.portal.webhooks.get(ctx.hook)?.scope ?? '');
  return granted.split(/[\s,]+/).includes(scope);
}

/**
 * imbot.v2.Event.get: confirms the events below `offset`, then hands out up to `limit` (1–1000,
 * default 100) of the bot's queue; with `withUserEvents`, the calling user's ONIMV2 events too,
 * one offset confirming both.
 */
export const eventGet: MethodHandler = (ctx) => {
  const { portal, core } = ctx;
  const { bot, s } = botOf(ctx, { readable: true });
  const queues = [s.queue];
  if (flag(ctx.raw.withUserEvents, false)) {
    if (!hasScope(ctx, 'im')) throw refuse('SCOPE_ERROR', 'Scope error');
    if (!ctx.userId) throw refuse('AUTH_ERROR', 'Auth error');
    const user = portal.chatbots.users.get(ctx.userId);
    if (!user?.subscribed) throw refuse('USER_NOT_SUBSCRIBED', 'User not subscribed');
    user.queue.expire(core.clock.now() - 24 * 3600_000);
    queues.push(user.queue);
  }
  const page = readQueues(
    queues,
    asInt(ctx.raw.offset),
    eventLimit(asInt(ctx.raw.limit)),
    portal.chatbots.peekEventId(),
  );
  if (s.deleted && s.queue.size === 0) forgetBot(portal, bot.id);
  return page;
};
