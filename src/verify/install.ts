import { GatewayError } from '../errors.js';
import type { EventAuth } from '../events/auth.js';
import type { Store } from '../store/types.js';
import { domainAllowed, portalRestBase } from './domains.js';

export interface InstallCheckOptions {
  /** Domain patterns a portal may install from; `*` is one or more DNS labels. */
  allowDomains: readonly string[];
  /** When set, app.info must report this application code (for a local app, its client_id). */
  appCode?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * An install is trusted only when the portal itself confirms it: the access token from the
 * event must work for `app.info` on the portal's own domain. A portal already known keeps
 * its domain, so nobody can take over a member_id by installing from elsewhere.
 */
export async function confirmInstall(auth: EventAuth, store: Store, options: InstallCheckOptions): Promise<void> {
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
}

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
