import type { Logger } from 'pino';
import type { PortalRecord, Store } from '../../store/types.js';
import { BitrixApiError, scrub } from './errors.js';

export const DEFAULT_OAUTH_SERVER = 'https://oauth.bitrix.info';
/** Refresh a little before the stored expiry so a call does not leave with a token that dies on the way. */
export const EXPIRY_SKEW_MS = 60_000;

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

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Unix ms; null when the store never learned it (then only an expired_token answer refreshes). */
  expiresAt: number | null;
}

export interface PortalAuthOptions {
  memberId: string;
  store: Store;
  oauthServer: string;
  clientId?: string;
  clientSecret?: string;
  fetch: typeof fetch;
  now: () => number;
  logger: Logger;
}

/**
 * One portal's OAuth pair. Refreshes are single-flight: a refresh token works once, so a
 * second concurrent refresh would fail and could lose the portal until it is reinstalled.
 */
export class PortalAuth {
  #tokens: Tokens;
  #inflight: Promise<Tokens> | undefined;
  /** A refreshed pair the store refused: it is the only valid pair, so it is kept and saved first. */
  #unsaved: (Tokens & { clientEndpoint: string | null; serverEndpoint: string | null }) | undefined;
  /** Every token this portal used, so error texts can be scrubbed of old ones too. */
  readonly #seen = new Set<string>();

  constructor(
    private readonly o: PortalAuthOptions,
    initial: Tokens,
  ) {
    this.#tokens = initial;
    this.#remember(initial);
  }

  get accessToken(): string {
    return this.#tokens.accessToken;
  }

  expired(): boolean {
    return this.#tokens.expiresAt !== null && this.o.now() >= this.#tokens.expiresAt - EXPIRY_SKEW_MS;
  }

  secrets(): Iterable<string> {
    return [...this.#seen, this.o.clientSecret ?? ''];
  }

  /**
   * A fresh pair. `failedToken` is the access token an expired_token/invalid_token answer was
   * for: when the pair has changed since, that answer is late and the current pair is returned.
   */
  refresh(failedToken?: string): Promise<Tokens> {
    if (this.#inflight) return this.#inflight;
    const stillGood = failedToken !== undefined ? failedToken !== this.#tokens.accessToken : !this.expired();
    if (stillGood && !this.#unsaved) {
      return Promise.resolve(this.#tokens);
    }
    const p = this.#refresh(failedToken ?? this.#tokens.accessToken);
    this.#inflight = p;
    // Cleared only after settling, so every caller that arrives meanwhile shares this one.
    p.finally(() => (this.#inflight = undefined)).catch(() => undefined);
    return p;
  }

  /** Under the portal's lock where the store has one, so two instances never spend one refresh token twice. */
  #refresh(failed: string): Promise<Tokens> {
    const lock = this.o.store.withPortalLock?.bind(this.o.store);
    return lock ? lock(this.o.memberId, () => this.#refreshLocked(failed)) : this.#refreshLocked(failed);
  }

  async #refreshLocked(failed: string): Promise<Tokens> {
    if (this.#unsaved) return this.#save(this.#unsaved);
    // Another gateway instance (same store) may have refreshed already, or the app was reinstalled.
    const stored = await this.o.store.getPortal(this.o.memberId);
    if (stored?.accessToken && stored.refreshToken && stored.refreshToken !== this.#tokens.refreshToken && stored.accessToken !== failed) {
      const adopted: Tokens = { accessToken: stored.accessToken, refreshToken: stored.refreshToken, expiresAt: stored.expiresAt };
      if (adopted.expiresAt === null || this.o.now() < adopted.expiresAt - EXPIRY_SKEW_MS) {
        this.#remember(adopted);
        this.#tokens = adopted;
        return adopted;
      }
      this.#tokens = adopted; // its refresh token is the live one
    }
    return this.#save(await this.#exchange());
  }

  async #exchange(): Promise<Tokens & { clientEndpoint: string | null; serverEndpoint: string | null }> {
    const { clientId, clientSecret, memberId } = this.o;
    if (!clientId || !clientSecret) {
      throw this.#error('NO_CLIENT_CREDENTIALS', 0, 'clientId and clientSecret are needed to refresh the OAuth token');
    }
    const form = new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, client_secret: clientSecret, refresh_token: this.#tokens.refreshToken });
    let res: Response;
    try {
      res = await this.o.fetch(`${this.o.oauthServer}/oauth/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw this.#error('NETWORK_ERROR', 0, `authorization server unreachable (${(e as Error).message})`);
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok || typeof body.error === 'string') {
      const code = typeof body.error === 'string' ? body.error : `HTTP_${res.status}`;
      throw this.#error(code, res.status, typeof body.error_description === 'string' ? body.error_description : 'token refresh refused');
    }
    const { access_token, refresh_token, expires_in, expires, member_id } = body;
    if (typeof access_token !== 'string' || typeof refresh_token !== 'string' || !access_token || !refresh_token) {
      throw this.#error('ERROR_UNEXPECTED_ANSWER', res.status, 'token answer has no access_token/refresh_token');
    }
    if (typeof member_id === 'string' && member_id !== memberId) {
      throw this.#error('MEMBER_ID_MISMATCH', res.status, `token answer is for another portal (${member_id})`);
    }
    // expires_in is relative, so a skewed local clock does not matter; `expires` is the fallback.
    const ttl = Number(expires_in);
    const expiresAt = Number.isFinite(ttl) && ttl > 0 ? this.o.now() + ttl * 1000 : Number.isFinite(Number(expires)) ? Number(expires) * 1000 : null;
    const str = (v: unknown) => (typeof v === 'string' && v ? v : null);
    return { accessToken: access_token, refreshToken: refresh_token, expiresAt, clientEndpoint: str(body.client_endpoint), serverEndpoint: str(body.server_endpoint) };
  }

  /** Stores the pair, and only then lets calls use it. */
  async #save(pair: Tokens & { clientEndpoint: string | null; serverEndpoint: string | null }): Promise<Tokens> {
    this.#remember(pair);
    this.#unsaved = pair;
    try {
      await this.o.store.savePortalTokens(this.o.memberId, {
        accessToken: pair.accessToken,
        refreshToken: pair.refreshToken,
        expiresAt: pair.expiresAt ?? this.o.now() + 3600_000,
        clientEndpoint: pair.clientEndpoint,
        serverEndpoint: pair.serverEndpoint,
      });
    } catch (e) {
      throw this.#error('TOKEN_SAVE_FAILED', 0, `refreshed OAuth pair could not be stored (${scrub(String((e as Error)?.message ?? e), this.secrets())})`);
    }
    this.#unsaved = undefined;
    this.#tokens = { accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresAt: pair.expiresAt };
    this.o.logger.info({ memberId: this.o.memberId, expiresAt: pair.expiresAt }, 'bitrix24 oauth token refreshed');
    return this.#tokens;
  }

  #remember(t: Tokens): void {
    this.#seen.add(t.accessToken);
    this.#seen.add(t.refreshToken);
  }

  #error(code: string, status: number, description: string): BitrixApiError {
    return new BitrixApiError({ method: 'oauth/token', memberId: this.o.memberId, code, status, description: scrub(description, this.secrets()) });
  }
}
