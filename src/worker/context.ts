import type { Logger } from '../log.js';
import type { EventSecrets } from '../events/redact.js';
import type { Delivery, PortalRecord } from '../store/types.js';

/** A bot's own credentials (`data.BOT[id]`, or Chatbots 2.0's `data.bot`): what a bot handler answers with. */
export interface BotAuth {
  id: number;
  code: string;
  auth: Record<string, unknown>;
}

/** What a handler gets beside the event. */
export interface HandlerContext {
  eventId: number;
  /** 1 on the first run, more on retries. */
  attempt: number;
  memberId: string;
  /** How the event arrived: posted (`webhook`), pulled with Event.get (`fetch`), or from the offline queue (`offline`). */
  delivery: Delivery;
  /** The installed portal, when the gateway has it. */
  portal: PortalRecord | undefined;
  /** A REST client for this portal: tokens refreshed, limits respected. */
  rest: RestClient;
  /** For bot events: each addressed bot's own auth (`data.BOT[id].AUTH`, or `data.bot.auth` in Chatbots 2.0); `bot` is the first. */
  bots: BotAuth[];
  bot: BotAuth | undefined;
  log: Logger;
  /**
   * Aborted when this attempt must stop: its time limit passed (`handlerTimeoutMs`), the worker is
   * stopping and its grace period ended, or its lease was lost to another worker. Pass it to
   * `fetch` and the like, or check `signal.aborted`. The attempt is then failed whatever the
   * handler returns, and the event stays held (its chat too) until the handler settles.
   */
  signal: AbortSignal;
}

export interface RestClient {
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
}

/**
 * Picks the addressed bots out of a bot event. The event is kept without tokens: each bot's AUTH
 * comes from the secrets kept apart from it (see splitSecrets), while the event is unfinished.
 */
export function botsOf(event: { data?: unknown }, secrets?: string | null): BotAuth[] {
  const data = event.data as
    { BOT?: Record<string, { BOT_ID?: number; BOT_CODE?: string }>; bot?: { id?: number; code?: string } } | undefined;
  const bots = data?.BOT;
  const v2 = data?.bot;
  if ((!bots || typeof bots !== 'object') && (!v2 || typeof v2 !== 'object')) return [];
  const auths = secrets ? ((JSON.parse(secrets) as EventSecrets).bots ?? {}) : {};
  // Chatbots 2.0: one bot, `{id, code}` (webhook) or the full bot object (Event.get, no auth).
  if (v2 && typeof v2 === 'object')
    return [{ id: Number(v2.id), code: v2.code ?? '', auth: auths[String(v2.id)] ?? {} }];
  return Object.entries(bots!).map(([id, b]) => ({
    id: b.BOT_ID ?? Number(id),
    code: b.BOT_CODE ?? '',
    auth: auths[id] ?? {},
  }));
}
