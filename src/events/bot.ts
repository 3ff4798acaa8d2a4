import { z } from 'zod';
import { authSchema } from './auth.js';
import { envelope } from './envelope.js';
import { absentIfEmpty, int, str } from './scalars.js';

/** A bot's own tokens: the same fields as `auth`, with the bot's ids beside them. */
const botAuth = authSchema.partial();

const botEntry = botAuth.extend({
  client_id: str().optional(),
  AUTH: botAuth.optional(),
  BOT_ID: int(),
  BOT_CODE: str(),
});

export const botParams = z.looseObject({
  ID: int(),
  CHAT_ID: int(),
  AUTHOR_ID: int(),
  MESSAGE: str(),
  MESSAGE_TYPE: str(),
  CHAT_AUTHOR_ID: int().optional(),
  CHAT_ENTITY_TYPE: str().optional(),
  CHAT_ENTITY_ID: str().optional(),
  CHAT_ENTITY_DATA_1: str().optional(),
  CHAT_ENTITY_DATA_2: str().optional(),
  CHAT_ENTITY_DATA_3: str().optional(),
  FROM_USER_ID: int().optional(),
  TO_USER_ID: int().optional(),
  CHAT_USER_COUNT: int().optional(),
  MENTIONED_LIST: absentIfEmpty(z.record(z.string(), int())),
  PLATFORM_CONTEXT: str().optional(),
  MESSAGE_ORIGINAL: str().optional(),
  DIALOG_ID: str(),
  MESSAGE_ID: int().optional(),
  CHAT_TYPE: str().optional(),
  LANGUAGE: str().optional(),
});

export const botUser = z.looseObject({
  ID: int(),
  NAME: str().optional(),
  FIRST_NAME: str().optional(),
  LAST_NAME: str().optional(),
  WORK_POSITION: str().optional(),
  GENDER: str().optional(),
  IS_BOT: str().optional(),
  IS_CONNECTOR: str().optional(),
  IS_NETWORK: str().optional(),
  IS_EXTRANET: str().optional(),
});

/** `data.BOT` is keyed by the id of each bot the event is addressed to. */
export const botMap = z.record(z.string().regex(/^[0-9]+$/, 'expected a bot id as key'), botEntry);

export const botMessageUpdate = envelope(
  'ONIMBOTMESSAGEUPDATE',
  z.looseObject({ BOT: botMap, PARAMS: botParams, USER: absentIfEmpty(botUser) }),
);
