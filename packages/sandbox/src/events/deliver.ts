import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SandboxCore } from '../core.js';
import type { Portal } from '../portal.js';
import type { DeliveryRecord } from '../recorder.js';
import { defaultAuthStyle, defaultEventScope, eventAuth, type AuthStyle } from './auth.js';
import { httpBuildQuery } from '../php/encode.js';

export interface SendOptions {
  /** Send to this URL only, instead of every handler bound for the code. */
  handlerUrl?: string;
  /** false: the event was caused by a robot, workflow or agent, so auth carries no tokens. Default true. */
  withTokens?: boolean;
  /** Whose tokens go in auth (default: the portal's admin, user 1). */
  userId?: number;
  /** auth[scope]; by default the event's own scope ("imconnector, imopenlines", "imbot", ...). */
  scope?: string;
  /** The docs show `eventId` on some pages; Bitrix24 sends `event_handler_id`. */
  handlerIdKey?: 'event_handler_id' | 'eventId';
  /** Overrides the auth style the code implies. */
  authStyle?: AuthStyle;
  /** auth[application_token], when not the portal's: a bot registered with a botToken has one of its own. */
  applicationToken?: string;
}

export interface DeliveryResult {
  code: string;
  /** Every target answered 2xx, or the event was queued (false when it went nowhere). */
  ok: boolean;
  deliveries: DeliveryRecord[];
  /** Chatbots 2.0 events of fetch-mode bots and subscribed users wait in their queues for Event.get instead. */
  queued?: QueuedRecord[];
  /** Ids of the records the event left in the offline queue (one per offline binding of it). */
  offline?: number[];
}

/** One event put in a queue that imbot.v2.Event.get (a bot's) or im.v2.Event.get (a user's) reads. */
export interface QueuedRecord {
  eventId: number;
  botId?: number;
  userId?: number;
}

interface Target {
  url: string;
  handlerId: number | undefined;
}

const AD_HOC_HANDLER_ID_START = 9001;
const adHocIds = new WeakMap<Portal, Map<string, number>>();

/** A stable event_handler_id for a URL nothing was bound to, so every event still carries one. */
function adHocHandlerId(portal: Portal, code: string, url: string): number {
  let ids = adHocIds.get(portal);
  if (!ids) adHocIds.set(portal, (ids = new Map<string, number>()));
  const key = `${code} ${url}`;
  let id = ids.get(key);
  if (id === undefined) ids.set(key, (id = AD_HOC_HANDLER_ID_START + ids.size));
  return id;
}

function targets(portal: Portal, code: string, data: unknown, handlerUrl: string | undefined): Target[] {
  if (handlerUrl !== undefined) {
    const bound = portal.handlersFor(code).find((h) => h.offline === 0 && h.handler === handlerUrl);
    return [{ url: handlerUrl, handlerId: bound?.id ?? adHocHandlerId(portal, code, handlerUrl) }];
  }
  const bots = botIds(data);
  return portal
    .handlersFor(code)
    .filter((h) => h.offline === 0 && (h.botId === undefined || bots.includes(h.botId)))
    .map((h) => ({ url: h.handler, handlerId: h.id }));
}

/** The bots an event is addressed to: v1's `data.BOT` keys, or Chatbots 2.0's one `data.bot`. */
function botIds(data: unknown): number[] {
  const d = data as { BOT?: unknown; bot?: { id?: unknown } } | null;
  if (d?.bot && typeof d.bot === 'object') return [Number(d.bot.id)];
  return d?.BOT && typeof d.BOT === 'object' ? Object.keys(d.BOT).map(Number) : [];
}

/** The envelope Bitrix24 posts: event, event_handler_id, data, ts, auth – in that order. */
export function envelope(
  core: SandboxCore,
  portal: Portal,
  code: string,
  data: unknown,
  handlerId: number | undefined,
  opts: SendOptions = {},
): Record<string, unknown> {
  const style: AuthStyle =
    opts.authStyle ?? (opts.withTokens === false && code !== 'ONAPPUNINSTALL' ? 'robot' : defaultAuthStyle(code));
  const withHandlerId = handlerId !== undefined && code !== 'ONAPPINSTALL' && code !== 'ONAPPUNINSTALL';
  return {
    event: code,
    ...(withHandlerId ? { [opts.handlerIdKey ?? 'event_handler_id']: handlerId } : {}),
    data,
    ts: core.clock.unix(),
    auth: eventAuth(core, portal, {
      style,
      scope: opts.scope ?? defaultEventScope(code, portal),
      userId: opts.userId ?? portal.adminUserId,
      ...(opts.applicationToken === undefined ? {} : { applicationToken: opts.applicationToken }),
    }),
  };
}

/**
 * Sends an event the way Bitrix24's queue does: one form-encoded POST per handler, the
 * outcome logged, nothing re-sent whatever the answer.
 */
export async function sendEvent(
  core: SandboxCore,
  portal: Portal,
  code: string,
  data: unknown,
  opts: SendOptions = {},
): Promise<DeliveryResult> {
  const upper = code.toUpperCase();
  const list = targets(portal, upper, data, opts.handlerUrl);
  const offline = opts.handlerUrl === undefined ? queueOffline(core, portal, upper, data, opts) : [];
  const deliveries = await Promise.all(
    list.map(async (t) => {
      const payload = envelope(core, portal, upper, data, t.handlerId, opts);
      return deliverOnce(core, portal, upper, t, payload);
    }),
  );
  return {
    code: upper,
    ok: (deliveries.length > 0 || offline.length > 0) && deliveries.every((d) => d.ok),
    deliveries,
    ...(offline.length > 0 ? { offline } : {}),
  };
}

/** ISO 8601 with a numeric offset, as Bitrix24 writes TIMESTAMP_X. */
const isoDate = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');

/** Portals with an ONOFFLINEEVENT about to go: the news of many records goes as one. */
const notifying = new WeakSet<Portal>();

/**
 * Events of offline bindings go to the portal's offline queue, one record per binding, and an
 * application bound to ONOFFLINEEVENT (online) is told, once for what arrives together.
 */
function queueOffline(core: SandboxCore, portal: Portal, code: string, data: unknown, opts: SendOptions): number[] {
  if (code === 'ONOFFLINEEVENT') return [];
  const bound = portal.handlersFor(code).filter((h) => h.offline === 1);
  const at = isoDate(core.clock.now());
  const ids = bound.map(
    (h) => portal.offline.push(code, data, { user_id: opts.userId ?? portal.adminUserId }, at, h.authConnector).ID,
  );
  if (ids.length > 0 && !notifying.has(portal) && portal.handlersFor('ONOFFLINEEVENT').some((h) => h.offline === 0)) {
    notifying.add(portal);
    setImmediate(() => {
      notifying.delete(portal);
      void sendEvent(core, portal, 'ONOFFLINEEVENT', [], { scope: portal.scope });
    });
  }
  return ids;
}

/** Posts a complete payload as it is (a recorded or hand-made event), encoded and logged like any delivery. */
export function deliverPayload(
  core: SandboxCore,
  portal: Portal,
  url: string,
  payload: Record<string, unknown>,
): Promise<DeliveryRecord> {
  const code = typeof payload.event === 'string' ? payload.event : '';
  const handlerId = Number(payload.event_handler_id ?? payload.eventId);
  return deliverOnce(
    core,
    portal,
    code,
    { url, handlerId: Number.isInteger(handlerId) ? handlerId : undefined },
    payload,
  );
}

async function deliverOnce(
  core: SandboxCore,
  portal: Portal,
  code: string,
  target: Target,
  payload: Record<string, unknown>,
): Promise<DeliveryRecord> {
  const body = httpBuildQuery(payload);
  const at = core.clock.now();
  const started = performance.now();
  const outcome = await post(target.url, body, core.deliveryTimeoutMs);
  return core.recorder.add('delivery', {
    at,
    memberId: portal.memberId,
    code,
    url: target.url,
    ...(target.handlerId === undefined ? {} : { handlerId: target.handlerId }),
    status: outcome.status,
    ok: outcome.status >= 200 && outcome.status < 300,
    ms: Math.round((performance.now() - started) * 10) / 10,
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
    body,
    payload,
    ...(outcome.responseBody === undefined ? {} : { responseBody: outcome.responseBody }),
  });
}

interface PostOutcome {
  status: number;
  error?: string;
  responseBody?: string;
}

const RESPONSE_KEEP = 4096;

/** One POST; never throws. Status 0 means no HTTP answer (refused, reset, timed out, bad URL). */
async function post(url: string, body: string, timeoutMs: number): Promise<PostOutcome> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { status: 0, error: `Invalid handler URL: ${url}` };
  }
  const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
  if (!send) return { status: 0, error: `Unsupported handler URL scheme: ${target.protocol}` };
  const buf = Buffer.from(body, 'utf8');
  return new Promise((resolveOnce) => {
    const req = send(target, {
      method: 'POST',
      agent: false,
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': String(buf.byteLength),
        'User-Agent': 'Bitrix24 Webhook Engine',
      },
    });
    const timer = setTimeout(() => req.destroy(new Error(`No answer within ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    const resolve = (o: PostOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolveOnce(o);
    };
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (c: Buffer) => {
        if (kept < RESPONSE_KEEP) chunks.push(c.subarray(0, RESPONSE_KEEP - kept));
        kept += c.byteLength;
      });
      const done = (error?: string): void =>
        resolve({
          status: res.statusCode ?? 0,
          responseBody: Buffer.concat(chunks).toString('utf8'),
          ...(error ? { error } : {}),
        });
      res.on('end', () => done());
      res.on('error', (e) => done(e.message));
      res.on('close', () => done(res.complete ? undefined : 'Answer cut off'));
    });
    req.end(buf);
  });
}
