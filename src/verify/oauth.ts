import { GatewayError } from '../errors.js';
import type { PortalRecord } from '../store/types.js';
import { readCappedJson } from '../wire/capped.js';

export const DEFAULT_OAUTH_SERVER = 'https://oauth.bitrix.info';

const LOOPBACK_DOMAIN = /^(?:127(?:\.\d{1,3}){3}|localhost)(?::\d+)?$/i;
const LOOPBACK_HTTP = /^http:\/\/127(?:\.\d{1,3}){3}(?::\d+)?$/;

/**
 * The authorization server a portal's refresh goes to. The client_secret travels there, so
 * it is the configured server (oauth.bitrix.info by default), never the server_endpoint an
 * event claimed — except that a loopback test portal may name a loopback server.
 */
export function oauthServerFor(portal: Pick<PortalRecord, 'domain' | 'serverEndpoint'>, configured?: string): string {
  if (configured) return new URL(configured).origin;
  const claimed = originOf(portal.serverEndpoint);
  if (claimed && LOOPBACK_HTTP.test(claimed) && LOOPBACK_DOMAIN.test(portal.domain)) return claimed;
  return DEFAULT_OAUTH_SERVER;
}

function originOf(url: string | null): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

export interface OAuthClient {
  server: string;
  clientId: string;
  clientSecret: string;
  fetch?: typeof fetch;
  now?: () => number;
}

/** A new pair from the authorization server, with whose portal it says it is. */
export interface ExchangedTokens {
  accessToken: string;
  refreshToken: string;
  /** Unix ms, or null when the answer gave no lifetime. */
  expiresAt: number | null;
  memberId: string | null;
  clientEndpoint: string | null;
  serverEndpoint: string | null;
}

/** Why an exchange failed, in the authorization server's words; never carries a token. */
export class OAuthError extends GatewayError {
  constructor(
    /** The authorization server's own code (`invalid_grant`, ...); undefined when it gave none (no answer, not JSON). */
    readonly oauthCode: string | undefined,
    /** The HTTP status of its answer; 0 when there was none. */
    readonly httpStatus: number,
    readonly description: string,
    options?: { cause?: unknown },
  ) {
    super(
      'B24GW_OAUTH_FAILED',
      `${oauthCode ?? (httpStatus ? `HTTP ${httpStatus}` : 'no answer')}: ${description}`,
      options,
    );
    this.name = 'OAuthError';
  }
}

/** Spends a refresh token (it works once) for a new pair. */
export async function exchangeRefreshToken(client: OAuthClient, refreshToken: string): Promise<ExchangedTokens> {
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: client.clientId,
    client_secret: client.clientSecret,
    refresh_token: refreshToken,
  });
  let res: Response;
  try {
    res = await (client.fetch ?? fetch)(`${client.server}/oauth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new OAuthError(undefined, 0, `authorization server unreachable (${(e as Error).message})`, { cause: e });
  }
  let body: Record<string, unknown>;
  try {
    const answer = await readCappedJson(res);
    body = typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>) : {};
  } catch (e) {
    throw new OAuthError(undefined, res.status, (e as Error).message, { cause: e });
  }
  if (!res.ok || typeof body.error === 'string') {
    const code = typeof body.error === 'string' ? body.error : undefined;
    throw new OAuthError(
      code,
      res.status,
      typeof body.error_description === 'string' ? body.error_description : 'token refresh refused',
    );
  }
  const { access_token, refresh_token, expires_in, expires } = body;
  if (typeof access_token !== 'string' || typeof refresh_token !== 'string' || !access_token || !refresh_token) {
    throw new OAuthError(undefined, res.status, 'token answer has no access_token/refresh_token');
  }
  const expiresAt = expiresAtOf(expires_in, expires, (client.now ?? Date.now)());
  const str = (v: unknown) => (typeof v === 'string' && v ? v : null);
  return {
    accessToken: access_token,
    refreshToken: refresh_token,
    expiresAt,
    memberId: str(body.member_id),
    clientEndpoint: str(body.client_endpoint),
    serverEndpoint: str(body.server_endpoint),
  };
}

/**
 * When an access token expires, in ms. `expires_in` (seconds from now) first: it holds whatever
 * the local clock says; `expires` (a Unix time by the portal's clock) is the fallback.
 */
export function expiresAtOf(expiresIn: unknown, expires: unknown, now: number): number | null {
  const ttl = Number(expiresIn);
  if (Number.isFinite(ttl) && ttl > 0) return now + ttl * 1000;
  const at = Number(expires);
  return Number.isFinite(at) && at > 0 ? at * 1000 : null;
}
