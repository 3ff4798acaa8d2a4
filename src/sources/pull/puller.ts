import { randomBytes } from 'node:crypto';
import { withDefaults } from '../../defaults.js';
import type { BitrixClients } from '../../effects/bitrix/client.js';
import { BitrixApiError } from '../../effects/bitrix/errors.js';
import { isWebhookMember, type WebhookBot } from '../../effects/bitrix/webhook.js';
import { silentLogger, type Logger } from '../../log.js';
import { QueueLoop, type Lease } from '../../queue/loop.js';
import { failedOutcome, retryBudget } from '../../queue/schedule.js';
import type { NewEvent, PullCursor, PullKind, PullTarget, Store } from '../../store/types.js';
import { fetchedRecord, offlineRecord, type OfflineRecord } from './records.js';

/** What `serve --pull` (or the Gateway's `pull` option) pulls, and how fast. */
export interface PullOptions {
  /** Chatbots 2.0 bots registered by the application with `eventMode: "fetch"`: imbot.v2.Event.get. Default true. */
  fetch?: boolean;
  /** The authorized user's `im.v2` events (im.v2.Event.subscribe first), with im.v2.Event.get. Default false. */
  userEvents?: boolean;
  /** The offline queue of portals with offline bindings for the application: event.offline.get. Default true. */
  offline?: boolean;
  /** The `auth_connector` the offline bindings were made with, if any. */
  authConnector?: string;
  /**
   * Bots of local integrations, reached through a portal's incoming webhook with their botToken
   * (no installed application): each is pulled with imbot.v2.Event.get through its webhook, its
   * events kept under the member id `hook:<host>:<user id>`. Pulled whatever `fetch` says.
   */
  webhooks?: readonly WebhookBot[];
  /** Events asked for in one pull (Event.get takes 1–1000). Default 100. */
  limit?: number;
  /** How long a cursor rests after a pull that found less than a page. Default 5 s. */
  idleMs?: number;
  /** The least time between two Event.get calls of one bot while events come (the docs: every 2 s at most). Default 2 s. */
  fetchGapMs?: number;
  /** How often each installed portal's bots and bindings are looked up again. Default 1 min. */
  discoverMs?: number;
  /** Delays before each retry of a failed pull; once spent, the cursor is parked. Default about a day in all. */
  schedule?: readonly number[];
  /** Pulls run at once (across portals). Default 4. */
  concurrency?: number;
  /** How long a claimed cursor stays held without a renewal (renewed every third of it): another instance takes a dead one's over after it. Default 10 s. */
  leaseMs?: number;
  /** How often due cursors are looked for. Default 500 ms. */
  pollMs?: number;
}

export interface PullerOptions extends PullOptions {
  store: Store;
  clients: BitrixClients;
  owner: string;
  logger?: Logger;
  now?: () => number;
  /** Called after each pull that got events: how many were new (the worker has work) and how many were stored before. */
  onStored?: (count: number, delivery: 'fetch' | 'offline', duplicates: number) => void;
}

/** Retries of a failed pull: quick at first, then hourly; about a day before the cursor is parked. */
export const pullSchedule: readonly number[] = [
  1e3,
  5e3,
  15e3,
  30e3,
  60e3,
  120e3,
  300e3,
  600e3,
  900e3,
  1_800e3,
  ...Array<number>(22).fill(3_600e3),
];

/** An Event.get answer. */
interface EventPage {
  events?: unknown[];
  nextOffset?: number;
  hasMore?: boolean;
}

/** The answer of event.offline.get. */
interface OfflinePage {
  process_id?: string | null;
  events?: OfflineRecord[];
}

/** How soon an offline queue is looked at again after a pull that found some records. */
const SOON_MS = 1_000;

/** A process_id of our own: every package is reserved under it, so none is ever reserved under an id nobody kept. */
const newProcessId = (): string => randomBytes(16).toString('hex');

/**
 * Pulls what Bitrix24 keeps for the application instead of posting it: Chatbots 2.0 bots in fetch
 * mode (imbot.v2.Event.get, confirmed by the next call's `offset`) and offline events
 * (event.offline.get with `clear=0` under a process_id, then event.offline.clear). An instance of
 * the queue loop whose unit is one pull of one cursor (see src/queue/README.md): the events and
 * the cursor's new position are committed together, before anything is confirmed to Bitrix24.
 */
export class Puller {
  private readonly loop: QueueLoop<PullCursor>;
  private readonly o: Required<Omit<PullerOptions, 'authConnector' | 'onStored' | 'webhooks'>> &
    Pick<PullerOptions, 'authConnector' | 'onStored'>;
  /** The webhook bots' cursors (their secrets stay with the REST clients). */
  private readonly hookTargets: PullTarget[];
  /** Looks under way: every portal's (key ''), or one portal's (its member_id). */
  private readonly discovering = new Map<string, Promise<void>>();
  private discoverTimer: NodeJS.Timeout | undefined;

  constructor({ webhooks = [], ...options }: PullerOptions) {
    this.hookTargets = webhooks.map((b): PullTarget => ({
      memberId: options.clients.addWebhookBot(b),
      kind: 'bot',
      target: String(b.botId),
    }));
    const o = (this.o = withDefaults(
      {
        fetch: true,
        userEvents: false,
        offline: true,
        limit: 100,
        idleMs: 5_000,
        fetchGapMs: 2_000,
        discoverMs: 60_000,
        schedule: pullSchedule,
        concurrency: 4,
        leaseMs: 10_000,
        pollMs: 500,
        logger: silentLogger,
        now: Date.now,
      },
      options,
    ));
    const budget = retryBudget(o.schedule);
    this.loop = new QueueLoop<PullCursor>({
      claim: (limit, now) => o.store.claimPullCursors(o.owner, now, o.leaseMs, limit, budget),
      run: (cursor, lease) => this.pull(cursor, lease),
      // A pull waits for the portal's REST bucket, shared with everything else: it may outlast a lease.
      renew: async (cursors, until) => {
        const held = new Set(
          await o.store.renewPullCursors(
            cursors.map((c) => c.id),
            o.owner,
            until,
          ),
        );
        return cursors.filter((c) => held.has(c.id));
      },
      describe: (c) => `pull ${c.kind}${c.target ? ` ${c.target}` : ''} of ${c.memberId}`,
      logFields: (c) => ({ cursor: c.id, member: c.memberId, kind: c.kind, target: c.target }),
      words: { owner: 'puller', runner: 'REST calls' },
      concurrency: o.concurrency,
      leaseMs: o.leaseMs,
      pollMs: o.pollMs,
      logger: o.logger,
      now: o.now,
    });
  }

  start(): void {
    this.loop.start();
    void this.discover();
    this.discoverTimer = setInterval(() => void this.discover(), this.o.discoverMs);
    this.discoverTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.discoverTimer);
    await Promise.all(this.discovering.values());
    await this.loop.stop();
  }

  /** Pulls everything due now, until nothing is. For tests and scripts. */
  drain(): Promise<void> {
    return this.loop.drain();
  }

  /** Something waits in a portal's queues (ONOFFLINEEVENT, a bot registered): its cursors are due now. */
  async wake(memberId: string, kind?: PullKind): Promise<void> {
    // A look at the portal begun before the news may have found no binding yet: it ends first.
    await Promise.all([this.discovering.get(''), this.discovering.get(memberId)]);
    const now = this.o.now();
    if (kind === 'offline' && this.o.offline)
      await this.o.store.keepPullCursors([this.offlineTarget(memberId)], now, newProcessId);
    await this.o.store.wakePullCursors(memberId, kind, now);
    this.loop.wake();
  }

  /**
   * Finds what to pull on every installed portal (or one): its fetch-mode bots (imbot.v2.Bot.list)
   * and whether it has offline bindings (event.get), in one `batch` each; keeps a cursor for each
   * and retires those of bots that are gone. A portal that cannot be asked now keeps its cursors.
   */
  discover(memberId?: string): Promise<void> {
    const key = memberId ?? '';
    let run = this.discovering.get(key);
    if (!run) {
      run = this.discoverAll(memberId).finally(() => this.discovering.delete(key));
      this.discovering.set(key, run);
    }
    return run;
  }

  private async discoverAll(only: string | undefined): Promise<void> {
    try {
      await this.keepWebhookBots(only);
    } catch (err) {
      this.o.logger.warn({ err }, 'could not keep the cursors of the webhook bots');
    }
    let portals;
    try {
      portals = await this.o.store.listPortals();
    } catch (err) {
      this.o.logger.warn({ err }, 'could not list portals to pull from');
      return;
    }
    const now = this.o.now();
    for (const p of portals) {
      if (only !== undefined && p.memberId !== only) continue;
      if (p.uninstalledAt !== null || !p.accessToken) {
        for (const kind of ['bot', 'user', 'offline'] as const)
          await this.o.store.retirePullCursors(p.memberId, kind, [], now).catch(() => 0);
        continue;
      }
      try {
        await this.discoverPortal(p.memberId, now);
      } catch (err) {
        this.o.logger.warn({ err, member: p.memberId }, 'could not look up what to pull from the portal');
      }
    }
    this.loop.wake();
  }

  /**
   * The configured webhook bots are pulled, and a bot no longer configured for a webhook that is
   * retired. A webhook this instance has no configuration for is left to the instances that do.
   */
  private async keepWebhookBots(only: string | undefined): Promise<void> {
    const now = this.o.now();
    const mine = this.hookTargets.filter((t) => only === undefined || t.memberId === only);
    if ((await this.o.store.keepPullCursors(mine, now)) > 0)
      this.o.logger.info({ members: [...new Set(mine.map((t) => t.memberId))] }, 'pulling webhook bots');
    for (const m of new Set(mine.map((t) => t.memberId))) {
      const keep = mine.filter((t) => t.memberId === m).map((t) => t.target);
      await this.o.store.retirePullCursors(m, 'bot', keep, now);
    }
  }

  private async discoverPortal(memberId: string, now: number): Promise<void> {
    const client = this.o.clients.forPortal(memberId);
    const calls = [
      ...(this.o.offline ? [{ method: 'event.get' }] : []),
      ...(this.o.fetch ? [{ method: 'imbot.v2.Bot.list', params: { limit: 50 } }] : []),
    ];
    if (calls.length > 0) {
      const { items } = await client.batch(calls);
      let i = 0;
      if (this.o.offline) {
        const item = items[i++]!;
        if (item.ok) {
          const bound = (item.result as { offline?: unknown }[]).some((h) => Number(h.offline) === 1);
          // Due now as well: whatever arrived while nobody looked (the gateway was down) is taken at once.
          if (bound) {
            await this.o.store.keepPullCursors([this.offlineTarget(memberId)], now, newProcessId);
            await this.o.store.wakePullCursors(memberId, 'offline', now);
          } else await this.o.store.retirePullCursors(memberId, 'offline', [], now);
        } else this.lookupFailed(memberId, 'event.get', item.error);
      }
      if (this.o.fetch) {
        const item = items[i++]!;
        if (item.ok) {
          const ids = await this.fetchBots(client, item.result as BotList);
          const targets = ids.map((id): PullTarget => ({ memberId, kind: 'bot', target: id }));
          const added = await this.o.store.keepPullCursors(targets, now);
          await this.o.store.retirePullCursors(memberId, 'bot', ids, now);
          if (added > 0) this.o.logger.info({ member: memberId, bots: ids }, 'pulling fetch-mode bots');
        } else this.lookupFailed(memberId, 'imbot.v2.Bot.list', item.error);
      }
    }
    if (this.o.userEvents) await this.o.store.keepPullCursors([{ memberId, kind: 'user', target: '' }], now);
  }

  /** An application without the scope (a connector without `imbot`) is told at debug level, not warned every minute. */
  private lookupFailed(memberId: string, method: string, err: BitrixApiError): void {
    const expected = ['insufficient_scope', 'ACCESS_DENIED', 'ERROR_METHOD_NOT_FOUND', 'SCOPE_ERROR'].includes(
      err.code,
    );
    const line = { err, member: memberId, method };
    if (expected) this.o.logger.debug(line, `${method} is not allowed to the application: not looked up`);
    else this.o.logger.warn(line, `${method} failed: not looked up now`);
  }

  /** The fetch-mode bots of Bot.list, every page. */
  private async fetchBots(client: ReturnType<BitrixClients['forPortal']>, first: BotList): Promise<string[]> {
    const ids: string[] = [];
    let page = first;
    for (let offset = 0; ;) {
      for (const b of page.bots ?? []) if (b.eventMode === 'fetch') ids.push(String(b.id));
      if (!page.hasNextPage || (page.bots ?? []).length === 0) return ids;
      offset += (page.bots ?? []).length;
      page = await client.call<BotList>('imbot.v2.Bot.list', { limit: 50, offset });
    }
  }

  private offlineTarget(memberId: string): PullTarget {
    return { memberId, kind: 'offline', target: this.o.authConnector ?? '' };
  }

  private async pull(cursor: PullCursor, lease: Lease): Promise<void> {
    try {
      await (cursor.kind === 'offline' ? this.pullOffline(cursor, lease) : this.fetch(cursor, lease));
    } catch (e) {
      if (lease.lost) return;
      lease.finishing();
      const now = this.o.now();
      const outcome = failedOutcome(e, cursor.attempts, now, this.o.schedule);
      const fields = { cursor: cursor.id, member: cursor.memberId, kind: cursor.kind, target: cursor.target, err: e };
      if (outcome.retryAt === null) this.o.logger.error(fields, 'pull failed and its retries are spent: parked');
      else this.o.logger.warn({ ...fields, retryAt: new Date(outcome.retryAt).toISOString() }, 'pull failed');
      await this.o.store.finishPullCursor(cursor.id, this.o.owner, outcome, now);
      // A bot that is gone is retired by the next look at the portal.
      if (e instanceof BitrixApiError && e.bitrixCode === 'BOT_NOT_FOUND') void this.discover(cursor.memberId);
    }
  }

  private async domainOf(memberId: string): Promise<string> {
    if (isWebhookMember(memberId)) return memberId.slice('hook:'.length, memberId.lastIndexOf(':')); // its host
    return (await this.o.store.getPortal(memberId))?.domain ?? '';
  }

  /** One Event.get: its events committed with the offset that confirms them, sent by the next call. */
  private async fetch(cursor: PullCursor, lease: Lease): Promise<number> {
    const client = this.o.clients.forPortal(cursor.memberId);
    const startedAt = this.o.now();
    const params: Record<string, unknown> = { limit: this.o.limit };
    if (cursor.kind === 'bot') params.botId = Number(cursor.target);
    if (cursor.position !== null) params.offset = Number(cursor.position);
    const page = await client.call<EventPage>(cursor.kind === 'bot' ? 'imbot.v2.Event.get' : 'im.v2.Event.get', params);
    if (lease.lost) return 0;
    const now = this.o.now();
    const domain = await this.domainOf(cursor.memberId);
    const items = page.events ?? [];
    const events = items.map((item) => fetchedRecord(item, cursor, domain, now));
    // While events come, the next look is soon (no sooner than the gap); an empty page rests.
    const dueAt = items.length > 0 ? startedAt + this.o.fetchGapMs : now + this.o.idleMs;
    const position = page.nextOffset === undefined ? cursor.position : String(page.nextOffset);
    lease.finishing();
    return this.commit(cursor, events, 'fetch', { position, dueAt, since: cursor.dueAt }, now);
  }

  /**
   * One package of the offline queue: reserved under the cursor's process_id (what an earlier run
   * reserved and did not clear comes again), committed, then the invalid records marked with
   * event.offline.error and the rest cleared by their ids.
   */
  private async pullOffline(cursor: PullCursor, lease: Lease): Promise<number> {
    const client = this.o.clients.forPortal(cursor.memberId);
    const processId = cursor.position ?? newProcessId();
    const page = await client.call<OfflinePage>('event.offline.get', {
      clear: 0,
      process_id: processId,
      limit: this.o.limit,
      ...(cursor.target ? { auth_connector: cursor.target } : {}),
    });
    if (lease.lost) return 0;
    const pid = page.process_id || processId;
    const records = page.events ?? [];
    const now = this.o.now();
    const domain = await this.domainOf(cursor.memberId);
    const events = records.map((r) => offlineRecord(r, cursor.memberId, domain, now));
    const stored = await this.commit(cursor, events, 'offline', { position: pid }, now);
    if (stored < 0) return 0;
    const bad = records.filter((_, i) => events[i]!.status === 'invalid');
    const good = records.filter((_, i) => events[i]!.status !== 'invalid');
    if (bad.length > 0)
      await client.call('event.offline.error', { process_id: pid, message_id: bad.map((r) => r.MESSAGE_ID) });
    if (good.length > 0) await client.call('event.offline.clear', { process_id: pid, id: good.map((r) => r.ID) });
    if (lease.lost) return stored;
    lease.finishing();
    const done = this.o.now();
    // A full page: more is waiting now. Some: more may have come meanwhile (news of it can be
    // lost, as an ONOFFLINEEVENT of the same second is one event), so look again soon.
    const dueAt =
      records.length >= this.o.limit
        ? done
        : records.length > 0
          ? done + Math.min(this.o.idleMs, SOON_MS)
          : done + this.o.idleMs;
    await this.o.store.finishPullCursor(
      cursor.id,
      this.o.owner,
      { ok: true, position: pid, dueAt, since: cursor.dueAt },
      done,
    );
    return stored;
  }

  /** Events and position in one transaction; how many were new, or -1 when the cursor was lost to another owner. */
  private async commit(
    cursor: PullCursor,
    events: NewEvent[],
    delivery: 'fetch' | 'offline',
    advance: { position: string | null; dueAt?: number; since?: number },
    now: number,
  ): Promise<number> {
    const results = await this.o.store.appendPulled(cursor.id, this.o.owner, events, delivery, advance, now);
    if (results === undefined) {
      this.o.logger.warn({ cursor: cursor.id, member: cursor.memberId }, 'pull cursor lost to another owner');
      return -1;
    }
    const fresh = results.filter((r) => !r.duplicate).length;
    if (events.length > 0) this.o.onStored?.(fresh, delivery, events.length - fresh);
    if (events.length > 0)
      this.o.logger.debug(
        { cursor: cursor.id, member: cursor.memberId, kind: cursor.kind, pulled: events.length, fresh },
        'events pulled',
      );
    return fresh;
  }
}

interface BotList {
  bots?: { id: number | string; eventMode?: string }[];
  hasNextPage?: boolean;
}
