import { REDACTED, secretNames } from '../wire/redact.js';
import { isWireObject as isObj } from '../wire/types.js';

type Obj = Record<string, unknown>;

/** What a handler may need of an event's secrets: each addressed bot's auth (v1 `AUTH`, v2 `auth`), by bot id. */
export interface EventSecrets {
  bots: Record<string, Obj>;
}

/** A copy of `o` with every secret value replaced; the same object when it has none. */
const withoutSecrets = (o: Obj): Obj => {
  let out: Obj | undefined;
  for (const key of Object.keys(o)) {
    if (secretNames.has(key) && typeof o[key] === 'string') (out ??= { ...o })[key] = REDACTED;
  }
  return out ?? o;
};

/** A bot's auth as a handler answers with it: the portal's application_token is not the bot's to use. */
const botAuthOf = (auth: Obj): Obj => {
  const { application_token: _token, ...rest } = auth;
  return rest;
};

/**
 * The event as it is kept, with no token in it (`auth`; for bot events each `data.BOT[id]` and its
 * `AUTH`, or Chatbots 2.0's `data.bot.auth`), and apart from it what the handlers answer a bot with:
 * the bot's auth without the application_token. The portal's own tokens live in its portal record.
 * Copies only what changes.
 */
export function splitSecrets<E extends { auth?: unknown; data?: unknown }>(
  event: E,
): { event: E; secrets: EventSecrets | null } {
  const out: Obj = { ...event };
  if (isObj(event.auth)) out.auth = withoutSecrets(event.auth);
  const bots = isObj(event.data) ? event.data.BOT : undefined;
  const bot = isObj(event.data) ? event.data.bot : undefined;
  // Most events carry no bot: nothing more to copy.
  if (!isObj(bots) && !isObj(bot)) return { event: out as E, secrets: null };
  const auths: Record<string, Obj> = {};
  const data: Obj = { ...(event.data as Obj) };
  if (isObj(bots)) {
    const copy: Obj = {};
    for (const [id, entry] of Object.entries(bots)) {
      if (!isObj(entry)) {
        copy[id] = entry;
        continue;
      }
      copy[id] = { ...withoutSecrets(entry), ...(isObj(entry.AUTH) ? { AUTH: withoutSecrets(entry.AUTH) } : {}) };
      if (isObj(entry.AUTH)) auths[id] = botAuthOf(entry.AUTH);
    }
    data.BOT = copy;
  }
  // Chatbots 2.0 in webhook mode: one bot per delivery, `{id, code, auth}`.
  if (isObj(bot)) {
    data.bot = { ...withoutSecrets(bot), ...(isObj(bot.auth) ? { auth: withoutSecrets(bot.auth) } : {}) };
    if (isObj(bot.auth)) auths[String(bot.id)] = botAuthOf(bot.auth);
  }
  out.data = data;
  return { event: out as E, secrets: Object.keys(auths).length > 0 ? { bots: auths } : null };
}
