import { z } from 'zod';
import { botAuthSchema as botAuth } from './auth.js';
import { envelope } from './envelope.js';
import { absentIfEmpty, int, str } from './scalars.js';

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

/** Y/N switches: documented strings, all optional. */
const switches = <K extends string>(names: readonly K[]) =>
  Object.fromEntries(names.map((n) => [n, str().optional()])) as Record<K, z.ZodOptional<ReturnType<typeof str>>>;

/** In a personal dialog the add event has no CHAT_ID; TO_CHAT_ID names the chat. It has no ID either: MESSAGE_ID is the message. */
const botAddParams = botParams.omit({ ID: true }).extend({
  CHAT_ID: int().optional(),
  TO_CHAT_ID: int().optional(),
  MESSAGE_ID: int(),
  TEMPLATE_ID: str().optional(),
  SYSTEM: str().optional(),
  CHAT_TITLE: str().optional(),
  CHAT_AVATAR: str().optional(),
  CHAT_COLOR: str().optional(),
  CHAT_EXTRANET: str().optional(),
  CHAT_PREV_MESSAGE_ID: int().optional(),
  CHAT_CAN_POST: str().optional(),
  RID: int().optional(),
  IS_MANAGER: str().optional(),
  FAKE_RELATION: int().optional(),
  COMMAND_CONTEXT: str().optional(),
  ...switches(['PUSH', 'PUSH_IMPORTANT', 'RECENT_SKIP_AUTHOR', 'CONVERT', 'SKIP_COMMAND', 'SKIP_COUNTER_INCREMENTS']),
  ...switches(['SILENT_CONNECTOR', 'SKIP_CONNECTOR', 'IMPORTANT_CONNECTOR', 'NO_SESSION_OL', 'SKIP_URL_INDEX']),
});

export const botMessageAdd = envelope(
  'ONIMBOTMESSAGEADD',
  z.looseObject({ BOT: botMap, PARAMS: botAddParams, USER: absentIfEmpty(botUser) }),
);

export const botMessageDelete = envelope(
  'ONIMBOTMESSAGEDELETE',
  z.looseObject({
    BOT: botMap,
    // The page says CHAT_ID may be absent in a personal dialog, though its personal example has it: optional.
    PARAMS: botParams.extend({ CHAT_ID: int().optional() }),
    USER: absentIfEmpty(botUser),
  }),
);
