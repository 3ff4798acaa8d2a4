/** `data` of the Open Lines connector events, field order as in the docs and seeds. */

/** One operator message as the connector events carry it. */
export interface ConnectorMessage {
  /** im.chat_id: the Open Lines chat in Bitrix24. */
  chatId: number;
  /** im.message_id: the message in Bitrix24. */
  messageId: number;
  /** chat.id: the chat in the external system. */
  externalChatId: string;
  /** message.user_id: the operator (add). */
  userId?: number;
  /** message.text (add, update). */
  text?: string;
  /** message.files (add). */
  files?: { name: string; link: string; type?: string; size?: number }[];
  /** message.id: the external ids the application reported for the message (update, delete). */
  externalIds?: string[];
}

export interface ConnectorBatch {
  connector: string;
  line: number;
  messages: ConnectorMessage[];
}

const im = (m: ConnectorMessage) => ({ chat_id: m.chatId, message_id: m.messageId });

/** ONIMCONNECTORMESSAGEADD: an operator wrote in the Open Lines chat. */
export function imconnectorMessageAdd(b: ConnectorBatch): Record<string, unknown> {
  return {
    CONNECTOR: b.connector,
    LINE: b.line,
    MESSAGES: b.messages.map((m) => ({
      im: im(m),
      message: { user_id: m.userId ?? 1, text: m.text ?? '', ...(m.files?.length ? { files: m.files } : {}) },
      chat: { id: m.externalChatId },
    })),
  };
}

/** ONIMCONNECTORMESSAGEUPDATE: message.id is a list of the external ids. */
export function imconnectorMessageUpdate(b: ConnectorBatch): Record<string, unknown> {
  return {
    CONNECTOR: b.connector,
    LINE: b.line,
    MESSAGES: b.messages.map((m) => ({
      im: im(m),
      message: { id: m.externalIds ?? [], text: m.text ?? '' },
      chat: { id: m.externalChatId },
    })),
  };
}

/** ONIMCONNECTORMESSAGEDELETE: message.id is a single external id here. */
export function imconnectorMessageDelete(b: ConnectorBatch): Record<string, unknown> {
  return {
    CONNECTOR: b.connector,
    LINE: b.line,
    MESSAGES: b.messages.map((m) => ({
      im: im(m),
      message: { id: m.externalIds?.[0] ?? '' },
      chat: { id: m.externalChatId },
    })),
  };
}

export interface DialogInput {
  connector: string;
  line: number;
  /** Open Lines chat id in Bitrix24. */
  chatId: number;
  sessionId: number;
  /** User id in the external system (0 when unknown, as in the docs). */
  externalUserId?: number | string;
  parentSessionId?: number;
  /** Minutes until the session closes. */
  closeTerm?: number;
}

function dialog(d: DialogInput, closed: 'N' | 'Y'): Record<string, unknown> {
  return {
    CONNECTOR: d.connector,
    LINE: String(d.line),
    DATA: [
      {
        connector: { connector_id: d.connector, line_id: d.line, chat_id: d.chatId, user_id: d.externalUserId ?? 0 },
        session: { id: d.sessionId, closed, parent_id: d.parentSessionId ?? 0, close_term: d.closeTerm ?? 10 },
        chat: { id: d.chatId },
        user: { id: d.externalUserId ?? 0 },
      },
    ],
  };
}

/** ONIMCONNECTORDIALOGSTART: LINE is a string while line_id is an int, as documented. */
export const imconnectorDialogStart = (d: DialogInput): Record<string, unknown> => dialog(d, 'N');
export const imconnectorDialogFinish = (d: DialogInput): Record<string, unknown> => dialog(d, 'Y');

/** ONIMCONNECTORSTATUSDELETE: lower-case keys. */
export const imconnectorStatusDelete = (d: { connector: string; line: number }): Record<string, unknown> => ({
  connector: d.connector,
  line: d.line,
});

/** ONIMCONNECTORLINEDELETE: data is the bare line id. */
export const imconnectorLineDelete = (line: number): number => line;

/** ONOPENLINEMESSAGEUPDATE: DATA instead of MESSAGES, message.id is the Bitrix24 message id. */
export function openlineMessageUpdate(d: {
  connector: string;
  line: number;
  chatId: number;
  messageId: number;
}): Record<string, unknown> {
  return {
    CONNECTOR: d.connector,
    LINE: d.line,
    DATA: [
      { im: { chat_id: d.chatId, message_id: d.messageId }, message: { id: d.messageId }, chat: { id: d.chatId } },
    ],
  };
}
