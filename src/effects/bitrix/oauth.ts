import { errorCodes, type ErrorCode } from '../../errors.js';
import type { Logger } from 'pino';
import type { Store } from '../../store/types.js';
import { exchangeRefreshToken, OAuthError, type ExchangedTokens } from '../../verify/oauth.js';
import { BitrixApiError, scrub } from './errors.js';

/** Refresh a little before the stored expiry so a call does not leave with a token that dies on the way. */
export const EXPIRY_SKEW_MS = 60_000;

export { DEFAULT_OAUTH_SERVER, oauthServerFor } from '../../verify/oauth.js';

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

  /** Under the portal's lock, so two instances never spend one refresh token twice. */
  #refresh(failed: string): Promise<Tokens> {
    return this.o.store.withPortalLock(this.o.memberId, () => this.#refreshLocked(failed));
  }

  async #refreshLocked(failed: string): Promise<Tokens> {
    if (this.#unsaved) return this.#save(this.#unsaved);
    // Another gateway instance (same store) may have refreshed already, or the app was reinstalled.
    const stored = await this.o.store.getPortal(this.o.memberId);
    if (
      stored?.accessToken &&
      stored.refreshToken &&
      stored.refreshToken !== this.#tokens.refreshToken &&
      stored.accessToken !== failed
    ) {
      const adopted: Tokens = {
        accessToken: stored.accessToken,
        refreshToken: stored.refreshToken,
        expiresAt: stored.expiresAt,
      };
      if (adopted.expiresAt === null || this.o.now() < adopted.expiresAt - EXPIRY_SKEW_MS) {
        this.#remember(adopted);
        this.#tokens = adopted;
        return adopted;
      }
      this.#tokens = adopted; // its refresh token is the live one
    }
    return this.#save(await this.#exchange());
  }

  async #exchange(): Promise<ExchangedTokens> {
    const { clientId, clientSecret, memberId } = this.o;
    if (!clientId || !clientSecret) {
      throw this.#error('B24GW_NO_OAUTH_CLIENT', 0, 'clientId and clientSecret are needed to refresh the OAuth token');
    }
    let pair: ExchangedTokens;
    try {
      pair = await exchangeRefreshToken(
        { server: this.o.oauthServer, clientId, clientSecret, fetch: this.o.fetch, now: this.o.now },
        this.#tokens.refreshToken,
      );
    } catch (e) {
      if (e instanceof OAuthError) throw this.#error(e.oauthCode, e.httpStatus, e.description, e);
      throw e;
    }
    if (pair.memberId !== null && pair.memberId !== memberId) {
      throw this.#error('B24GW_OAUTH_FAILED', 200, `token answer is for another portal (${pair.memberId})`);
    }
    return pair;
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
      throw this.#error(
        'B24GW_STORE_FAILED',
        0,
        `refreshed OAuth pair could not be stored (${scrub(String((e as Error)?.message ?? e), this.secrets())})`,
      );
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

  /** Bitrix24's (the authorization server's) code when it gave one, else the gateway's. */
  #error(code: string | undefined, httpStatus: number, description: string, cause?: unknown): BitrixApiError {
    const ours = code !== undefined && Object.hasOwn(errorCodes, code);
    return new BitrixApiError(
      {
        method: 'oauth/token',
        memberId: this.o.memberId,
        ...(ours
          ? { code: code as ErrorCode }
          : code === undefined
            ? { code: 'B24GW_OAUTH_FAILED' }
            : { bitrixCode: code }),
        httpStatus,
        description: scrub(description, this.secrets()),
      },
      { cause },
    );
  }
}
