import type { SandboxCore } from '../core.js';
import { SandboxError } from '../errors.js';
import type { ChatState, MessageState, Portal } from '../portal.js';
import { botAuthEntry } from './auth.js';
import * as build from './payloads/index.js';
import { sendEvent, type DeliveryResult, type SendOptions } from './deliver.js';

/**
 * What people do in the portal, as the application sees it: each action updates the
 * portal's state and sends the event Bitrix24 would send for it.
 */

export interface OperatorMessageInput {
  connector: string;
  line: number;
  /** The chat in the external system the Open Lines chat mirrors. */
  externalChatId: string;
  /** For one-to-one connectors: the external user the chat is with. */
  externalUserId?: string;
  text: string;
  operatorId?: number;
  /** Shown as the signature Bitrix24 adds ("[b]Name:[/b] [br]text"); none when empty. */
  operatorName?: string;
}

export interface OperatorMessage {
  chat: ChatState;
  message: MessageState;
  delivery: DeliveryResult;
}

/** Applications register their connector; when one has not, the sandbox does so quietly so statuses still work. */
function knownConnector(portal: Portal, connector: string): void {
  if (!portal.connectors.has(connector)) portal.registerConnector(connector);
}

const signed = (text: string, name: string | undefined): string => (name ? `[b]${name}:[/b] [br]${text}` : text);

/** An operator writes in the Open Lines chat: ONIMCONNECTORMESSAGEADD. */
export async function operatorWrites(
  core: SandboxCore,
  portal: Portal,
  input: OperatorMessageInput,
  send: SendOptions = {},
): Promise<OperatorMessage> {
  knownConnector(portal, input.connector);
  // Without an external user, answer in the chat the external side last wrote in, if any.
  const chat =
    (input.externalUserId === undefined
      ? portal.latestChat(input.connector, input.line, input.externalChatId)
      : undefined) ?? portal.chatFor(input.connector, input.line, input.externalChatId, input.externalUserId);
  const operatorId = input.operatorId ?? portal.adminUserId;
  const text = signed(input.text, input.operatorName ?? 'Sandbox Operator');
  const message = portal.addMessage(chat, { direction: 'out', authorId: operatorId, text });
  const data = build.imconnectorMessageAdd({
    connector: chat.connector,
    line: chat.line,
    messages: [
      { chatId: chat.id, messageId: message.id, externalChatId: chat.externalChatId, userId: operatorId, text },
    ],
  });
  return {
    chat,
    message,
    delivery: await sendEvent(core, portal, 'ONIMCONNECTORMESSAGEADD', data, { userId: operatorId, ...send }),
  };
}

function outbound(portal: Portal, messageId: number): { chat: ChatState; message: MessageState } {
  const message = portal.messages.get(messageId);
  const chat = message && portal.chats.get(message.chatId);
  if (!message || !chat || message.direction !== 'out')
    throw new SandboxError('B24SB_NOT_FOUND', `No operator message ${messageId} on portal ${portal.memberId}`);
  return { chat, message };
}

/** The operator edits a message: ONIMCONNECTORMESSAGEUPDATE with the external ids the application reported. */
export async function operatorEdits(
  core: SandboxCore,
  portal: Portal,
  messageId: number,
  text: string,
  send: SendOptions = {},
): Promise<DeliveryResult> {
  const { chat, message } = outbound(portal, messageId);
  message.text = text;
  const data = build.imconnectorMessageUpdate({
    connector: chat.connector,
    line: chat.line,
    messages: [
      { chatId: chat.id, messageId, externalChatId: chat.externalChatId, text, externalIds: message.externalIds },
    ],
  });
  return sendEvent(core, portal, 'ONIMCONNECTORMESSAGEUPDATE', data, { userId: message.authorId, ...send });
}

/** The operator deletes a message: ONIMCONNECTORMESSAGEDELETE. */
export async function operatorDeletes(
  core: SandboxCore,
  portal: Portal,
  messageId: number,
  send: SendOptions = {},
): Promise<DeliveryResult> {
  const { chat, message } = outbound(portal, messageId);
  message.deleted = true;
  const data = build.imconnectorMessageDelete({
    connector: chat.connector,
    line: chat.line,
    messages: [{ chatId: chat.id, messageId, externalChatId: chat.externalChatId, externalIds: message.externalIds }],
  });
  return sendEvent(core, portal, 'ONIMCONNECTORMESSAGEDELETE', data, { userId: message.authorId, ...send });
}

/** A dialog (Open Lines session) starts or finishes: ONIMCONNECTORDIALOGSTART / FINISH. */
export function dialogEvent(
  core: SandboxCore,
  portal: Portal,
  chat: ChatState,
  phase: 'start' | 'finish',
  send: SendOptions = {},
): Promise<DeliveryResult> {
  const input = { connector: chat.connector, line: chat.line, chatId: chat.id, sessionId: chat.sessionId };
  return phase === 'start'
    ? sendEvent(core, portal, 'ONIMCONNECTORDIALOGSTART', build.imconnectorDialogStart(input), send)
    : sendEvent(core, portal, 'ONIMCONNECTORDIALOGFINISH', build.imconnectorDialogFinish(input), send);
}

export type BotEventKind = 'add' | 'update' | 'delete';

const botCodes: Record<BotEventKind, string> = {
  add: 'ONIMBOTMESSAGEADD',
  update: 'ONIMBOTMESSAGEUPDATE',
  delete: 'ONIMBOTMESSAGEDELETE',
};

/** A user writes to, edits for, or deletes before bots: ONIMBOTMESSAGEADD / UPDATE / DELETE with per-bot tokens. */
export function botEvent(
  core: SandboxCore,
  portal: Portal,
  kind: BotEventKind,
  input: build.BotMessageInput,
  send: SendOptions = {},
): Promise<DeliveryResult> {
  const entry: build.BotEntry = (bot) => botAuthEntry(core, portal, bot);
  const data =
    kind === 'add'
      ? build.imbotMessageAdd(input, entry)
      : kind === 'update'
        ? build.imbotMessageUpdate(input, entry)
        : build.imbotMessageDelete(input, entry);
  return sendEvent(core, portal, botCodes[kind], data, { userId: input.author?.id ?? portal.adminUserId, ...send });
}
