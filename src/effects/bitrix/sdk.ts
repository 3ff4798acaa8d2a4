import { AsyncLocalStorage } from 'node:async_hooks';
import type { B24OAuth, B24OAuthParams, HandlerRefreshAuth, RestrictionParams, TypeHttp } from '@bitrix24/b24jssdk';
import type { LeakyBucket } from './limiter.js';
import type { PortalAuth } from './oauth.js';

/** Per call attempt: which access token its request actually carried (set just before sending). */
export interface CallContext {
  sentToken?: string;
}
export const callContext = new AsyncLocalStorage<CallContext>();

/**
 * The SDK's own limiter, operating-time blocker, adaptive delays and retries are switched off:
 * they sleep on the real clock (up to 10 minutes for OPERATION_TIME_LIMIT) where the gateway
 * must hand a retry time to its worker, and they cannot be driven by an injected clock.
 * limiter.ts and client.ts do that job. The SDK still retries once after an expired_token.
 */
export const sdkRestrictions: RestrictionParams = {
  rateLimit: { burstLimit: Number.MAX_SAFE_INTEGER, drainRate: Number.MAX_SAFE_INTEGER, adaptiveEnabled: false },
  operatingLimit: { windowMs: 600_000, limitMs: Number.POSITIVE_INFINITY, heavyPercent: 100 },
  adaptiveConfig: { enabled: false, thresholdPercent: 100, coefficient: 0, maxDelay: 0 },
  maxRetries: 1,
  retryDelay: 0,
  retryOnNetworkError: false,
};

// Loaded on first use: the SDK takes ~300 ms to import, which CLI commands should not pay.
let sdkModule: Promise<typeof import('@bitrix24/b24jssdk')> | undefined;
const loadSdk = () => (sdkModule ??= import('@bitrix24/b24jssdk'));

/** The SDK never holds the refresh token or client secret; refreshes go through PortalAuth. */
const NOT_HELD = 'held-by-gateway';
/** The SDK checks expiry on the real clock; client.ts does it on the injected one instead. */
const farExpiry = () => Math.floor(Date.now() / 1000) + 365 * 24 * 3600;

export interface SdkPortal {
  b24: B24OAuth;
  http: TypeHttp;
}

export interface SdkPortalOptions {
  memberId: string;
  domain: string;
  /** `https://portal/rest`, derived from the portal's domain. */
  restBase: string;
  auth: PortalAuth;
  bucket: LeakyBucket;
  fetch?: typeof fetch;
}

export async function createSdkPortal(o: SdkPortalOptions): Promise<SdkPortal> {
  const { B24OAuth, ApiVersion } = await loadSdk();
  const params: B24OAuthParams = {
    applicationToken: '',
    userId: 0,
    memberId: o.memberId,
    accessToken: o.auth.accessToken,
    refreshToken: NOT_HELD,
    expires: farExpiry(),
    expiresIn: 3600,
    scope: '',
    domain: o.domain,
    clientEndpoint: o.restBase,
    serverEndpoint: 'https://oauth.invalid/rest/',
    status: 'L',
  };
  const b24 = new B24OAuth(params, { clientId: '', clientSecret: '' }, { restrictionParams: sdkRestrictions });
  // Called by the SDK on expired_token/invalid_token; PortalAuth stores the pair before returning it.
  b24.setCustomRefreshAuth(async (): Promise<HandlerRefreshAuth> => {
    const t = await o.auth.refresh(callContext.getStore()?.sentToken);
    return {
      access_token: t.accessToken,
      refresh_token: NOT_HELD,
      expires: String(farExpiry()),
      expires_in: '3600',
      client_endpoint: o.restBase,
      server_endpoint: params.serverEndpoint,
      member_id: o.memberId,
      scope: '',
      status: 'L',
      domain: o.domain,
    };
  });
  const http = b24.getHttpClient(ApiVersion.v2);
  if (o.fetch) {
    http.ajaxClient.defaults.adapter = 'fetch';
    http.ajaxClient.defaults.env = { ...http.ajaxClient.defaults.env, fetch: o.fetch };
  }
  // Every HTTP request to the portal, including the SDK's own retry after a refresh, takes a slot.
  http.ajaxClient.interceptors.request.use(async (config) => {
    await o.bucket.take();
    const data: unknown = config.data;
    if (data && typeof data === 'object' && typeof (data as { auth?: unknown }).auth === 'string') {
      // The newest stored token: a refresh may have finished while this request waited for its slot.
      (data as { auth: string }).auth = o.auth.accessToken;
      const ctx = callContext.getStore();
      if (ctx) ctx.sentToken = o.auth.accessToken;
    }
    return config;
  });
  return { b24, http };
}
