import type { ChatV2 } from '../chatbots.js';
import { isoDate } from '../events/payloads/chatbots.js';
import type { BotState, Portal } from '../portal.js';
import { RestError } from '../rest/answer.js';
import { asInt, asString, isObject, phpEmpty } from '../rest/params.js';
import type { MethodHandler } from './context.js';

const wrong = (code: string, description: string) => new RestError(400, code, description);

function url(value: unknown, code: string): string {
  const s = asString(value) ?? '';
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') return s;
  } catch {
    // fall through
  }
  throw wrong(code, 'Wrong handler URL');
}

/**
 * imbot.register: creates the bot user and binds its handlers. For TYPE B/H without
 * Open Lines the update/delete handlers are ignored, as the docs say. Registering an
 * existing CODE again returns the existing bot's id.
 */
export const imbotRegister: MethodHandler = ({ portal, params }) => {
  const code = asString(params.CODE);
  if (!code) throw wrong('CODE_ERROR', "Bot code isn't specified");
  const common = params.EVENT_HANDLER;
  const pick = (name: string) => (phpEmpty(params[name]) ? common : params[name]);
  const add = url(pick('EVENT_MESSAGE_ADD'), 'EVENT_MESSAGE_ADD_ERROR');
  const welcome = url(pick('EVENT_WELCOME_MESSAGE'), 'EVENT_WELCOME_MESSAGE_ERROR');
  const remove = url(pick('EVENT_BOT_DELETE'), 'EVENT_BOT_DELETE_ERROR');
  const props = params.PROPERTIES;
  if (!isObject(props) || (phpEmpty(props.NAME) && phpEmpty(props.LAST_NAME)))
    throw wrong('NAME_ERROR', "Bot name isn't specified");

  const existing = [...portal.bots.values()].find((b) => b.code === code);
  if (existing) return existing.id;

  const type = (asString(params.TYPE) ?? 'B').toUpperCase();
  const openline = type === 'O' || asString(params.OPENLINE)?.toUpperCase() === 'Y';
  const handlers: Record<string, string> = { ONIMBOTMESSAGEADD: add, ONIMBOTJOINCHAT: welcome, ONIMBOTDELETE: remove };
  if (openline || (type !== 'B' && type !== 'H')) {
    const update = pick('EVENT_MESSAGE_UPDATE');
    const del = pick('EVENT_MESSAGE_DELETE');
    if (!phpEmpty(update)) handlers.ONIMBOTMESSAGEUPDATE = url(update, 'EVENT_MESSAGE_UPDATE_ERROR');
    if (!phpEmpty(del)) handlers.ONIMBOTMESSAGEDELETE = url(del, 'EVENT_MESSAGE_DELETE_ERROR');
  }
  const bot: BotState = { id: portal.nextUserId(), code, type, openline, properties: props, handlers };
  portal.bots.set(bot.id, bot);
  for (const [event, handler] of Object.entries(handlers)) portal.bind(event, handler, 0, bot.id);
  return bot.id;
};

/**
 * The v1 methods a v1 bot answers with. They work on the same chats as imbot.v2 (a dialog the
 * sandbox has not seen yet is made on first use: v1 bots' events come from `act.bot`, which keeps
 * no chats). Error codes are Bitrix24's; their texts the sandbox's own.
 */

const v1Error = (code: string, description: string) => new RestError(400, code, description);

/** BOT_ID, or the application's first bot when it is absent. */
function v1Bot(portal: Portal, params: Record<string, unknown>): BotState {
  const id = asInt(params.BOT_ID);
  const bot =
    id === undefined || id === 0
      ? [...portal.bots.values()].find((b) => portal.chatbots.settings.get(b.id)?.owner.kind !== 'webhook')
      : portal.bots.get(id);
  if (!bot || portal.chatbots.settings.get(bot.id)?.deleted) throw v1Error('BOT_ID_ERROR', 'Bot not found');
  if (portal.chatbots.settings.get(bot.id)?.owner.kind === 'webhook')
    throw v1Error('APP_ID_ERROR', 'Bot was installed by another rest application');
  return bot;
}

/** The chat DIALOG_ID names for a bot: `chatN` (made if new) or the private chat with user N. */
function v1Chat(portal: Portal, bot: BotState, dialogId: string): ChatV2 {
  const group = /^chat(\d+)$/.exec(dialogId);
  if (group) {
    const chat = portal.chatbots.groupChat(portal.adminUserId, `Chat #${group[1]}`, Number(group[1]));
    chat.members.add(bot.id);
    return chat;
  }
  if (!/^\d+$/.test(dialogId) || Number(dialogId) <= 0) throw v1Error('DIALOG_ID_EMPTY', "Dialog ID can't be empty");
  return portal.chatbots.privateChat(Number(dialogId), bot.id);
}

/** imbot.message.add: the new message's id. */
export const messageAdd: MethodHandler = ({ portal, params, core }) => {
  const bot = v1Bot(portal, params);
  const from = asInt(params.FROM_USER_ID) ?? 0;
  const to = asInt(params.TO_USER_ID) ?? 0;
  const dialogId = asString(params.DIALOG_ID) ?? '';
  const text = (asString(params.MESSAGE) ?? '').trim();
  if (!(from > 0 && to > 0) && !dialogId) throw v1Error('DIALOG_ID_EMPTY', "Dialog ID can't be empty");
  if (!text && phpEmpty(params.ATTACH)) throw v1Error('MESSAGE_EMPTY', "Message can't be empty");
  // FROM_USER_ID + TO_USER_ID: a system message in their private dialog.
  const pair = from > 0 && to > 0;
  const chat = pair ? portal.chatbots.privateChat(to, from) : v1Chat(portal, bot, dialogId);
  const system = pair || asString(params.SYSTEM)?.toUpperCase() === 'Y';
  const extra = Object.fromEntries(
    (['ATTACH', 'KEYBOARD', 'MENU'] as const).filter((k) => !phpEmpty(params[k])).map((k) => [k, params[k]]),
  );
  return portal.chatbots.addMessage({
    chatId: chat.id,
    authorId: bot.id,
    text,
    date: isoDate(core.clock.now()),
    system,
    params: extra,
  }).id;
};

function v1Message(portal: Portal, bot: BotState, params: Record<string, unknown>) {
  const id = asInt(params.MESSAGE_ID);
  if (id === undefined || id <= 0) throw v1Error('MESSAGE_ID_ERROR', "Message ID can't be empty");
  const m = portal.chatbots.messages.get(id);
  if (!m || m.deleted || m.authorId !== bot.id)
    throw v1Error('CANT_EDIT_MESSAGE', "Time has expired for modification or you don't have access");
  return m;
}

/** imbot.message.update: an empty MESSAGE deletes the message; an absent one leaves its text. */
export const messageUpdate: MethodHandler = ({ portal, params }) => {
  const m = v1Message(portal, v1Bot(portal, params), params);
  if (params.MESSAGE !== undefined) {
    const text = (asString(params.MESSAGE) ?? '').trim();
    if (text) m.text = text;
    else m.deleted = true;
  }
  for (const k of ['ATTACH', 'KEYBOARD', 'MENU'] as const) {
    if (params[k] === undefined) continue;
    if (phpEmpty(params[k]) || params[k] === 'N') delete m.params[k];
    else m.params[k] = params[k];
  }
  return true;
};

/** imbot.message.delete. */
export const messageDelete: MethodHandler = ({ portal, params }) => {
  const m = v1Message(portal, v1Bot(portal, params), params);
  m.deleted = true;
  if (asString(params.COMPLETE)?.toUpperCase() === 'Y') portal.chatbots.messages.delete(m.id);
  return true;
};

/** imbot.command.answer: COMMAND_ID (or COMMAND and BOT_ID), MESSAGE_ID of the call, MESSAGE. */
export const commandAnswer: MethodHandler = ({ portal, params, core }) => {
  const cb = portal.chatbots;
  const byId = cb.commands.get(asInt(params.COMMAND_ID) ?? 0);
  const name = asString(params.COMMAND)?.replace(/^\//, '');
  const botId = asInt(params.BOT_ID);
  const command =
    byId ?? [...cb.commands.values()].find((c) => c.command === name && (botId === undefined || c.botId === botId));
  if (!command) throw v1Error('COMMAND_ID_ERROR', 'Command not found');
  const messageId = asInt(params.MESSAGE_ID);
  const call = messageId === undefined ? undefined : cb.messages.get(messageId);
  if (!call) throw v1Error('MESSAGE_ID_ERROR', "Message ID can't be empty");
  const text = (asString(params.MESSAGE) ?? '').trim();
  if (!text && phpEmpty(params.ATTACH)) throw v1Error('MESSAGE_EMPTY', "Message can't be empty");
  const chat = cb.chats.get(call.chatId)!;
  return cb.addMessage({
    chatId: call.chatId,
    authorId: command.botId,
    text,
    date: isoDate(core.clock.now()),
    system: !chat.members.has(command.botId),
    params: {},
  }).id;
};
