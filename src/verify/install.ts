import { GatewayError } from '../errors.js';
import type { EventAuth } from '../events/auth.js';
import type { PortalRecord } from '../store/types.js';
import { AnswerError, readCappedJson } from '../wire/capped.js';
import { secretsEqual } from './compare.js';
import { domainAllowed, hostOf, portalRestBase } from './domains.js';
import { exchangeRefreshToken, OAuthError, oauthServerFor, type ExchangedTokens } from './oauth.js';
import { Refusal } from './refuse.js';
import { digestOfStored } from './tokens.js';

/** Whether the portal still accepts the OAuth pair the gateway holds from its current install. */
export type InstallLiveness = 'alive' | 'gone' | 'unknown';

export interface InstallPolicy {
  /** Domain patterns a portal may install from; `*` is one DNS label. */
  allowDomains: readonly string[];
  /** When set, app.info must report this application code (for a local app, its client_id). */
  appCode?: string | undefined;
  /**
   * The application's OAuth client. The install's refresh token is exchanged at the authorization
   * server, whose answer names the portal (member_id and REST address) the tokens belong to.
   */
  oauth?: { clientId: string; clientSecret: string; server?: string | undefined } | undefined;
  /** The token configured for this member_id (--app-token): the install must carry it. */
  configuredToken?: string | undefined;
  /** Development only: accept a first install that nothing else proves (no OAuth client, no --app-token). */
  trustFirstInstall?: boolean | undefined;
  /** The installing user must be a portal administrator (user.admin), as Bitrix24 installs are. Default true. */
  requireAdmin?: boolean | undefined;
  /** Asks the portal whether the current install's credentials still work (see InstallLiveness). */
  installLiveness?: ((memberId: string) => Promise<InstallLiveness>) | undefined;
  timeoutMs?: number | undefined;
  fetch?: typeof fetch | undefined;
}

/** What a confirmed install leaves: the fresh pair when its refresh token was spent on the proof. */
export interface ConfirmedInstall {
  tokens?: ExchangedTokens;
}

/**
 * Decides whether an ONAPPINSTALL is Bitrix24's. The portal is proven by the authorization server
 * (the install's refresh token, exchanged with the application's client secret, comes back with
 * the portal's member_id and REST address), or by a token the operator configured; nothing the
 * event itself names is trusted. The installing user must be an administrator. A portal that is
 * installed keeps its application_token unless the portal no longer accepts its install's
 * credentials: a user who holds a pair of the application cannot replace the token.
 * docs/guides/security.md has the whole model.
 */
export async function confirmInstall(
  auth: EventAuth,
  known: PortalRecord | undefined,
  policy: InstallPolicy,
): Promise<ConfirmedInstall> {
  const { domain, member_id: memberId } = auth;
  const who = `Install of portal ${memberId} from "${domain.slice(0, 100)}"`;
  if (!domainAllowed(domain, policy.allowDomains))
    throw new Refusal('domain_not_allowed', `${who}: the domain is not on the allow-list (--allow-domain)`);
  const live = known && known.uninstalledAt === null && known.applicationToken ? known : undefined;
  const changesToken =
    live !== undefined && !secretsEqual(auth.application_token, digestOfStored(live.applicationToken!));
  const configured = policy.configuredToken;
  if (configured !== undefined && !secretsEqual(auth.application_token, configured)) {
    throw new Refusal('token_mismatch', `${who} does not carry the application token configured for it (--app-token)`);
  }
  let tokens: ExchangedTokens | undefined;
  if (policy.oauth) tokens = await proveWithAuthServer(auth, policy.oauth, who, policy.fetch);
  else if (configured === undefined) {
    if (!policy.trustFirstInstall) {
      throw new Refusal(
        'no_credentials',
        `${who}: nothing can prove it; configure the application's OAuth client (--client-id, --client-secret) or its token (--app-token)`,
      );
    }
    if (live)
      throw new Refusal(
        'reinstall_while_installed',
        `${who}: the portal is installed, and without an OAuth client a re-install cannot be proven`,
      );
  }
  // Only the authorization server's word moves a portal to another address.
  if (known && known.domain.toLowerCase() !== domain.toLowerCase() && !tokens) {
    throw new Refusal('domain_changed', `${who}: the portal is known at "${known.domain}"`);
  }
  const accessToken = tokens?.accessToken ?? auth.access_token;
  if (!accessToken) throw new Refusal('install_not_proven', `${who} carries no access_token`);
  const base = portalRestBase(domain);
  if (policy.requireAdmin !== false && (await callPortal(base, 'user.admin', accessToken, who, policy)) !== true) {
    throw new Refusal('not_admin', `${who}: the installing user is not an administrator of the portal (user.admin)`);
  }
  const info = await callPortal(base, 'app.info', accessToken, who, policy);
  const code = typeof info === 'object' && info !== null ? (info as { CODE?: unknown }).CODE : undefined;
  if (policy.appCode !== undefined && code !== policy.appCode) {
    throw new Refusal(
      'wrong_application',
      `${who}: the portal reports application "${String(code).slice(0, 100)}", not "${policy.appCode}"`,
    );
  }
  if (changesToken && configured === undefined) await requireGone(memberId, who, policy);
  return tokens ? { tokens } : {};
}

/**
 * A new application_token for an installed portal is taken only once the portal refuses the
 * credentials of the install it replaces: Bitrix24 revokes them when the application is removed,
 * and nobody but the gateway holds them.
 */
async function requireGone(memberId: string, who: string, policy: InstallPolicy): Promise<void> {
  const liveness = policy.installLiveness ? await policy.installLiveness(memberId) : 'unknown';
  if (liveness === 'alive') {
    throw new Refusal(
      'reinstall_while_installed',
      `${who} would replace the application token of an installed portal that still accepts its install's credentials; a genuine re-install follows an uninstall`,
    );
  }
  if (liveness === 'unknown') {
    throw new GatewayError('B24GW_VERIFY_UNAVAILABLE', undefined, {
      detail: `${who} changes the application token, and the portal could not be asked whether its current install is gone`,
    });
  }
}

/** Spends the install's refresh token: the authorization server's answer says whose tokens they are. */
async function proveWithAuthServer(
  auth: EventAuth,
  oauth: NonNullable<InstallPolicy['oauth']>,
  who: string,
  doFetch?: typeof fetch,
): Promise<ExchangedTokens> {
  if (!auth.refresh_token) throw new Refusal('install_not_proven', `${who} carries no refresh_token to prove it with`);
  const server = oauthServerFor({ domain: auth.domain, serverEndpoint: auth.server_endpoint ?? null }, oauth.server);
  let pair: ExchangedTokens;
  try {
    pair = await exchangeRefreshToken(
      { server, clientId: oauth.clientId, clientSecret: oauth.clientSecret, ...(doFetch ? { fetch: doFetch } : {}) },
      auth.refresh_token,
    );
  } catch (e) {
    const why = e instanceof OAuthError ? `${e.oauthCode ?? 'no answer'} (${e.description})` : (e as Error).message;
    if (e instanceof OAuthError && (e.httpStatus === 0 || e.httpStatus >= 500)) {
      throw new GatewayError('B24GW_VERIFY_UNAVAILABLE', undefined, {
        detail: `${who}: the authorization server could not be asked: ${why}`,
      });
    }
    throw new Refusal('install_not_proven', `${who}: the authorization server refused its refresh token: ${why}`);
  }
  const host = pair.clientEndpoint ? hostOf(pair.clientEndpoint) : undefined;
  if (pair.memberId !== auth.member_id || host !== auth.domain.toLowerCase()) {
    throw new Refusal(
      'install_not_proven',
      `${who}: its tokens belong to portal ${String(pair.memberId)} at "${String(host)}"`,
    );
  }
  return pair;
}

/** One REST call with the install's token, answer read with a size cap; the `result`, or a refusal. */
async function callPortal(
  base: string,
  method: string,
  accessToken: string,
  who: string,
  policy: InstallPolicy,
): Promise<unknown> {
  let res: Response;
  try {
    res = await (policy.fetch ?? fetch)(`${base}${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ auth: accessToken }),
      redirect: 'error',
      signal: AbortSignal.timeout(policy.timeoutMs ?? 5_000),
    });
  } catch (e) {
    throw new GatewayError('B24GW_VERIFY_UNAVAILABLE', undefined, {
      detail: `${who}: ${base}${method} could not be reached: ${(e as Error).message}`,
    });
  }
  let body: unknown;
  try {
    body = await readCappedJson(res);
  } catch (e) {
    if (!(e instanceof AnswerError)) throw e;
    throw new Refusal('install_not_proven', `${who}: ${method} answered with ${e.message}`);
  }
  const answer = (typeof body === 'object' && body !== null ? body : {}) as { result?: unknown; error?: unknown };
  if (res.status >= 500)
    throw new GatewayError('B24GW_VERIFY_UNAVAILABLE', undefined, {
      detail: `${who}: ${method} answered HTTP ${res.status}`,
    });
  if (!res.ok || !('result' in answer)) {
    const err = typeof answer.error === 'string' ? `, ${answer.error.slice(0, 100)}` : '';
    throw new Refusal(
      'install_not_proven',
      `${who}: the portal refused ${method} with the install's token (HTTP ${res.status}${err})`,
    );
  }
  return answer.result;
}
