import { GatewayError } from '../../errors.js';
import type { RestClient } from '../../worker/context.js';

/** `fields` of imbot.v2.Chat.Message.send and Command.answer; a string is the message text. */
export interface MessageFieldsV2 {
  message?: string;
  attach?: unknown;
  keyboard?: unknown;
  system?: boolean;
  urlPreview?: boolean;
  /** Send only. */
  replyId?: number;
  templateId?: string;
  forwardIds?: Record<string, number>;
}

export interface ImbotV2Options {
  /** The bot to act as when the event names none (default: the event's bot, else `ctx.bot`). */
  botId?: number;
  /** For a bot registered through an incoming webhook; a bot of an OAuth application needs none. */
  botToken?: string;
}

/** An ONIMBOTV2 event with a chat to answer in (all but ONIMBOTV2DELETE). */
export interface DialogEventV2 {
  data: { bot: { id: number }; chat: { dialogId: string } };
}

/** ONIMBOTV2COMMANDADD, as far as an answer needs it. */
export interface CommandEventV2 {
  data: { bot: { id: number }; command: { id: number }; message: { id: number }; chat: { dialogId: string } };
}

export interface ImbotV2 {
  /** imbot.v2.Chat.Message.send: the new message's id. */
  send(dialogId: string, fields: string | MessageFieldsV2): Promise<{ id: number; uuidMap: Record<string, number> }>;
  /** Sends as the event's bot into the event's dialog (its `chat.dialogId`: the user in a private chat, `chatN` in a group). */
  reply(
    event: DialogEventV2,
    fields: string | MessageFieldsV2,
  ): Promise<{ id: number; uuidMap: Record<string, number> }>;
  /** imbot.v2.Command.answer to an ONIMBOTV2COMMANDADD. */
  answer(event: CommandEventV2, fields: string | MessageFieldsV2): Promise<boolean>;
  /** imbot.v2.Chat.Message.update of one of the bot's messages. */
  update(messageId: number, fields: string | MessageFieldsV2): Promise<boolean>;
  /** imbot.v2.Chat.Message.delete. */
  delete(messageId: number, complete?: boolean): Promise<boolean>;
}

const fieldsOf = (f: string | MessageFieldsV2): MessageFieldsV2 => (typeof f === 'string' ? { message: f } : f);

/**
 * A Chatbots 2.0 bot's calls, through the handler's REST client (`ctx.rest`: the portal's tokens,
 * refreshed, within its limits, through @bitrix24/b24jssdk). An OAuth application's bots need no
 * botToken: the portal knows them by the application.
 *
 *   gateway.on('ONIMBOTV2MESSAGEADD', (event, ctx) => imbotV2(ctx).reply(event, 'Received'));
 */
export function imbotV2(
  ctx: { rest: RestClient; bot?: { id: number } | undefined },
  options: ImbotV2Options = {},
): ImbotV2 {
  const token = options.botToken === undefined ? {} : { botToken: options.botToken };
  const botId = (event?: { data: { bot: { id: number } } }): number => {
    const id = event?.data.bot.id ?? options.botId ?? ctx.bot?.id;
    if (id === undefined)
      throw new GatewayError('B24GW_NO_BOT', 'imbot.v2 needs a bot: this event names none, and no botId was given');
    return id;
  };
  const send = (id: number, dialogId: string, fields: string | MessageFieldsV2) =>
    ctx.rest.call<{ id: number; uuidMap: Record<string, number> }>('imbot.v2.Chat.Message.send', {
      botId: id,
      ...token,
      dialogId,
      fields: fieldsOf(fields),
    });
  const ok = (r: { result?: unknown } | boolean | undefined): boolean =>
    typeof r === 'boolean' ? r : r?.result === true;
  return {
    send: (dialogId, fields) => send(botId(), dialogId, fields),
    reply: (event, fields) => send(botId(event), event.data.chat.dialogId, fields),
    answer: async (event, fields) =>
      ok(
        await ctx.rest.call('imbot.v2.Command.answer', {
          botId: botId(event),
          ...token,
          commandId: event.data.command.id,
          messageId: event.data.message.id,
          dialogId: event.data.chat.dialogId,
          fields: fieldsOf(fields),
        }),
      ),
    update: async (messageId, fields) =>
      ok(
        await ctx.rest.call('imbot.v2.Chat.Message.update', {
          botId: botId(),
          ...token,
          messageId,
          fields: fieldsOf(fields),
        }),
      ),
    delete: async (messageId, complete = false) =>
      ok(await ctx.rest.call('imbot.v2.Chat.Message.delete', { botId: botId(), ...token, messageId, complete })),
  };
}
