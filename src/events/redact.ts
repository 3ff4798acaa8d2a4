import { REDACTED, secretNames } from '../wire/redact.js';
import { isWireObject as isObj } from '../wire/types.js';

type Obj = Record<string, unknown>;

/** What a handler may need of an event's secrets: each addressed bot's AUTH, by bot id. */
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

/**
 * The event as it is kept, with no token in it (`auth`, and for bot events each `data.BOT[id]` and
 * its `AUTH`), and apart from it what the handlers answer a bot with: the bot's AUTH without the
 * application_token. The portal's own tokens live in its portal record. Copies only what changes.
 */
export function splitSecrets<E extends { auth?: unknown; data?: unknown }>(event: E): { event: E; secrets: EventSecrets | null } {
  const out: Obj = { ...event };
  if (isObj(event.auth)) out.auth = withoutSecrets(event.auth);
  const bots = isObj(event.data) ? event.data.BOT : undefined;
  if (!isObj(bots)) return { event: out as E, secrets: null };
  const copy: Obj = {};
  const auths: Record<string, Obj> = {};
  for (const [id, bot] of Object.entries(bots)) {
    if (!isObj(bot)) {
      copy[id] = bot;
      continue;
    }
    copy[id] = { ...withoutSecrets(bot), ...(isObj(bot.AUTH) ? { AUTH: withoutSecrets(bot.AUTH) } : {}) };
    if (isObj(bot.AUTH)) {
      const { application_token: _token, ...auth } = bot.AUTH;
      auths[id] = auth;
    }
  }
  out.data = { ...(event.data as Obj), BOT: copy };
  return { event: out as E, secrets: Object.keys(auths).length > 0 ? { bots: auths } : null };
}
