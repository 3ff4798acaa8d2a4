import { REDACTED } from '../wire/redact.js';
import { isWireObject as isObj } from '../wire/types.js';

type Obj = Record<string, unknown>;
const withoutToken = (o: Obj): Obj => ('application_token' in o ? { ...o, application_token: REDACTED } : o);

/**
 * The event as it is kept: every application_token replaced, since the portal's copy is in
 * the portal record. It sits in `auth` and, for bot events, in each `data.BOT[id]` and its
 * `AUTH`; the other tokens stay, since a handler answers a bot with them. Copies only what changes.
 */
export function withoutAppTokens<E extends { auth?: unknown; data?: unknown }>(event: E): E {
  const out: Obj = { ...event };
  if (isObj(event.auth)) out.auth = withoutToken(event.auth);
  const bots = isObj(event.data) ? event.data.BOT : undefined;
  if (isObj(bots)) {
    const copy: Obj = {};
    for (const [id, bot] of Object.entries(bots)) {
      copy[id] = isObj(bot) ? { ...withoutToken(bot), ...(isObj(bot.AUTH) ? { AUTH: withoutToken(bot.AUTH) } : {}) } : bot;
    }
    out.data = { ...(event.data as Obj), BOT: copy };
  }
  return out as E;
}
