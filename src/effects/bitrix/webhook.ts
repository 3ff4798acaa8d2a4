import { GatewayError } from '../../errors.js';
import type { Store } from '../../store/types.js';
import { haltedItem, type BatchCall, type BatchResult } from './batch.js';
import { BitrixApiError, scrub } from './errors.js';
import { LeakyBucket, planLimits, realSleep, type Plan, type Sleep } from './limiter.js';
import type { PortalClient, TimedResult } from './client.js';

/** A bot reached through a portal's incoming webhook: a local integration without an installed application. */
export interface WebhookBot {
  /** The incoming webhook, `https://portal/rest/<userId>/<secret>/`. A secret: never logged or stored. */
  url: string;
  /** The bot's botToken (given when it was registered through this webhook). A secret too. */
  botToken: string;
  /** The bot's id. */
  botId: number;
}

/** What a webhook URL names: where calls go, and the key its events are kept under. */
export interface ParsedWebhook {
  /** The URL with a trailing slash: `${base}<method>`. */
  base: string;
  host: string;
  userId: string;
  /** `hook:<host>:<userId>`, the member id of its events and cursors: no secret in it. */
  memberId: string;
  /** The webhook's secret code, for scrubbing. */
  code: string;
}

const HOOK_PATH = /^\/rest\/(\d+)\/([A-Za-z0-9_-]+)\/?$/;

/** Parses `https://portal/rest/<userId>/<code>/`; a bad one is a B24GW_BAD_CONFIG that does not repeat the URL. */
export function parseWebhookUrl(url: string): ParsedWebhook {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new GatewayError('B24GW_BAD_CONFIG', 'the incoming webhook URL is not a URL');
  }
  const m = HOOK_PATH.exec(u.pathname);
  if (!m || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.search || u.username)
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      `the incoming webhook URL of ${u.host || 'no host'} is not of the form https://<portal>/rest/<user id>/<code>/`,
    );
  const host = u.host.toLowerCase();
  return {
    base: `${u.origin}${u.pathname.replace(/\/?$/, '/')}`,
    host,
    userId: m[1]!,
    memberId: `hook:${host}:${m[1]!}`,
    code: m[2]!,
  };
}

/** Whether a member id is an incoming webhook's (see parseWebhookUrl). */
export const isWebhookMember = (memberId: string): boolean => memberId.startsWith('hook:');

export interface WebhookClientOptions {
  store: Store;
  plan?: Plan;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: Sleep;
  onCall?: (method: string, result: string) => void;
}

/**
 * REST calls through an incoming webhook (`${url}<method>`, no `auth`). imbot.v2 calls that name a
 * bot this client knows get its botToken added, so a handler's `imbotV2(ctx)` needs none. Every
 * request takes a slot in the portal host's bucket, shared by instances through the store.
 * Limit errors are not waited out here: they go back with retryAfterMs, as the client's do past its budget.
 */
export class WebhookClient implements PortalClient {
  readonly memberId: string;
  readonly #hook: ParsedWebhook;
  readonly #tokens = new Map<number, string>();
  readonly #bucket: LeakyBucket;
  readonly #now: () => number;

  constructor(
    hook: ParsedWebhook,
    private readonly o: WebhookClientOptions,
  ) {
    this.#hook = hook;
    this.memberId = hook.memberId;
    this.#now = o.now ?? Date.now;
    const limits = planLimits(o.plan);
    const key = `hook:${hook.host}`;
    this.#bucket = new LeakyBucket(limits, this.#now, o.sleep ?? realSleep, (mode) =>
      o.store.rateSlot(key, limits, this.#now(), mode),
    );
  }

  isFor(hook: ParsedWebhook): boolean {
    return hook.base === this.#hook.base;
  }

  addBot(botId: number, botToken: string): void {
    this.#tokens.set(botId, botToken);
  }

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return (await this.callWithTime<T>(method, params)).result;
  }

  async callWithTime<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<TimedResult<T>> {
    const body = { ...params };
    const token = this.#tokens.get(Number(body.botId));
    if (/^imbot\.v2\./i.test(method) && body.botToken === undefined && token !== undefined) body.botToken = token;
    await this.#bucket.take();
    const sentAt = this.#now();
    let res: Response;
    let answer: { result?: T; time?: TimedResult<T>['time']; error?: unknown; error_description?: unknown };
    try {
      res = await (this.o.fetch ?? globalThis.fetch)(`${this.#hook.base}${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      answer = (await res.json().catch(() => ({}))) as typeof answer;
    } catch (e) {
      this.o.onCall?.(method, 'NETWORK_ERROR');
      // The cause is left out: a transport error may name the URL.
      throw this.#fail(method, 'NETWORK_ERROR', 0, (e as Error).message);
    }
    if (!res.ok || answer.error !== undefined) {
      const code = typeof answer.error === 'string' && answer.error ? answer.error : `HTTP_${res.status}`;
      this.o.onCall?.(method, code);
      if (code === 'QUERY_LIMIT_EXCEEDED') this.#bucket.fill();
      const desc = typeof answer.error_description === 'string' ? answer.error_description : res.statusText;
      throw this.#fail(method, code, res.status, desc, code === 'QUERY_LIMIT_EXCEEDED' ? 1000 : undefined);
    }
    this.o.onCall?.(method, 'ok');
    return { result: answer.result as T, time: answer.time, sentAt, receivedAt: this.#now() };
  }

  /** One call after another: the gateway's own pulls never batch through a webhook. */
  async batch(calls: BatchCall[], halt = false): Promise<BatchResult> {
    const items: BatchResult['items'] = [];
    for (const c of calls) {
      if (halt && items.some((i) => !i.ok)) {
        items.push(haltedItem(c));
        continue;
      }
      try {
        items.push({ ok: true, result: await this.call(c.method, c.params) });
      } catch (e) {
        if (!(e instanceof BitrixApiError)) throw e;
        items.push({ ok: false, error: e });
      }
    }
    return { items, requests: calls.length };
  }

  refreshTokens(): Promise<void> {
    return Promise.resolve(); // an incoming webhook has no tokens to refresh
  }

  #fail(method: string, code: string, status: number, description: string, retryAfterMs?: number) {
    const secrets = [this.#hook.base, this.#hook.code, ...this.#tokens.values()];
    return new BitrixApiError({
      method,
      memberId: this.memberId,
      bitrixCode: code,
      httpStatus: status,
      description: scrub(description, secrets),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
}
