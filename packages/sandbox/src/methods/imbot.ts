import type { BotState } from '../portal.js';
import { RestError } from '../rest/answer.js';
import { asString, isObject, phpEmpty } from '../rest/params.js';
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
  if (!isObject(props) || (phpEmpty(props.NAME) && phpEmpty(props.LAST_NAME))) throw wrong('NAME_ERROR', "Bot name isn't specified");

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
