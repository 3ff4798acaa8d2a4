import type { SandboxCore } from '../core.js';
import type { Portal } from '../portal.js';

/**
 * The `auth` block shapes Bitrix24 sends, key order included:
 * - `user`: an action by a user – access token without refresh token (connector, open line, test events);
 * - `user+refresh`: the same plus refresh_token (chat-bot events);
 * - `robot`: caused by a robot, workflow or agent – no tokens at all;
 * - `install`: ONAPPINSTALL as documented (tokens, no expires or user_id);
 * - `uninstall`: ONAPPUNINSTALL – identity and application_token only.
 */
export type AuthStyle = 'user' | 'user+refresh' | 'robot' | 'install' | 'uninstall';

/** The auth style Bitrix24 uses for an event code when the action was a user's. */
export function defaultAuthStyle(code: string): AuthStyle {
  if (code === 'ONAPPINSTALL') return 'install';
  if (code === 'ONAPPUNINSTALL') return 'uninstall';
  if (code.startsWith('ONIMBOT')) return 'user+refresh';
  return 'user';
}

/** auth[scope] as the events carry it: the scope the event belongs to, not the app's whole list. */
export function defaultEventScope(code: string, portal: Portal): string {
  if (code.startsWith('ONIMCONNECTORDIALOG')) return 'imconnector';
  if (code.startsWith('ONIMCONNECTOR')) return 'imconnector, imopenlines';
  if (code.startsWith('ONOPENLINE') || code.startsWith('ONSESSION')) return 'imopenlines';
  if (code.startsWith('ONIMBOT')) return 'imbot';
  return portal.scope;
}

export interface AuthOptions {
  style: AuthStyle;
  scope: string;
  userId: number;
  /** Default: the portal's. */
  applicationToken?: string;
}

/** Builds an auth block, issuing fresh tokens the application can really use against the sandbox. */
export function eventAuth(
  core: SandboxCore,
  portal: Portal,
  { style, scope, userId, applicationToken = portal.applicationToken }: AuthOptions,
): Record<string, unknown> {
  const identity = {
    domain: portal.domain,
    server_endpoint: portal.serverEndpoint,
    status: portal.status,
    client_endpoint: portal.clientEndpoint,
    member_id: portal.memberId,
  };
  if (style === 'uninstall') {
    const { status: _status, ...rest } = identity;
    return { ...rest, application_token: applicationToken };
  }
  if (style === 'robot') return { scope, ...identity, application_token: applicationToken };
  const pair = core.tokens.issue(portal, userId);
  if (style === 'install') {
    return {
      domain: portal.domain,
      scope,
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      expires_in: pair.expires_in,
      server_endpoint: portal.serverEndpoint,
      status: portal.status,
      client_endpoint: portal.clientEndpoint,
      member_id: portal.memberId,
      application_token: applicationToken,
    };
  }
  return {
    access_token: pair.access_token,
    expires: pair.expires,
    expires_in: pair.expires_in,
    scope,
    ...identity,
    user_id: userId,
    ...(style === 'user+refresh' ? { refresh_token: pair.refresh_token } : {}),
    application_token: applicationToken,
  };
}

/** One bot's entry in data.BOT of ONIMBOT* events: its own tokens, then the same again under AUTH. */
export function botAuthEntry(
  core: SandboxCore,
  portal: Portal,
  bot: { id: number; code: string },
): Record<string, unknown> {
  const pair = core.tokens.issue(portal, bot.id);
  const auth = {
    access_token: pair.access_token,
    expires: pair.expires,
    expires_in: pair.expires_in,
    scope: 'imbot',
    domain: portal.domain,
    server_endpoint: portal.serverEndpoint,
    status: portal.status,
    client_endpoint: portal.clientEndpoint,
    member_id: portal.memberId,
    refresh_token: pair.refresh_token,
    user_id: bot.id,
    client_id: core.clientId,
    application_token: portal.applicationToken,
  };
  return { ...auth, AUTH: { ...auth }, BOT_ID: bot.id, BOT_CODE: bot.code };
}

/**
 * `data.bot.auth` of a Chatbots 2.0 webhook (events.md, "Bot Object Format"): the bot's own tokens
 * for call-backs, issued for the bot user, with the application_token its webhooks carry.
 */
export function botAuthV2(
  core: SandboxCore,
  portal: Portal,
  botId: number,
  applicationToken: string,
): Record<string, unknown> {
  const pair = core.tokens.issue(portal, botId);
  return {
    access_token: pair.access_token,
    expires: pair.expires,
    expires_in: pair.expires_in,
    scope: 'imbot',
    domain: portal.domain,
    server_endpoint: portal.serverEndpoint,
    status: portal.status,
    client_endpoint: portal.clientEndpoint,
    member_id: portal.memberId,
    refresh_token: pair.refresh_token,
    user_id: botId,
    application_token: applicationToken,
  };
}
