import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plan } from '../effects/bitrix/limiter.js';
import type { TextFormat } from '../effects/channel/types.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { sendJson } from '../server/routes.js';
import type { Store } from '../store/types.js';
import { eventDetail } from './detail.js';
import { browseFromQuery, findEvents, parseTime, replayEvents, type ReplaySelection } from './events.js';
import { overview } from './overview.js';
import { portalViews } from './portals.js';

/** What the console reads from and how it shows it. */
export interface ConsoleSource {
  /**
   * The store, or how to open one at the first request (serve opens its own once the gateway has
   * made the file); one so opened is opened anew after its database stopped answering.
   */
  store: Store | (() => Store);
  /** The REST plan, for each portal's bucket. Default standard. */
  plan?: Plan;
  /** How message text was given to the channel, to show its payloads as sent. Default text. */
  channelFormat?: TextFormat;
  /** Whether connector events go to a channel; without one, an event's page shows no payloads. Default true. */
  channel?: boolean;
  now?: () => number;
}

const bad = (message: string) => new GatewayError('B24GW_BAD_INPUT', message);
const notFound = (message: string) => new GatewayError('B24GW_NOT_FOUND', message);

/** A replay's body is small; anything larger is not one. */
const MAX_BODY = 64 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  // A form or text/plain POST needs no preflight: only JSON is taken, so another site's page cannot replay.
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
    throw new GatewayError('B24GW_BAD_INPUT', 'Send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new GatewayError('B24GW_BODY_TOO_LARGE', `Body is over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw bad('The body is not JSON');
  }
}

/** `{"ids": [...]}`, or `{"since": ..., "until": ..., "all": bool}` (dead letters in the range unless all). */
function selectionOf(body: unknown): ReplaySelection {
  if (typeof body !== 'object' || body === null) throw bad('Send {"ids": [...]} or {"since", "until"}');
  const b = body as { ids?: unknown; since?: unknown; until?: unknown; all?: unknown };
  if (b.ids !== undefined) {
    if (!Array.isArray(b.ids) || b.ids.length > 10_000) throw bad('ids is a list of up to 10000 event ids');
    return { ids: b.ids.map(Number) };
  }
  const time = (name: string, v: unknown) => (v === undefined || v === null ? undefined : parseTime(name, String(v)));
  return { since: time('since', b.since), until: time('until', b.until), all: b.all === true };
}

/** A row of a table this code does not own: any column that may hold a secret is left out. */
type Handler = (req: IncomingMessage, res: ServerResponse, match: string[], query: URLSearchParams) => Promise<void>;

/**
 * The console's JSON API (docs/reference/admin-api.md), under /api on the admin listener: what
 * the page reads and does, for scripts too.
 */
export function consoleApi(source: ConsoleSource): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  let opened: Store | undefined;
  const open = () => (opened ??= typeof source.store === 'function' ? source.store() : source.store);
  /**
   * A store this code opened whose database does not answer is closed and opened anew at the next
   * request: one opened while PostgreSQL was down would otherwise never get past its first connect.
   */
  const forgetIfDown = async (known: boolean) => {
    const s = opened;
    if (typeof source.store !== 'function' || !s) return;
    if (!known && (await s.ping().catch(() => false))) return;
    if (opened === s) opened = undefined;
    await s.close().catch(() => undefined);
  };
  // Each use asks for it: the first opens it.
  const store = new Proxy({} as Store, {
    get: (_t, key) => {
      const s = open();
      const v = Reflect.get(s, key, s) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(s) : v;
    },
  });
  const now = source.now ?? Date.now;
  const plan = source.plan ?? 'standard';
  const portals = () => portalViews(store, plan, now());
  const member = (m: string[]) => decodeURIComponent(m[1]!);
  const line = (q: URLSearchParams, required = true): number | undefined => {
    const v = q.get('line');
    if (v === null || v === '') {
      if (required) throw bad('line is required');
      return undefined;
    }
    if (!/^\d{1,9}$/.test(v)) throw bad(`line must be a whole number, got "${v.slice(0, 20)}"`);
    return Number(v);
  };
  const chat = (q: URLSearchParams) => {
    const v = q.get('chat');
    if (!v) throw bad('chat is required');
    return v;
  };

  const routes: [string, RegExp, Handler][] = [
    [
      'GET',
      /^\/api\/overview$/,
      async (_req, res, _m, q) => {
        const minutes = Number(q.get('minutes') ?? 60);
        if (!Number.isSafeInteger(minutes) || minutes < 1 || minutes > 24 * 60)
          throw bad('minutes is between 1 and 1440');
        sendJson(res, 200, await overview(store, portals, now(), minutes));
      },
    ],
    [
      'GET',
      /^\/api\/events$/,
      async (_req, res, _m, q) => sendJson(res, 200, await findEvents(store, browseFromQuery(q))),
    ],
    [
      'GET',
      /^\/api\/events\/(\d{1,15})$/,
      async (_req, res, m) => {
        const detail = await eventDetail(
          store,
          Number(m[1]),
          source.channel === false ? null : (source.channelFormat ?? 'text'),
        );
        if (!detail) throw notFound(`No event ${m[1]}`);
        sendJson(res, 200, detail);
      },
    ],
    [
      'POST',
      /^\/api\/replay$/,
      async (req, res) => sendJson(res, 200, await replayEvents(store, selectionOf(await readJson(req)))),
    ],
    [
      'GET',
      /^\/api\/portals$/,
      async (_req, res) => {
        sendJson(res, 200, { portals: await portals(), pullCursors: await store.listPullCursors() });
      },
    ],
    [
      'GET',
      /^\/api\/portals\/([^/]+)\/lines$/,
      async (_req, res, m) => sendJson(res, 200, { lines: await store.state.lines(member(m)) }),
    ],
    [
      'GET',
      /^\/api\/portals\/([^/]+)\/chats$/,
      async (_req, res, m, q) => {
        const l = line(q, false);
        sendJson(res, 200, { chats: await store.state.chats(member(m), l === undefined ? {} : { line: l }) });
      },
    ],
    [
      'GET',
      /^\/api\/portals\/([^/]+)\/dialogs$/,
      async (_req, res, m, q) => {
        const l = line(q, false);
        const c = q.get('chat');
        const dialogs = await store.state.dialogs(member(m), l === undefined ? {} : { line: l });
        sendJson(res, 200, { dialogs: c ? dialogs.filter((d) => d.externalChatId === c) : dialogs });
      },
    ],
    [
      'GET',
      /^\/api\/portals\/([^/]+)\/conversation$/,
      async (_req, res, m, q) => {
        const memberId = member(m);
        const l = line(q)!;
        const c = chat(q);
        const [found, messages, entries, dialogs] = await Promise.all([
          store.state.chat(memberId, l, c),
          store.state.messages(memberId, { line: l, externalChatId: c }),
          store.state.conversation(memberId, l, c),
          store.state.dialogs(memberId, { line: l }),
        ]);
        if (!found && entries.length === 0) throw notFound(`No chat ${c} on line ${l}`);
        sendJson(res, 200, {
          chat: found ?? null,
          dialogs: dialogs.filter((d) => d.externalChatId === c),
          // The operators' messages with their edits; the customers' as the conversation has them.
          messages,
          conversation: entries,
        });
      },
    ],
  ];

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    for (const [method, pattern, handler] of routes) {
      const m = pattern.exec(url.pathname);
      if (!m) continue;
      if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
        req.resume();
        const e = new GatewayError('B24GW_METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${method}`);
        return sendJson(res, e.status, e.toJSON(), { allow: method });
      }
      res.setHeader('cache-control', 'no-store');
      try {
        return await handler(req, res, m, url.searchParams);
      } catch (e) {
        // The store's own "database away" (past its store wait) or the database's error (a restart,
        // a dropped connection): a coded 503 the page retries, no detail.
        const away = isGatewayError(e) && e.code === 'B24GW_STORE_UNAVAILABLE';
        if (isGatewayError(e) && !away) throw e;
        await forgetIfDown(away);
        throw away ? e : new GatewayError('B24GW_STORE_UNAVAILABLE', undefined, { cause: e });
      }
    }
    req.resume();
    throw notFound(`No admin API at ${url.pathname.slice(0, 200)}`);
  };
}
