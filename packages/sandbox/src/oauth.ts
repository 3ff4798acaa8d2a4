import type { Clock } from './clock.js';
import { hex } from './ids.js';
import type { Portal } from './portal.js';
import type { Recorder } from './recorder.js';

export interface AccessGrant {
  token: string;
  portal: Portal;
  userId: number;
  /** Sandbox clock, ms. */
  expiresAt: number;
}

interface RefreshGrant {
  token: string;
  portal: Portal;
  userId: number;
  expiresAt: number;
  used: boolean;
}

/** A fresh OAuth pair, in the field names events and the token endpoint use. */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  /** Unix seconds when access_token stops working. */
  expires: number;
  expires_in: number;
  user_id: number;
}

export interface Issued {
  pair: TokenPair;
  portal: Portal;
}

export type AccessCheck = { grant: AccessGrant } | { error: 'invalid_token' | 'expired_token' };

const REFRESH_TTL_S = 180 * 24 * 3600;
const CODE_TTL_S = 30;

/**
 * Every token the sandbox issued. Access tokens expire on the sandbox clock; refresh
 * tokens and authorization codes are single-use, as on oauth.bitrix.info.
 */
export class TokenStore {
  readonly #access = new Map<string, AccessGrant>();
  readonly #refresh = new Map<string, RefreshGrant>();
  readonly #codes = new Map<string, RefreshGrant>();

  constructor(
    private readonly clock: Clock,
    public ttlSeconds: number,
  ) {}

  issue(portal: Portal, userId = portal.adminUserId): TokenPair {
    const now = this.clock.now();
    const access: AccessGrant = { token: hex(), portal, userId, expiresAt: now + this.ttlSeconds * 1000 };
    const refresh: RefreshGrant = { token: hex(), portal, userId, expiresAt: now + REFRESH_TTL_S * 1000, used: false };
    this.#access.set(access.token, access);
    this.#refresh.set(refresh.token, refresh);
    return {
      access_token: access.token,
      refresh_token: refresh.token,
      expires: Math.floor(access.expiresAt / 1000),
      expires_in: this.ttlSeconds,
      user_id: userId,
    };
  }

  check(token: string): AccessCheck {
    const grant = this.#access.get(token);
    if (!grant) return { error: 'invalid_token' };
    if (this.clock.now() >= grant.expiresAt) return { error: 'expired_token' };
    return { grant };
  }

  /** Spends a refresh token; a second use, an unknown one or an expired one fails. */
  refresh(token: string): Issued | undefined {
    return this.#spend(this.#refresh, token);
  }

  /** An authorization code as step 1 of the full OAuth protocol would return it (30 s, single use). */
  issueCode(portal: Portal, userId = portal.adminUserId): string {
    const code = hex();
    this.#codes.set(code, {
      token: code,
      portal,
      userId,
      expiresAt: this.clock.now() + CODE_TTL_S * 1000,
      used: false,
    });
    return code;
  }

  exchangeCode(code: string): Issued | undefined {
    return this.#spend(this.#codes, code);
  }

  /** Makes every access token issued so far expired; with `refresh`, refresh tokens stop working too. */
  expireAll(opts: { refresh?: boolean; portal?: Portal } = {}): void {
    const now = this.clock.now();
    for (const g of this.#access.values())
      if (!opts.portal || g.portal === opts.portal) g.expiresAt = Math.min(g.expiresAt, now);
    if (opts.refresh)
      for (const g of this.#refresh.values()) if (!opts.portal || g.portal === opts.portal) g.used = true;
  }

  /** Forgets every token of a portal, as uninstalling the application does. */
  revokePortal(portal: Portal): void {
    for (const store of [this.#access, this.#refresh, this.#codes] as Map<string, { portal: Portal }>[]) {
      for (const [token, g] of store) if (g.portal === portal) store.delete(token);
    }
  }

  #spend(store: Map<string, RefreshGrant>, token: string): Issued | undefined {
    const grant = store.get(token);
    if (!grant || grant.used || this.clock.now() >= grant.expiresAt) return undefined;
    grant.used = true;
    return { pair: this.issue(grant.portal, grant.userId), portal: grant.portal };
  }
}

export interface OAuthContext {
  tokens: TokenStore;
  recorder: Recorder;
  clock: Clock;
  clientId: string;
  clientSecret: string;
  /** host:port of the authorization server, the `domain` of token answers. */
  authDomain: string;
}

export interface OAuthAnswer {
  status: number;
  body: Record<string, unknown>;
}

const oauthError = (status: number, error: string, description: string): OAuthAnswer => ({
  status,
  body: { error, error_description: description },
});

/** `/oauth/token/`: the authorization server's token endpoint (refresh_token and authorization_code grants). */
export function tokenEndpoint(params: Record<string, unknown>, ctx: OAuthContext): OAuthAnswer {
  const str = (k: string): string => (typeof params[k] === 'string' ? (params[k] as string) : '');
  const grantType = str('grant_type');
  const answer = exchange();
  ctx.recorder.add('token', {
    at: ctx.clock.now(),
    grantType,
    clientId: str('client_id'),
    ...(grantType === 'refresh_token' && str('refresh_token') ? { refreshToken: str('refresh_token') } : {}),
    ok: answer.status === 200,
    ...(answer.status === 200 ? { memberId: String(answer.body.member_id) } : { error: String(answer.body.error) }),
  });
  return answer;

  function exchange(): OAuthAnswer {
    if (!grantType) return oauthError(400, 'invalid_request', 'grant_type is required');
    if (!str('client_id') || !str('client_secret'))
      return oauthError(400, 'invalid_request', 'client_id and client_secret are required');
    if (str('client_id') !== ctx.clientId || str('client_secret') !== ctx.clientSecret) {
      return oauthError(401, 'invalid_client', 'Invalid client_id or client_secret');
    }
    let issued: Issued | undefined;
    if (grantType === 'refresh_token') {
      if (!str('refresh_token')) return oauthError(400, 'invalid_request', 'refresh_token is required');
      issued = ctx.tokens.refresh(str('refresh_token'));
      if (!issued) return oauthError(400, 'invalid_grant', 'Refresh token is invalid, expired or already used');
    } else if (grantType === 'authorization_code') {
      if (!str('code')) return oauthError(400, 'invalid_request', 'code is required');
      issued = ctx.tokens.exchangeCode(str('code'));
      if (!issued) return oauthError(400, 'invalid_grant', 'Authorization code is invalid, expired or already used');
    } else {
      return oauthError(400, 'invalid_request', `Unsupported grant_type "${grantType}"`);
    }
    const { pair, portal } = issued;
    return {
      status: 200,
      body: {
        access_token: pair.access_token,
        client_endpoint: portal.clientEndpoint,
        domain: ctx.authDomain,
        expires: pair.expires,
        expires_in: pair.expires_in,
        member_id: portal.memberId,
        refresh_token: pair.refresh_token,
        scope: portal.scope,
        server_endpoint: portal.serverEndpoint,
        status: portal.status,
        user_id: pair.user_id,
      },
    };
  }
}
