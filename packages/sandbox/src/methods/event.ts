import { appTest } from '../events/payloads/index.js';
import { sendEvent } from '../events/deliver.js';
import { argumentError, RestError } from '../rest/answer.js';
import { asInt, asString, phpEmpty, requireString } from '../rest/params.js';
import type { MethodHandler } from './context.js';

/** Events the sandbox lets an application bind; others answer ERROR_EVENT_NOT_FOUND as Bitrix24 does. */
export const knownEvents = new Set([
  'ONAPPINSTALL',
  'ONAPPUNINSTALL',
  'ONAPPUPDATE',
  'ONAPPPAYMENT',
  'ONAPPTEST',
  'ONAPPMETHODCONFIRM',
  'ONOFFLINEEVENT',
  'ONIMCONNECTORMESSAGEADD',
  'ONIMCONNECTORMESSAGEUPDATE',
  'ONIMCONNECTORMESSAGEDELETE',
  'ONIMCONNECTORDIALOGSTART',
  'ONIMCONNECTORDIALOGFINISH',
  'ONIMCONNECTORSTATUSDELETE',
  'ONIMCONNECTORLINEDELETE',
  'ONOPENLINEMESSAGEADD',
  'ONOPENLINEMESSAGEUPDATE',
  'ONOPENLINEMESSAGEDELETE',
  'ONSESSIONSTART',
  'ONSESSIONFINISH',
  'ONIMBOTMESSAGEADD',
  'ONIMBOTMESSAGEUPDATE',
  'ONIMBOTMESSAGEDELETE',
  'ONIMBOTJOINCHAT',
  'ONIMBOTDELETE',
  'ONIMCOMMANDADD',
  'ONIMBOTV2MESSAGEADD',
  'ONIMBOTV2MESSAGEUPDATE',
  'ONIMBOTV2MESSAGEDELETE',
  'ONIMBOTV2JOINCHAT',
  'ONIMBOTV2DELETE',
  'ONIMBOTV2CONTEXTGET',
  'ONIMBOTV2COMMANDADD',
  'ONIMBOTV2REACTIONCHANGE',
  'ONUSERADD',
  'ONCRMLEADADD',
  'ONCRMDEALADD',
  'ONCRMDEALUPDATE',
]);

function handlerUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // fall through
  }
  throw argumentError(`Wrong handler URL: ${value}`);
}

/** event.bind: registers an online handler. */
export const eventBind: MethodHandler = ({ portal, params }) => {
  const event = requireString(params, 'EVENT').toUpperCase();
  const handler = handlerUrl(requireString(params, 'HANDLER'));
  if (!knownEvents.has(event)) throw new RestError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
  if (asString(params.EVENT_TYPE)?.toLowerCase() === 'offline') {
    throw argumentError('Offline events are not simulated by the sandbox; bind online handlers');
  }
  const authType = phpEmpty(params.AUTH_TYPE) ? 0 : asInt(params.AUTH_TYPE);
  if (authType === undefined) throw argumentError("The value of an argument 'AUTH_TYPE' must be of type integer");
  if (!portal.bind(event, handler, authType))
    throw new RestError(400, 'ERROR_HANDLER_ALREADY_EXIST', 'Handler already exists!');
  return true;
};

/** event.unbind: removes the matching handlers and says how many. */
export const eventUnbind: MethodHandler = ({ portal, params }) => {
  const event = asString(params.EVENT);
  const handler = asString(params.HANDLER);
  const authType = phpEmpty(params.AUTH_TYPE)
    ? params.AUTH_TYPE === undefined
      ? undefined
      : 0
    : asInt(params.AUTH_TYPE);
  const count = portal.unbind({
    ...(event ? { event } : {}),
    ...(handler ? { handler } : {}),
    ...(authType === undefined ? {} : { authType }),
  });
  return { count };
};

/** event.get: the handlers bound on this portal. */
export const eventGet: MethodHandler = ({ portal }) =>
  portal.handlers.map((h) => ({
    event: h.event,
    handler: h.handler,
    auth_type: String(h.authType),
    offline: h.offline,
  }));

/** event.test: ONAPPTEST goes to the bound handlers with the call's parameters in data.QUERY. */
export const eventTest: MethodHandler = ({ core, portal, raw, userId }) => {
  void sendEvent(core, portal, 'ONAPPTEST', appTest({ query: raw, languageId: portal.languageId }), { userId });
  return 1;
};
