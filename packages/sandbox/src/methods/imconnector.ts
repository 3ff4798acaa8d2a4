import type { Portal } from '../portal.js';
import { argumentError, nullOrEmpty, RestError } from '../rest/answer.js';
import { asInt, asList, asString, isObject, phpEmpty, requireInt, requireString, type Params } from '../rest/params.js';
import type { MethodContext, MethodHandler } from './context.js';

// ---- shared validation ----

function connectorAndLine(params: Params): { connector: string; line: number } {
  return { connector: requireString(params, 'CONNECTOR').toLowerCase(), line: requireInt(params, 'LINE') };
}

/** MESSAGES as a list of objects, each with the blocks the method needs. */
function messageList(params: Params, blocks: readonly string[]): Params[] {
  if (phpEmpty(params.MESSAGES)) throw nullOrEmpty('MESSAGES');
  const list = asList(params.MESSAGES);
  if (!list) throw argumentError("The value of an argument 'MESSAGES' must be of type array");
  return list.map((item) => {
    if (!isObject(item)) throw argumentError('The MESSAGES parameter must be an array of messages (arrays)');
    if (!blocks.every((b) => isObject(item[b])))
      throw argumentError('The incorrect structure of a message inside MESSAGES parameter');
    return item;
  });
}

function requireProvider(portal: Portal, connector: string): void {
  if (!portal.connectors.has(connector)) {
    throw new RestError(400, 'IMCONNECTOR_NO_CORRECT_PROVIDER', 'Failed to find a suitable provider for the connector');
  }
}

function requireActiveLine(portal: Portal, connector: string, line: number): void {
  if (!portal.line(connector, line)?.active)
    throw new RestError(400, 'NOT_ACTIVE_LINE', 'The line with this ID is inactive or does not exist');
}

const flag = (v: unknown): boolean =>
  v === true || v === 1 || (typeof v === 'string' && ['y', '1', 'true'].includes(v.toLowerCase()));
const block = (item: Params, name: string): Params => item[name] as Params;

// ---- registration and line setup ----

/** imconnector.register: errors come back as HTTP 200 with result.result = false. */
export const register: MethodHandler = ({ portal, params }) => {
  const fail = (error: string, error_description: string) => ({ result: false, error, error_description });
  const id = asString(params.ID);
  if (!id) return fail('CONNECTOR_ID_REQUIRED', 'Connector ID is not specified');
  if (id.includes('.')) {
    return fail(
      'APPLICATION_REGISTRATION_ERROR_POINT',
      'Application registration error. Using a dot in the connector identifier is not allowed',
    );
  }
  const name = asString(params.NAME);
  if (!name) return fail('NAME_REQUIRED', 'Connector name is not specified');
  const icon = params.ICON;
  if (!isObject(icon) || typeof icon.DATA_IMAGE !== 'string' || icon.DATA_IMAGE === '')
    return fail('ICON_REQUIRED', 'Connector icon is not specified');
  if (!asString(params.PLACEMENT_HANDLER)) return fail('NO_PLACEMENT_HANDLER', 'Failed to get embedding handler URL');
  portal.registerConnector(id, name, params.CHAT_GROUP === undefined ? false : flag(params.CHAT_GROUP), params);
  return { result: true };
};

/** imconnector.unregister: errors, as register's, come back as HTTP 200 with result.result = false. */
export const unregister: MethodHandler = ({ portal, params }) => {
  const id = asString(params.ID)?.toLowerCase();
  if (!id || !portal.unregisterConnector(id)) {
    return {
      result: false,
      error: 'APPLICATION_UNREGISTRATION_ERROR',
      error_description: 'Error unregistering the application',
    };
  }
  return { result: true };
};

/** Connectors a portal has before any application registers one. */
const builtInConnectors: Readonly<Record<string, string>> = { livechat: 'Live Chat', network: 'Bitrix24.Network' };

/** imconnector.list: every connector of the portal, code → name, the built-in ones included. */
export const list: MethodHandler = ({ portal }) => ({
  ...builtInConnectors,
  ...Object.fromEntries([...portal.connectors.values()].map((c) => [c.id, c.name])),
});

/** imconnector.activate: any non-empty ACTIVE enables; empty, 0 or N disables. */
export const activate: MethodHandler = ({ portal, params }) => {
  const { connector, line } = connectorAndLine(params);
  if (params.ACTIVE === undefined || params.ACTIVE === null) throw nullOrEmpty('ACTIVE');
  const off = phpEmpty(params.ACTIVE) || (typeof params.ACTIVE === 'string' && params.ACTIVE.toUpperCase() === 'N');
  portal.setLine(connector, line, { active: !off });
  return true;
};

/** imconnector.status: LINE defaults to 0, which is never configured. */
export const status: MethodHandler = ({ portal, params }) => {
  const connector = requireString(params, 'CONNECTOR').toLowerCase();
  const line = asInt(params.LINE) ?? 0;
  const active = line > 0 && portal.line(connector, line)?.active === true;
  return { LINE: line, CONNECTOR: connector, ERROR: false, CONFIGURED: active, STATUS: active };
};

/** imconnector.connector.data.set: DATA is replaced as a whole. */
export const connectorDataSet: MethodHandler = ({ portal, params }) => {
  const { connector, line } = connectorAndLine(params);
  if (phpEmpty(params.DATA)) throw nullOrEmpty('DATA');
  if (!isObject(params.DATA)) throw argumentError("The value of an argument 'DATA' must be of type array");
  portal.setLine(connector, line, { data: params.DATA });
  return true;
};

// ---- messages from the external channel ----

interface ItemOutcome {
  SUCCESS: boolean;
  ERRORS?: string[];
}

const chatAnswer = (chat: Params): Params => ({
  id: asString(chat.id) ?? '',
  ...(chat.name === undefined ? {} : { name: asString(chat.name) ?? '' }),
  ...(chat.url === undefined ? {} : { description: `Link to the original post: ${asString(chat.url) ?? ''}` }),
});

function prepare(
  ctx: MethodContext,
  blocks: readonly string[],
): { portal: Portal; connector: string; line: number; items: Params[] } {
  const { connector, line } = connectorAndLine(ctx.params);
  const items = messageList(ctx.params, blocks);
  requireProvider(ctx.portal, connector);
  requireActiveLine(ctx.portal, connector, line);
  return { portal: ctx.portal, connector, line, items };
}

const answer = (results: (Params & ItemOutcome)[]) => ({
  SUCCESS: results.every((r) => r.SUCCESS),
  DATA: { RESULT: results },
});

/** imconnector.send.messages: messages from external users into the Open Lines chat. */
export const sendMessages: MethodHandler = (ctx) => {
  const { portal, connector, line, items } = prepare(ctx, ['user', 'message', 'chat']);
  return answer(
    items.map((item) => {
      const [user, message, chat] = [block(item, 'user'), block(item, 'message'), block(item, 'chat')];
      const errors: string[] = [];
      if (phpEmpty(user.id)) errors.push('User ID is not specified');
      if (phpEmpty(chat.id)) errors.push('Chat ID is not specified');
      if (phpEmpty(message.text) && phpEmpty(message.files)) errors.push('Message text or files are required');
      if (errors.length) return { user: '', message, chat: chatAnswer(chat), SUCCESS: false, ERRORS: errors };
      const state = portal.chatFor(connector, line, asString(chat.id)!, asString(user.id));
      const id = asString(message.id);
      portal.addMessage(state, {
        direction: 'in',
        authorId: state.userId,
        text: asString(message.text) ?? '',
        ...(id ? { externalIds: [id] } : {}),
      });
      const extra = {
        ...(user.skip_phone_validate === 'Y' ? { skip_phone_validate: 'Y' } : {}),
        ...(message.disable_crm === 'Y' ? { disable_tracker: 'Y' } : {}),
      };
      return {
        user: String(state.userId),
        message: { id: id ?? '', date: {}, text: asString(message.text) ?? '', files: asList(message.files) ?? [] },
        chat: chatAnswer(chat),
        ...(Object.keys(extra).length ? { extra } : {}),
        SUCCESS: true,
        session: { ID: String(state.sessionId), CHAT_ID: String(state.id) },
      };
    }),
  );
};

/** Finds the message an external user sent earlier, by its external id. */
function findInbound(portal: Portal, connector: string, line: number, user: Params, message: Params, chat: Params) {
  const state = portal.findChat(connector, line, asString(chat.id) ?? '', asString(user.id));
  const found = state && portal.messageByExternalId(state, asString(message.id) ?? '');
  return state && found ? { state, found } : undefined;
}

/** imconnector.update.messages: edits messages sent earlier with send.messages. */
export const updateMessages: MethodHandler = (ctx) => {
  const { portal, connector, line, items } = prepare(ctx, ['user', 'message', 'chat']);
  return answer(
    items.map((item) => {
      const [user, message, chat] = [block(item, 'user'), block(item, 'message'), block(item, 'chat')];
      const hit = findInbound(portal, connector, line, user, message, chat);
      if (hit) hit.found.text = asString(message.text) ?? hit.found.text;
      return {
        user: hit ? String(hit.state.userId) : '',
        message: { id: asString(message.id) ?? '', date: {}, text: asString(message.text) ?? '' },
        chat: chatAnswer(chat),
        SUCCESS: Boolean(hit),
        ...(hit ? {} : { ERRORS: ['Message not found'] }),
      };
    }),
  );
};

/** imconnector.delete.messages: deletes messages sent earlier with send.messages. */
export const deleteMessages: MethodHandler = (ctx) => {
  const { portal, connector, line, items } = prepare(ctx, ['user', 'message', 'chat']);
  return answer(
    items.map((item) => {
      const [user, message, chat] = [block(item, 'user'), block(item, 'message'), block(item, 'chat')];
      const hit = findInbound(portal, connector, line, user, message, chat);
      if (hit) hit.found.deleted = true;
      return {
        user: hit ? String(hit.state.userId) : '',
        message: { id: asString(message.id) ?? '' },
        chat: { id: asString(chat.id) ?? '' },
        SUCCESS: Boolean(hit),
        ...(hit ? {} : { ERRORS: ['Message not found'] }),
      };
    }),
  );
};

/** imconnector.chat.name.set: renames the chat behind an external chat; USER_ID is needed by one-to-one connectors. */
export const chatNameSet: MethodHandler = ({ portal, params }) => {
  const { connector, line } = connectorAndLine(params);
  const chatId = requireString(params, 'CHAT_ID');
  const name = requireString(params, 'NAME');
  requireProvider(portal, connector);
  requireActiveLine(portal, connector, line);
  const group = portal.connectors.get(connector)?.chatGroup ?? true;
  const userId = asString(params.USER_ID);
  if (!group && !userId) throw nullOrEmpty('USER_ID');
  const chat = group ? portal.latestChat(connector, line, chatId) : portal.findChat(connector, line, chatId, userId);
  if (!chat) throw new RestError(400, 'CHAT_RENAMING_FAILED', 'Failed to rename the chat');
  chat.name = name;
  return { SUCCESS: true, DATA: { RESULT: {} } };
};

// ---- statuses of operator messages ----

interface StatusItem {
  chatId: number;
  messageId: number;
  externalIds: string[];
  externalChatId: string;
  date?: number;
}

/** Checks every MESSAGES element before anything is recorded, so a bad call changes nothing. */
function statusItems(params: Params): StatusItem[] {
  return messageList(params, ['im', 'message', 'chat']).map((item, i) => {
    const [imBlock, message, chat] = [block(item, 'im'), block(item, 'message'), block(item, 'chat')];
    const at = (path: string) => `MESSAGES[${i}][${path}]`;
    const chatId = asInt(imBlock.chat_id);
    if (chatId === undefined || chatId <= 0)
      throw argumentError(`The value of an argument '${at('im][chat_id')}' must be of type integer`);
    const messageId = asInt(imBlock.message_id);
    if (messageId === undefined || messageId <= 0)
      throw argumentError(`The value of an argument '${at('im][message_id')}' must be of type integer`);
    // Documented as a list even for one message; a bare string is refused, not wrapped.
    const ids = asList(message.id);
    if (!ids || ids.length === 0)
      throw argumentError(`The value of an argument '${at('message][id')}' must be of type array`);
    const externalIds = ids.map((id) => asString(id));
    if (externalIds.some((id) => id === undefined || id === ''))
      throw argumentError(`Argument '${at('message][id')}' holds an empty or non-string id`);
    if (phpEmpty(chat.id) || asString(chat.id) === undefined) throw nullOrEmpty(at('chat][id'));
    const date = asInt(message.date);
    return {
      chatId,
      messageId,
      externalIds: externalIds as string[],
      externalChatId: asString(chat.id)!,
      ...(date === undefined ? {} : { date }),
    };
  });
}

const statusMethod =
  (kind: 'delivery' | 'reading'): MethodHandler =>
  ({ core, portal, params }) => {
    const { connector, line } = connectorAndLine(params);
    const items = statusItems(params);
    requireProvider(portal, connector);
    for (const item of items) {
      const message = portal.messages.get(item.messageId);
      const known = message !== undefined && message.chatId === item.chatId && message.direction === 'out';
      if (known && kind === 'delivery') {
        message.delivered = true;
        message.externalIds = item.externalIds;
      }
      if (known && kind === 'reading') message.read = true;
      core.recorder.add('status', {
        at: core.clock.now(),
        memberId: portal.memberId,
        kind,
        connector,
        line,
        ...item,
        known,
      });
    }
    return { SUCCESS: true, DATA: [] };
  };

/** imconnector.send.status.delivery: the external channel got the operator's messages. */
export const sendStatusDelivery = statusMethod('delivery');
/** imconnector.send.status.reading: the external user read them. */
export const sendStatusReading = statusMethod('reading');
