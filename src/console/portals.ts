import { planLimits, type Plan } from '../effects/bitrix/limiter.js';
import { eventSchemas } from '../events/registry.js';
import type { Store } from '../store/types.js';
import type { BotSeen, PortalView } from './views.js';

const botCodes = Object.keys(eventSchemas).filter((c) => c.startsWith('ONIMBOT'));
/** Events read per bot code and portal to find its bots: the latest say how each bot is set up now. */
const PER_CODE = 3;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The bots an event names: Chatbots 2.0's `data.bot`, or the v1 `data.BOT` map by id. */
function botsOf(event: unknown): { id: number; code: string | null; eventMode: string | null }[] {
  const data = isObj(event) && isObj(event.data) ? event.data : undefined;
  if (!data) return [];
  if (isObj(data.bot) && Number.isSafeInteger(Number(data.bot.id)))
    return [
      {
        id: Number(data.bot.id),
        code: typeof data.bot.code === 'string' ? data.bot.code : null,
        eventMode: typeof data.bot.eventMode === 'string' ? data.bot.eventMode : null,
      },
    ];
  if (isObj(data.BOT))
    return Object.entries(data.BOT).map(([id, b]) => ({
      id: Number(id),
      code: isObj(b) && typeof b.BOT_CODE === 'string' ? b.BOT_CODE : null,
      eventMode: null,
    }));
  return [];
}

async function botsSeen(store: Store, memberId: string): Promise<BotSeen[]> {
  const bots = new Map<number, BotSeen>();
  for (const code of botCodes) {
    const page = await store.browseEvents({ memberId, code, limit: PER_CODE });
    for (const summary of page.events) {
      const e = await store.getEvent(summary.id);
      for (const b of botsOf(e?.event)) {
        const known = bots.get(b.id);
        if (known && known.lastEventId > summary.id) continue;
        bots.set(b.id, {
          id: b.id,
          code: b.code ?? known?.code ?? null,
          eventMode: b.eventMode ?? (summary.delivery === 'fetch' ? 'fetch' : 'webhook'),
          lastEventAt: summary.receivedAt,
          lastEventId: summary.id,
        });
      }
    }
  }
  return [...bots.values()].sort((a, b) => a.id - b.id);
}

/** Every portal kept: its install, token expiry, REST budget, bots, last event and delivery problems. */
export async function portalViews(store: Store, plan: Plan, now: number): Promise<PortalView[]> {
  const limits = planLimits(plan);
  const [portals, activity] = await Promise.all([store.listPortals(), store.portalActivity()]);
  const views: PortalView[] = [];
  for (const p of portals) {
    const a = activity.find((x) => x.memberId === p.memberId);
    views.push({
      memberId: p.memberId,
      lastEventAt: a?.lastEventAt ?? null,
      dead: a?.dead ?? 0,
      retry: a?.retry ?? 0,
      deadStatuses: a?.deadStatuses ?? 0,
      deadCustomerActions: a?.deadCustomerActions ?? 0,
      domain: p.domain,
      status: p.status,
      scope: p.scope,
      installedAt: p.installedAt,
      uninstalledAt: p.uninstalledAt,
      hasApplicationToken: p.applicationToken !== null,
      hasOAuth: p.refreshToken !== null,
      tokenExpiresAt: p.expiresAt,
      rest: {
        level: Math.round((await store.rateLevel(p.memberId, limits, now)) * 10) / 10,
        burst: limits.burst,
        perSecond: limits.perSecond,
      },
      bots: await botsSeen(store, p.memberId),
    });
  }
  return views;
}
