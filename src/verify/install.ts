import { GatewayError } from '../errors.js';
import type { EventAuth } from '../events/auth.js';
import type { Store } from '../store/types.js';
import { secretsEqual } from './compare.js';
import { domainAllowed, portalRestBase } from './domains.js';
import { exchangeRefreshToken, OAuthError, oauthServerFor, type ExchangedTokens } from './oauth.js';

export interface InstallCheckOptions {
  /** Domain patterns a portal may install from; `*` is one or more DNS labels. */
  allowDomains: readonly string[];
  /** When set, app.info must report this application code (for a local app, its client_id). */
  appCode?: string | undefined;
  /**
   * The application's OAuth client. With it, the install's refresh token is exchanged at the
   * authorization server, whose answer names the portal the tokens belong to: an install can
   * then only speak for its own member_id.
   */
  oauth?: { clientId: string; clientSecret: string; server?: string | undefined } | undefined;
  /** A token configured for this member_id (--app-token): without an OAuth client, the install must carry it. */
  configuredToken?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** What a confirmed install leaves: the fresh pair when its refresh token was spent on the check. */
export interface ConfirmedInstall {
  tokens?: ExchangedTokens;
}

/**
 * An install is trusted only when the portal itself confirms it: the access token from the
 * event must work for `app.info` on the portal's own domain. `app.info` does not say which
 * member_id the token belongs to, so the member_id is bound by the authorization server when
 * an OAuth client is configured; otherwise a known portal keeps its domain, and a portal known
 * by a configured token must present that token.
 */
export async function confirmInstall(auth: EventAuth, store: Store, options: InstallCheckOptions): Promise<ConfirmedInstall> {
  const { domain, member_id: memberId, access_token: accessToken } = auth;
  if (!domainAllowed(domain, options.allowDomains)) {
    throw new GatewayError('B24GW_DOMAIN_NOT_ALLOWED', `Install from "${domain}" refused: the domain is not on the allow-list (--allow-domain)`);
  }
  const known = await store.getPortal(memberId);
  if (known && known.domain.toLowerCase() !== domain.toLowerCase()) {
    throw new GatewayError(
      'B24GW_INSTALL_NOT_VERIFIED',
      `Install for portal ${memberId} came from "${domain}", but the portal is known at "${known.domain}"`,
    );
  }
  if (!accessToken) throw new GatewayError('B24GW_INSTALL_NOT_VERIFIED', 'Install carries no access_token to confirm it with');
  const info = await callAppInfo(portalRestBase(domain), accessToken, options);
  if (options.appCode !== undefined && info.CODE !== options.appCode) {
    throw new GatewayError('B24GW_INSTALL_NOT_VERIFIED', `Portal "${domain}" reports application "${String(info.CODE)}", not "${options.appCode}"`);
  }
  if (options.oauth && auth.refresh_token) return { tokens: await bindMember(auth, options.oauth, options.fetch) };
  if (options.configuredToken !== undefined && !secretsEqual(auth.application_token, options.configuredToken)) {
    throw new GatewayError('B24GW_INSTALL_NOT_VERIFIED', `Install for portal ${memberId} does not carry the application token configured for it`);
  }
  return {};
}

/** Spends the install's refresh token: the authorization server's answer says whose tokens they are. */
async function bindMember(auth: EventAuth, oauth: NonNullable<InstallCheckOptions['oauth']>, doFetch?: typeof fetch): Promise<ExchangedTokens> {
  const server = oauthServerFor({ domain: auth.domain, serverEndpoint: auth.server_endpoint ?? null }, oauth.server);
  let pair: ExchangedTokens;
  try {
    pair = await exchangeRefreshToken({ server, clientId: oauth.clientId, clientSecret: oauth.clientSecret, ...(doFetch ? { fetch: doFetch } : {}) }, auth.refresh_token!);
  } catch (e) {
    const why = e instanceof OAuthError ? `${e.code} (${e.description})` : (e as Error).message;
    throw new GatewayError('B24GW_INSTALL_NOT_VERIFIED', `The authorization server refused the install's refresh token: ${why}`);
  }
  const host = pair.clientEndpoint ? hostOf(pair.clientEndpoint) : undefined;
  if (pair.memberId !== auth.member_id || (host !== undefined && host !== auth.domain.toLowerCase())) {
    throw new GatewayError('B24GW_INSTALL_NOT_VERIFIED', `Install claims portal ${auth.member_id} at "${auth.domain}", but its tokens belong to another portal`);
  }
  return pair;
}

const hostOf = (url: string): string | undefined => {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
};

async function callAppInfo(base: string, accessToken: string, options: InstallCheckOptions): Promise<Record<string, unknown>> {
  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(`${base}app.info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ auth: accessToken }),
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    });
  } catch (e) {
    throw new GatewayError('B24GW_INSTALL_NOT_VERIFIED', `Could not reach ${base}app.info to confirm the install: ${(e as Error).message}`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const result = (body as { result?: unknown } | undefined)?.result;
  if (!res.ok || typeof result !== 'object' || result === null) {
    const err = (body as { error?: unknown } | undefined)?.error;
    throw new GatewayError(
      'B24GW_INSTALL_NOT_VERIFIED',
      `Portal refused app.info with the install's token (HTTP ${res.status}${typeof err === 'string' ? `, ${err}` : ''})`,
    );
  }
  return result as Record<string, unknown>;
}
