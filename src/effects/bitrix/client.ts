import type { Logger } from 'pino';
import { silentLogger } from '../../log.js';
import type { Store } from '../../store/types.js';
import { GatewayError, type ErrorCode } from '../../errors.js';
import { portalRestBase } from '../../verify/domains.js';
import type { InstallLiveness } from '../../verify/install.js';
import {
  haltedItem,
  MAX_BATCH_COMMANDS,
  sendBatch,
  type BatchCall,
  type BatchItem,
  type BatchResult,
} from './batch.js';
import { BitrixApiError, LIMIT_CODES, toApiError } from './errors.js';
import { LeakyBucket, planLimits, realSleep, type Plan, type Sleep } from './limiter.js';
import { oauthServerFor, PortalAuth } from './oauth.js';
import { callContext, createSdkPortal, type SdkPortal } from './sdk.js';
import { isWebhookMember, parseWebhookUrl, WebhookClient, type WebhookBot } from './webhook.js';

export interface RetryOptions {
  /** Tries per call, the first included, for QUERY_LIMIT_EXCEEDED and OPERATION_TIME_LIMIT. Default 4. */
  attempts?: number;
  /** First backoff after QUERY_LIMIT_EXCEEDED, doubled each time. Default 1000. */
  baseDelayMs?: number;
  /** Longest wait done inside the client; a longer one is thrown with retryAfterMs for the worker. Default 15000. */
  maxWaitMs?: number;
}

export interface BitrixOptions {
  store: Store;
  clientId?: string;
  clientSecret?: string;
  /** Default https://oauth.bitrix.info. An event's server_endpoint is never used, except loopback for loopback test portals. */
  oauthServer?: string;
  plan?: Plan;
  logger?: Logger;
  fetch?: typeof fetch;
  now?: () => number;
  /** How waits happen; tests pass one that advances a fake clock. */
  sleep?: Sleep;
  retry?: RetryOptions;
  /** Called after every REST request with its method and `ok` or the error code, for metrics. */
  onCall?: (method: string, result: string) => void;
}

/** What the portal and the authorization server answer for credentials of a removed application. */
const REVOKED_CODES: ReadonlySet<string> = new Set([
  'invalid_grant',
  'invalid_token',
  'NO_AUTH_FOUND',
  'INVALID_CREDENTIALS',
]);

/** The `time` block of a REST answer, as far as the gateway reads it. */
export interface RestTime {
  /** Unix seconds (with a fraction) on the portal's clock when it began the call. */
  start?: number;
  /** Seconds of this method's operating time counted in the last 10 minutes. */
  operating?: number;
  operating_reset_at?: number;
}

export interface TimedResult<T> {
  result: T;
  time: RestTime | undefined;
  /** This clock when the request left and when its answer came, in ms. */
  sentAt: number;
  receivedAt: number;
}

export interface PortalClient {
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Any number of calls; sent 50 per `batch` request. With halt, stops at the first failed command. */
  batch(calls: BatchCall[], halt?: boolean): Promise<BatchResult>;
  /** A call with the answer's `time` block: operating time, and the portal's clock. */
  callWithTime<T = unknown>(method: string, params?: Record<string, unknown>): Promise<TimedResult<T>>;
  /** Exchanges the refresh token for a new pair now, expired or not (stored before it is used). */
  refreshTokens(): Promise<void>;
}

interface Session {
  auth: PortalAuth;
  bucket: LeakyBucket;
  sdk: SdkPortal;
  /** operating_reset_at (ms) last seen per method: the first retry after OPERATION_TIME_LIMIT waits for it. */
  resetAt: Map<string, number>;
}

/** REST clients for every portal, one per member_id, created on first use. */
export class BitrixClients {
  readonly #portals = new Map<string, PortalClientImpl>();
  readonly #hooks = new Map<string, WebhookClient>();
  #closed = false;

  constructor(private readonly o: BitrixOptions) {
    planLimits(o.plan); // fail fast on a bad plan
  }

  forPortal(memberId: string): PortalClient {
    if (this.#closed) throw new GatewayError('B24GW_SHUTTING_DOWN', 'the gateway is closed: no more Bitrix24 calls');
    const hook = this.#hooks.get(memberId);
    if (hook) return hook;
    let c = this.#portals.get(memberId);
    if (!c) this.#portals.set(memberId, (c = new PortalClientImpl(memberId, this.o)));
    return c;
  }

  /**
   * Makes a bot reachable through an incoming webhook: calls for the member id returned (see
   * parseWebhookUrl) go to the webhook, with the bot's botToken added to its imbot.v2 calls.
   */
  addWebhookBot(bot: WebhookBot): string {
    const hook = parseWebhookUrl(bot.url);
    let c = this.#hooks.get(hook.memberId);
    if (c && !c.isFor(hook))
      throw new GatewayError(
        'B24GW_BAD_CONFIG',
        `two different incoming webhooks of user ${hook.userId} on ${hook.host}`,
      );
    if (!c) this.#hooks.set(hook.memberId, (c = new WebhookClient(hook, this.o)));
    c.addBot(bot.botId, bot.botToken);
    return hook.memberId;
  }

  /**
   * Whether the portal still accepts the OAuth pair stored for it: `gone` once the portal refuses it
   * (Bitrix24 revokes an application's tokens when it is removed), `unknown` when it cannot be told now.
   */
  async installLiveness(memberId: string): Promise<InstallLiveness> {
    const probe = new PortalClientImpl(memberId, { ...this.o, retry: { attempts: 1 } });
    try {
      await probe.call('app.info');
      return 'alive';
    } catch (e) {
      return e instanceof BitrixApiError && e.bitrixCode !== undefined && REVOKED_CODES.has(e.bitrixCode)
        ? 'gone'
        : 'unknown';
    }
  }

  close(): void {
    this.#closed = true;
    this.#portals.clear();
    this.#hooks.clear();
  }
}

class PortalClientImpl implements PortalClient {
  #session: Promise<Session> | undefined;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  readonly #log: Logger;
  readonly #retry: Required<RetryOptions>;

  constructor(
    readonly memberId: string,
    private readonly o: BitrixOptions,
  ) {
    this.#now = o.now ?? Date.now;
    this.#sleep = o.sleep ?? realSleep;
    this.#log = o.logger ?? silentLogger;
    this.#retry = { attempts: 4, baseDelayMs: 1000, maxWaitMs: 15_000, ...o.retry };
  }

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return (await this.callWithTime<T>(method, params)).result;
  }

  callWithTime<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<TimedResult<T>> {
    return this.#run(method, async (s) => {
      const sentAt = this.#now();
      const res = await s.sdk.http.call<T>(method, params);
      if (!res.isSuccess) throw res.getErrors().next().value;
      const data = res.getData();
      this.#noteTime(s, method, data?.time);
      return { result: data?.result as T, time: data?.time as RestTime | undefined, sentAt, receivedAt: this.#now() };
    });
  }

  async refreshTokens(): Promise<void> {
    const s = await this.#ready();
    try {
      // Named as the failed token, the current one is replaced whatever its expiry.
      await s.auth.refresh(s.auth.accessToken);
    } catch (e) {
      throw this.#error(e, s, 'oauth/token');
    }
  }

  async batch(calls: BatchCall[], halt = false): Promise<BatchResult> {
    const items: BatchItem[] = [];
    let requests = 0;
    for (let i = 0; i < calls.length; i += MAX_BATCH_COMMANDS) {
      const chunk = calls.slice(i, i + MAX_BATCH_COMMANDS);
      if (halt && items.some((it) => !it.ok)) {
        items.push(...chunk.map(haltedItem));
        continue;
      }
      requests += 1;
      items.push(
        ...(await this.#run('batch', (s) =>
          sendBatch(s.sdk.http, chunk, halt, {
            toError: (e, method) => this.#error(e, s, method, 0),
            onTime: (method, time) => this.#noteTime(s, method, time),
          }),
        )),
      );
    }
    return { items, requests };
  }

  /** One call with the token kept fresh and the limit errors answered with bounded backoff. */
  async #run<R>(method: string, send: (s: Session) => Promise<R>): Promise<R> {
    const s = await this.#ready();
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await callContext.run({}, async () => {
          if (s.auth.expired()) await s.sdk.b24.auth.refreshAuth();
          return await send(s);
        });
        this.o.onCall?.(method, 'ok');
        return result;
      } catch (e) {
        const err = this.#error(e, s, method);
        this.o.onCall?.(method, err.reason);
        if (err.bitrixCode === undefined || !LIMIT_CODES.has(err.bitrixCode)) throw err;
        if (err.bitrixCode === 'QUERY_LIMIT_EXCEEDED') s.bucket.fill();
        const wait =
          err.bitrixCode === 'QUERY_LIMIT_EXCEEDED'
            ? Math.round(this.#retry.baseDelayMs * 2 ** (attempt - 1) * (1 + Math.random() * 0.2))
            : (err.retryAfterMs ?? 60_000);
        if (attempt >= this.#retry.attempts || wait > this.#retry.maxWaitMs) {
          throw new BitrixApiError({
            method,
            memberId: this.memberId,
            bitrixCode: err.bitrixCode,
            httpStatus: err.httpStatus,
            description: `${err.description} (gave up after ${attempt} attempt${attempt === 1 ? '' : 's'})`,
            retryAfterMs: wait,
          });
        }
        this.#log.warn(
          { memberId: this.memberId, method, code: err.bitrixCode, attempt, waitMs: wait },
          'bitrix24 limit reached; backing off',
        );
        await this.#sleep(wait);
      }
    }
  }

  #error(e: unknown, s: Session, method: string, status?: number): BitrixApiError {
    const err = toApiError(e, { method, memberId: this.memberId, secrets: s.auth.secrets(), now: this.#now, status });
    if (err.bitrixCode !== 'OPERATION_TIME_LIMIT' || err.retryAfterMs !== undefined) return err;
    // No reset time in the answer: limits.md says to use the last successful answer's.
    const reset = s.resetAt.get(method);
    const retryAfterMs = reset !== undefined && reset > this.#now() ? reset - this.#now() + 1000 : 60_000;
    return new BitrixApiError({
      method,
      memberId: this.memberId,
      bitrixCode: err.bitrixCode,
      httpStatus: err.httpStatus,
      description: err.description,
      retryAfterMs,
    });
  }

  #noteTime(s: Session, method: string, time: unknown): void {
    const reset = Number((time as { operating_reset_at?: unknown } | undefined)?.operating_reset_at);
    if (reset > 0) s.resetAt.set(method, reset * 1000);
  }

  #ready(): Promise<Session> {
    if (!this.#session) {
      this.#session = this.#open();
      // A failed open (portal not installed yet) is retried by the next call.
      this.#session.catch(() => (this.#session = undefined));
    }
    return this.#session;
  }

  async #open(): Promise<Session> {
    const fail = (code: ErrorCode, description: string) =>
      new BitrixApiError({ method: 'portal', memberId: this.memberId, code, httpStatus: 0, description });
    if (isWebhookMember(this.memberId))
      throw fail('B24GW_PORTAL_UNUSABLE', 'no incoming webhook is configured for it in this instance (--pull-webhook)');
    const p = await this.o.store.getPortal(this.memberId);
    if (!p || p.uninstalledAt !== null)
      throw fail('B24GW_PORTAL_NOT_INSTALLED', 'the application is not installed on this portal');
    if (!p.accessToken || !p.refreshToken)
      throw fail('B24GW_PORTAL_UNUSABLE', 'the install saved no OAuth tokens for this portal');
    let restBase: string;
    try {
      restBase = portalRestBase(p.domain).replace(/\/+$/, '');
    } catch {
      throw fail('B24GW_PORTAL_UNUSABLE', `"${p.domain}" is not a host name`);
    }
    const auth = new PortalAuth(
      {
        memberId: this.memberId,
        store: this.o.store,
        oauthServer: oauthServerFor(p, this.o.oauthServer),
        clientId: this.o.clientId,
        clientSecret: this.o.clientSecret,
        fetch: this.o.fetch ?? globalThis.fetch,
        now: this.#now,
        logger: this.#log,
      },
      { accessToken: p.accessToken, refreshToken: p.refreshToken, expiresAt: p.expiresAt },
    );
    const limits = planLimits(this.o.plan);
    const store = this.o.store;
    // Instances (and threads) sharing a database share the portal's bucket too; the portal counts them all.
    const bucket = new LeakyBucket(limits, this.#now, this.#sleep, (mode) =>
      store.rateSlot(this.memberId, limits, this.#now(), mode),
    );
    const sdk = await createSdkPortal({
      memberId: this.memberId,
      domain: p.domain,
      restBase,
      auth,
      bucket,
      fetch: this.o.fetch,
    });
    return { auth, bucket, sdk, resetAt: new Map() };
  }
}
