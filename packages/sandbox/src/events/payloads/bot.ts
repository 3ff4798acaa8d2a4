/** `data` of the chat-bot events (ONIMBOTMESSAGE*), field order as in the docs' examples. */

export interface SandboxUser {
  id: number;
  firstName: string;
  lastName: string;
  workPosition?: string;
  gender?: 'M' | 'F';
}

export const defaultUser: SandboxUser = { id: 1, firstName: 'Svetlana', lastName: 'Ivanova', gender: 'F' };

export interface BotMessageInput {
  /** The bots the event is addressed to (data.BOT keys). */
  bots: { id: number; code: string; name?: string }[];
  /** P: personal chat with the (first) bot; C: group chat where the bots are mentioned. */
  chatType: 'P' | 'C';
  chatId: number;
  messageId: number;
  author?: SandboxUser;
  /** Text as the user wrote it, without the mention. */
  text: string;
  chatTitle?: string;
  language?: string;
  /** Group chats only: prepend mentions of the bots (MENTIONED_LIST, MESSAGE_ORIGINAL). Default true. */
  mention?: boolean;
}

/** Makes one bot's data.BOT entry; the sandbox issues real tokens for it. */
export type BotEntry = (bot: { id: number; code: string }) => Record<string, unknown>;

function botBlock(input: BotMessageInput, entry: BotEntry): Record<string, unknown> {
  return Object.fromEntries(input.bots.map((b) => [String(b.id), entry(b)]));
}

function userBlock(u: SandboxUser): Record<string, unknown> {
  return {
    ID: String(u.id),
    NAME: `${u.firstName} ${u.lastName}`,
    FIRST_NAME: u.firstName,
    LAST_NAME: u.lastName,
    WORK_POSITION: u.workPosition ?? '',
    GENDER: u.gender ?? 'M',
    IS_BOT: 'N',
    IS_CONNECTOR: 'N',
    IS_NETWORK: 'N',
    IS_EXTRANET: 'N',
  };
}

function mentions(input: BotMessageInput): { list: Record<string, string>; original: string } | undefined {
  if (input.chatType !== 'C' || input.mention === false) return undefined;
  const list = Object.fromEntries(input.bots.map((b) => [String(b.id), String(b.id)]));
  const tags = input.bots.map((b) => `[USER=${b.id}]${b.name ?? b.code}[/USER]`).join(' ');
  return { list, original: `${tags} ${input.text}` };
}

const groupChatFields = (input: BotMessageInput, authorId: number) => ({
  CHAT_ID: String(input.chatId),
  CHAT_TITLE: input.chatTitle ?? `Chat #${input.chatId}`,
  CHAT_AUTHOR_ID: String(authorId),
  CHAT_TYPE: 'C',
  CHAT_AVATAR: '0',
  CHAT_COLOR: 'BROWN',
  CHAT_ENTITY_TYPE: 'THREAD',
  CHAT_ENTITY_ID: '',
  CHAT_ENTITY_DATA_1: '',
  CHAT_ENTITY_DATA_2: '',
  CHAT_ENTITY_DATA_3: '',
  CHAT_EXTRANET: 'N',
  CHAT_PREV_MESSAGE_ID: String(Math.max(0, input.messageId - 1)),
  CHAT_CAN_POST: 'MEMBER',
  RID: String(authorId),
  IS_MANAGER: 'N',
});

const sendFlags = {
  PUSH: 'Y',
  PUSH_IMPORTANT: 'N',
  RECENT_SKIP_AUTHOR: 'N',
  CONVERT: 'N',
  SKIP_COMMAND: 'N',
  SKIP_COUNTER_INCREMENTS: 'N',
  SILENT_CONNECTOR: 'N',
  SKIP_CONNECTOR: 'N',
  IMPORTANT_CONNECTOR: 'N',
  NO_SESSION_OL: 'N',
  FAKE_RELATION: '0',
  SKIP_URL_INDEX: 'N',
  COMMAND_CONTEXT: 'TEXTAREA',
};

/** ONIMBOTMESSAGEADD: a user wrote to the bot (personal) or mentioned it (group). */
export function imbotMessageAdd(input: BotMessageInput, entry: BotEntry): Record<string, unknown> {
  const author = input.author ?? defaultUser;
  const bot = input.bots[0];
  const m = mentions(input);
  const personal = input.chatType === 'P';
  const params: Record<string, unknown> = {
    MESSAGE: input.text,
    TEMPLATE_ID: templateId(input.messageId),
    MESSAGE_TYPE: input.chatType,
    FROM_USER_ID: String(author.id),
    DIALOG_ID: personal ? String(author.id) : `chat${input.chatId}`,
    TO_CHAT_ID: String(input.chatId),
    AUTHOR_ID: String(author.id),
    SYSTEM: 'N',
    ...(personal ? { TO_USER_ID: String(bot?.id ?? 0) } : groupChatFields(input, author.id)),
    ...sendFlags,
    CHAT_USER_COUNT: String(personal ? 2 : input.bots.length + 1),
    ...(m ? { MENTIONED_LIST: m.list } : {}),
    PLATFORM_CONTEXT: 'web',
    ...(m ? { MESSAGE_ORIGINAL: m.original } : {}),
    ...(personal ? {} : { TO_USER_ID: String(bot?.id ?? 0) }),
    MESSAGE_ID: String(input.messageId),
    ...(personal ? { CHAT_TYPE: 'P' } : {}),
    LANGUAGE: input.language ?? 'en',
  };
  return { BOT: botBlock(input, entry), PARAMS: params, USER: userBlock(author) };
}

function editedParams(input: BotMessageInput, text: string): Record<string, unknown> {
  const author = input.author ?? defaultUser;
  const bot = input.bots[0];
  const personal = input.chatType === 'P';
  return {
    ID: String(input.messageId),
    CHAT_ID: String(input.chatId),
    AUTHOR_ID: String(author.id),
    MESSAGE: text,
    MESSAGE_TYPE: input.chatType,
    CHAT_AUTHOR_ID: String(personal ? (bot?.id ?? 0) : author.id),
    ...(personal ? {} : { CHAT_ENTITY_TYPE: 'THREAD' }),
    CHAT_ENTITY_ID: '',
    CHAT_ENTITY_DATA_1: '',
    CHAT_ENTITY_DATA_2: '',
    CHAT_ENTITY_DATA_3: '',
    ...(personal ? { FROM_USER_ID: String(author.id), TO_USER_ID: String(bot?.id ?? 0) } : {}),
  };
}

/** ONIMBOTMESSAGEUPDATE: the user edited a message the bot saw. */
export function imbotMessageUpdate(input: BotMessageInput, entry: BotEntry): Record<string, unknown> {
  const author = input.author ?? defaultUser;
  const personal = input.chatType === 'P';
  const m = mentions(input);
  const params = {
    ...editedParams(input, input.text),
    CHAT_USER_COUNT: String(personal ? 2 : input.bots.length + 1),
    ...(m ? { MENTIONED_LIST: m.list } : {}),
    PLATFORM_CONTEXT: 'web',
    ...(m ? { MESSAGE_ORIGINAL: m.original, TO_USER_ID: String(input.bots[0]?.id ?? 0) } : {}),
    DIALOG_ID: personal ? String(author.id) : `chat${input.chatId}`,
    MESSAGE_ID: String(input.messageId),
    CHAT_TYPE: input.chatType,
    LANGUAGE: input.language ?? 'en',
  };
  return { BOT: botBlock(input, entry), PARAMS: params, ...(personal ? { USER: userBlock(author) } : {}) };
}

/** ONIMBOTMESSAGEDELETE: MESSAGE holds the "has been deleted" notice. */
export function imbotMessageDelete(input: BotMessageInput, entry: BotEntry): Record<string, unknown> {
  const author = input.author ?? defaultUser;
  const personal = input.chatType === 'P';
  const params = {
    ...editedParams(input, input.text),
    DIALOG_ID: personal ? String(author.id) : `chat${input.chatId}`,
    MESSAGE_ID: String(input.messageId),
    CHAT_TYPE: input.chatType,
    LANGUAGE: input.language ?? 'en',
  };
  return { BOT: botBlock(input, entry), PARAMS: params, ...(personal ? { USER: userBlock(author) } : {}) };
}

/** A stable UUID-looking TEMPLATE_ID per message. */
function templateId(messageId: number): string {
  const h = messageId.toString(16).padStart(12, '0');
  return `6d0eef7c-12b4-41e7-b709-${h.slice(-12)}`;
}
