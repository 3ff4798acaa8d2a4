import { z } from 'zod';
import { botAuthSchema } from './auth.js';
import { bool, formObject, int, intList, optionalFormObject, orNull, str, strOrBool } from './scalars.js';

/**
 * The objects of Chatbots 2.0 events (entities.md), typed as documented whichever way the event
 * came: a webhook body (every scalar a string, nulls and empty lists left out) or an Event.get
 * answer (native JSON). What identifies the object is required; the docs' examples leave out
 * other fields, so those are optional.
 */

/** `User`. */
export const userV2 = z.looseObject({
  id: int(),
  active: bool().optional(),
  name: str().optional(),
  firstName: str().optional(),
  lastName: str().optional(),
  workPosition: str().optional(),
  color: str().optional(),
  avatar: str().optional(),
  gender: str().optional(),
  birthday: str().optional(),
  extranet: bool().optional(),
  bot: bool().optional(),
  connector: bool().optional(),
  externalAuthId: str().optional(),
  status: str().optional(),
  idle: strOrBool().optional(),
  lastActivityDate: strOrBool().optional(),
  mobileLastDate: strOrBool().optional(),
  desktopLastDate: strOrBool().optional(),
  absent: strOrBool().optional(),
  departments: intList(),
  // `object|boolean`: the phone numbers, or false ("0" in a webhook).
  phones: z.union([bool(), optionalFormObject()]).optional(),
  type: str().optional(),
  website: str().optional(),
  email: str().optional(),
});

/** `Chat` as events carry it: without `role` and `muteList`. */
export const chatV2 = z.looseObject({
  id: int(),
  dialogId: str(),
  name: str().optional(),
  type: str().optional(),
  messageType: str().optional(),
  owner: int().optional(),
  color: orNull(str()),
  avatar: str().optional(),
  description: str().optional(),
  extranet: bool().optional(),
  containsCollaber: bool().optional(),
  entityType: str().optional(),
  entityId: str().optional(),
  entityData1: str().optional(),
  entityData2: str().optional(),
  entityData3: str().optional(),
  entityLink: optionalFormObject(),
  diskFolderId: orNull(int()),
  permissions: optionalFormObject(),
  parentChatId: orNull(int()),
  parentMessageId: orNull(int()),
  isNew: bool().optional(),
  textFieldEnabled: str().optional(),
  backgroundId: orNull(str()),
});

/** `Message`. `params` (attach, keyboard, files, …) has no documented shape: see formObject. */
export const messageV2 = z.looseObject({
  id: int(),
  chatId: int(),
  authorId: int(),
  date: orNull(str()),
  text: str(),
  isSystem: bool().optional(),
  uuid: str().optional(),
  forward: orNull(
    z.looseObject({ id: str().optional(), userId: int().optional(), chatId: int().optional(), date: orNull(str()) }),
  ),
  params: formObject(),
  viewedByOthers: bool().optional(),
});

/**
 * The `bot` of an ONIMBOTV2 event: `{id, code, auth}` in a webhook, the full bot object (no auth)
 * from Event.get. `auth` is the bot's own tokens for call-backs: the gateway keeps it apart from the
 * stored event (see splitSecrets) and hands it to handlers as `ctx.bot.auth`.
 */
export const botV2 = z.looseObject({
  id: int(),
  code: str(),
  type: str().optional(),
  isHidden: bool().optional(),
  isSupportOpenline: bool().optional(),
  isReactionsEnabled: bool().optional(),
  backgroundId: orNull(str()),
  language: str().optional(),
  moduleId: str().optional(),
  eventMode: str().optional(),
  countMessage: int().optional(),
  countCommand: int().optional(),
  countChat: int().optional(),
  countUser: int().optional(),
  auth: botAuthSchema.optional(),
});

/** The command of ONIMBOTV2COMMANDADD. */
export const commandV2 = z.looseObject({
  id: int(),
  command: str(),
  params: str().optional(),
  context: str().optional(),
});

/** Where and by whom, as every Chatbots 2.0 chat event (bot and user events alike) says it. */
export const inChatV2 = { chat: chatV2, user: userV2, language: str().optional() };

export type UserV2 = z.output<typeof userV2>;
export type ChatV2 = z.output<typeof chatV2>;
export type MessageV2 = z.output<typeof messageV2>;
export type BotV2 = z.output<typeof botV2>;
