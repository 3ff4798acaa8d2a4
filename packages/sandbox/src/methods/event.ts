import { appTest } from '../events/payloads/index.js';
import { sendEvent } from '../events/deliver.js';
import { argumentError, RestError } from '../rest/answer.js';
import { recordAnswer } from '../offline-queue.js';
import { Paged } from '../rest/answer.js';
import { asInt, asList, asString, isObject, phpEmpty, requireString } from '../rest/params.js';
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

const isOffline = (params: Record<string, unknown>): boolean =>
  asString(params.EVENT_TYPE)?.toLowerCase() === 'offline';

/** event.bind: registers an online handler, or (event_type=offline, no handler) queues the event offline. */
export const eventBind: MethodHandler = ({ portal, params }) => {
  const event = requireString(params, 'EVENT').toUpperCase();
  if (!knownEvents.has(event)) throw new RestError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
  if (isOffline(params)) {
    if (!portal.bindOffline(event, asString(params.AUTH_CONNECTOR) ?? ''))
      throw new RestError(400, 'ERROR_HANDLER_ALREADY_EXIST', 'Handler already exists!');
    return true;
  }
  const handler = handlerUrl(requireString(params, 'HANDLER'));
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
  const count = isOffline(params)
    ? portal.unbind({ ...(event ? { event } : {}), offline: 1 })
    : portal.unbind({
        ...(event ? { event } : {}),
        ...(handler ? { handler } : {}),
        ...(authType === undefined ? {} : { authType }),
        offline: 0,
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
    ...(h.offline === 1 && h.authConnector ? { connector: h.authConnector } : {}),
  }));

/** event.test: ONAPPTEST goes to the bound handlers with the call's parameters in data.QUERY. */
export const eventTest: MethodHandler = ({ core, portal, raw, userId }) => {
  void sendEvent(core, portal, 'ONAPPTEST', appTest({ query: raw, languageId: portal.languageId }), { userId });
  return 1;
};

// ---- the offline queue (event.offline.*): for administrators, in the application's context ----

function administrator(ctx: { portal: { adminUserId: number }; userId: number; hook?: string }): void {
  if (ctx.hook !== undefined)
    throw new RestError(401, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method');
  if (ctx.userId !== ctx.portal.adminUserId) throw new RestError(403, 'ACCESS_DENIED', 'Access denied!');
}

const flag = (v: unknown, fallback: boolean): boolean =>
  phpEmpty(v) ? (v === undefined ? fallback : false) : asInt(v) !== 0 && v !== 'N';

const orderOf = (v: unknown) => (isObject(v) ? v : undefined);

/** event.offline.get: the first records (filter, order, limit 50); clear=1 deletes them, clear=0 reserves them under a process_id. */
export const eventOfflineGet: MethodHandler = (ctx) => {
  administrator(ctx);
  const { params, portal } = ctx;
  const limit = asInt(params.LIMIT) ?? 50;
  const page = portal.offline.get({
    filter: isObject(params.FILTER) ? params.FILTER : {},
    order: orderOf(params.ORDER),
    limit,
    clear: flag(params.CLEAR, true),
    processId: asString(params.PROCESS_ID) || undefined,
    error: flag(params.ERROR, false),
    connector: asString(params.AUTH_CONNECTOR) ?? '',
  });
  return { process_id: page.process_id, events: page.events.map((r) => recordAnswer(r, false)) };
};

const ids = (v: unknown): string[] | undefined => asList(v)?.map(String);

/** event.offline.clear: removes the records reserved under process_id (all, or those of `id`, else of `message_id`). */
export const eventOfflineClear: MethodHandler = (ctx) => {
  administrator(ctx);
  const processId = requireString(ctx.params, 'PROCESS_ID');
  ctx.portal.offline.clear(processId, ids(ctx.params.ID)?.map(Number), ids(ctx.params.MESSAGE_ID));
  return true;
};

/** event.offline.error: marks the process's records with these message ids as failed; get skips them unless error=1. */
export const eventOfflineError: MethodHandler = (ctx) => {
  administrator(ctx);
  const processId = requireString(ctx.params, 'PROCESS_ID');
  ctx.portal.offline.error(processId, ids(ctx.params.MESSAGE_ID));
  return true;
};

/** event.offline.list: the queue as it stands (PROCESS_ID and ERROR too), 50 a page from `start`, nothing changed. */
export const eventOfflineList: MethodHandler = (ctx) => {
  administrator(ctx);
  const { params, portal } = ctx;
  const all = portal.offline.list(
    isObject(params.FILTER) ? params.FILTER : {},
    orderOf(params.ORDER),
    asString(params.AUTH_CONNECTOR) ?? '',
  );
  const start = Math.max(0, asInt(params.START) ?? 0);
  const page = all.slice(start, start + 50);
  return new Paged(
    page.map((r) => recordAnswer(r, true)),
    all.length,
    start + 50 < all.length ? start + 50 : undefined,
  );
};
