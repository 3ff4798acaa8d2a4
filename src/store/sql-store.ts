import { TickBatch } from '../tick-batch.js';
import { ConnectorState } from './state/state.js';
import * as browse from './queries/browse.js';
import * as customers from './queries/customers.js';
import * as events from './queries/events.js';
import * as leases from './queries/leases.js';
import * as outbox from './queries/outbox.js';
import { ownerIsDead } from './owner.js';
import * as portals from './queries/portals.js';
import * as pull from './queries/pull.js';
import { sealedSecrets } from './secret-box.js';
import * as statuses from './queries/statuses.js';
import type { SecretBox } from './secret-box.js';
import type { Dialect } from './sql/dialect.js';
import type { Runner } from './sql/work.js';
import type {
  Activity,
  AppendResult,
  Claim,
  EventBrowse,
  EventPage,
  PortalActivity,
  StatusRecord,
  Attempt,
  CustomerActionQuery,
  CustomerActionRecord,
  EventQuery,
  EventStatus,
  NewEvent,
  NewCustomerAction,
  NewStatus,
  Outcome,
  PendingCustomerAction,
  PendingStatus,
  PortalChange,
  PortalRecord,
  PortalTokens,
  PruneQuery,
  PullCursor,
  PullKind,
  PullOutcome,
  PullStatus,
  PullTarget,
  Store,
  StoredEvent,
} from './types.js';

/**
 * The Store for either database: every operation written once (queries/, as Work) runs here through
 * the dialect's runners; a dialect supplies its runners and fragments, and the operations that
 * differ as a whole (sqlite/store.ts and postgres/store.ts say which and why).
 */
export abstract class SqlStore implements Store {
  abstract readonly kind: 'sqlite' | 'postgres';
  readonly state: ConnectorState;

  /**
   * `main` serves reads, tokens and replays; `work` the worker's writes (on SQLite a connection of
   * its own, whose commits need not wait for a sync); both are one pool on PostgreSQL.
   */
  protected constructor(
    protected readonly dialect: Dialect,
    protected readonly box: SecretBox,
    protected readonly main: Runner,
    protected readonly work: Runner,
  ) {
    this.state = new ConnectorState(work);
  }

  abstract append(event: NewEvent, change?: PortalChange): Promise<AppendResult>;
  abstract claim(...claim: Claim): Promise<StoredEvent[]>;
  abstract withPortalLock<T>(memberId: string, fn: () => Promise<T>): Promise<T>;
  abstract onNewEvents(wake: () => void): Promise<() => void>;
  abstract ping(): Promise<boolean>;
  /** Tells whoever waits for new events (onNewEvents) that some were stored outside the append. */
  protected abstract announce(): Promise<void>;
  abstract close(): Promise<void>;

  /**
   * Ends the leases of owners that were processes of this machine and are gone (owner.ts), in
   * every queue: a restarted gateway takes its own earlier claims back at once, not once their
   * leases run out. Returns the owners found dead. Run when a store opens.
   */
  async endLeasesOfDeadOwners(now = Date.now()): Promise<string[]> {
    const dead = (await this.main.once(leases.leaseOwners(this.dialect, now))).filter(ownerIsDead);
    if (dead.length > 0) await this.main.write(leases.endLeases(this.dialect, dead, now));
    return dead;
  }

  getEvent(id: number): Promise<StoredEvent | undefined> {
    return this.main.once(events.getEvent(id));
  }

  listEvents(query: EventQuery = {}): Promise<StoredEvent[]> {
    return this.main.once(events.listEvents(query));
  }

  countEvents<S extends EventStatus = EventStatus>(list?: readonly S[]): Promise<Record<S, number>> {
    return this.main.once(events.countEvents(this.dialect, list));
  }

  oldestPendingAt(): Promise<number | null> {
    return this.main.once(events.oldestPendingAt());
  }

  getPortal(memberId: string): Promise<PortalRecord | undefined> {
    return this.main.once(portals.getPortal(memberId, this.box));
  }

  listPortals(): Promise<PortalRecord[]> {
    return this.main.once(portals.listPortals(this.box));
  }

  savePortalTokens(memberId: string, tokens: PortalTokens): Promise<void> {
    return this.main.once(portals.savePortalTokens(memberId, tokens, this.box, Date.now()));
  }

  renewLeases(ids: readonly number[], owner: string, until: number): Promise<number[]> {
    return this.work.once(leases.renewLeases(this.dialect, 'events', ids, owner, until));
  }

  finish(id: number, owner: string, outcome: Outcome, now: number): Promise<boolean> {
    return this.work.write(events.finishEvent(id, owner, outcome, now));
  }

  attempts(id: number): Promise<Attempt[]> {
    return this.work.once(events.attempts(id));
  }

  requeue(ids: readonly number[]): Promise<number> {
    return this.main.once(events.requeue(this.dialect, ids));
  }

  browseEvents(query: EventBrowse): Promise<EventPage> {
    return this.main.read(browse.browseEvents(this.dialect, query));
  }

  eventStatuses(id: number): Promise<StatusRecord[]> {
    return this.main.once(browse.eventStatuses(id));
  }

  activity(since: number): Promise<Activity> {
    return this.main.read(browse.activity(since));
  }

  portalActivity(): Promise<PortalActivity[]> {
    return this.main.read(browse.portalActivity());
  }

  pruneEvents(query: PruneQuery): Promise<number> {
    return query.dryRun
      ? this.main.once(events.countPrunable(this.dialect, query))
      : this.work.write(events.prune(this.dialect, query));
  }

  enqueueStatuses(list: readonly NewStatus[]): Promise<void> {
    return this.work.once(statuses.enqueueStatuses(list));
  }

  claimStatuses(...claim: Claim): Promise<PendingStatus[]> {
    return this.work.write(statuses.claimStatuses(this.dialect, ...claim));
  }

  renewStatuses(ids: readonly number[], owner: string, until: number): Promise<number[]> {
    return this.work.once(leases.renewLeases(this.dialect, 'status_outbox', ids, owner, until));
  }

  finishStatuses(ids: readonly number[], owner: string, outcome: Outcome, now: number): Promise<void> {
    return this.work.once(outbox.finishSends(this.dialect, 'status_outbox', ids, owner, outcome, now));
  }

  countStatuses(): Promise<{ pending: number; sent: number; dead: number }> {
    return this.work.once(statuses.countStatuses());
  }

  /**
   * On the synced connection: the channel is answered once the action is on disk. The actions of
   * one turn of the event loop share one transaction, so a burst costs one sync, not one each.
   */
  appendCustomerAction(action: NewCustomerAction): Promise<AppendResult> {
    return new Promise((resolve, reject) => this.customerAppends.push({ action, resolve, reject }));
  }

  private readonly customerAppends = new TickBatch<{
    action: NewCustomerAction;
    resolve: (r: AppendResult) => void;
    reject: (e: unknown) => void;
  }>(256, (list) => void this.appendTogether(list));

  /** One transaction for them all; if it fails, each in its own, so that one bad row fails alone. */
  private async appendTogether(
    list: { action: NewCustomerAction; resolve: (r: AppendResult) => void; reject: (e: unknown) => void }[],
  ): Promise<void> {
    try {
      const results = await this.main.write(customers.appendCustomerActions(list.map((x) => x.action)));
      list.forEach((x, i) => x.resolve(results[i]!));
      return;
    } catch (e) {
      if (list.length === 1) return list[0]!.reject(e);
    }
    for (const x of list)
      await this.main.write(customers.appendCustomerActions([x.action])).then((r) => x.resolve(r[0]!), x.reject);
  }

  claimCustomerActions(...claim: Claim): Promise<PendingCustomerAction[]> {
    return this.work.write(customers.claimCustomerActions(this.dialect, ...claim));
  }

  renewCustomerActions(ids: readonly number[], owner: string, until: number): Promise<number[]> {
    return this.work.once(leases.renewLeases(this.dialect, 'customer_actions', ids, owner, until));
  }

  finishCustomerActions(ids: readonly number[], owner: string, outcome: Outcome, now: number): Promise<void> {
    return this.work.once(outbox.finishSends(this.dialect, 'customer_actions', ids, owner, outcome, now));
  }

  releaseCustomerActions(ids: readonly number[], owner: string): Promise<void> {
    return this.work.once(customers.releaseCustomerActions(this.dialect, ids, owner));
  }

  listCustomerActions(query: CustomerActionQuery = {}): Promise<CustomerActionRecord[]> {
    return this.main.once(customers.listCustomerActions(query));
  }

  countCustomerActions(): Promise<{ pending: number; sent: number; dead: number }> {
    return this.main.once(customers.countCustomerActions());
  }

  requeueCustomerActions(ids: readonly number[]): Promise<number> {
    return this.main.once(customers.requeueCustomerActions(this.dialect, ids));
  }

  noteRefusedTest(memberId: string, at: number): Promise<void> {
    return this.main.once(portals.noteRefusedTest(memberId, at));
  }

  refusedTestAt(memberId: string): Promise<number | null> {
    return this.main.once(portals.refusedTestAt(memberId));
  }

  rateLevel(memberId: string, limits: { perSecond: number }, now: number): Promise<number> {
    return this.main.once(portals.rateLevel(memberId, limits, now));
  }

  rateSlot(
    memberId: string,
    limits: { burst: number; perSecond: number },
    now: number,
    mode: 'take' | 'fill',
  ): Promise<number> {
    return this.work.once(portals.rateSlot(memberId, limits, now, mode));
  }

  keepPullCursors(
    targets: readonly PullTarget[],
    now: number,
    position: (t: PullTarget) => string | null = () => null,
  ): Promise<number> {
    return this.main.write(pull.keepPullCursors(targets, now, position));
  }

  retirePullCursors(memberId: string, kind: PullKind, keep: readonly string[], now: number): Promise<number> {
    return this.main.once(pull.retirePullCursors(this.dialect, memberId, kind, keep, now));
  }

  claimPullCursors(...claim: Claim): Promise<PullCursor[]> {
    return this.main.write(pull.claimPullCursors(this.dialect, ...claim));
  }

  renewPullCursors(ids: readonly number[], owner: string, until: number): Promise<number[]> {
    return this.main.once(leases.renewLeases(this.dialect, 'pull_cursors', ids, owner, until));
  }

  /** On the synced connection: a position is kept only with the events it confirms, on disk. */
  async appendPulled(
    ...[cursorId, owner, events, delivery, advance, now]: Parameters<Store['appendPulled']>
  ): Promise<AppendResult[] | undefined> {
    const sealed = events.map((e) => sealedSecrets(e, this.box));
    let results: AppendResult[];
    try {
      results = await this.main.write(pull.appendPulled(cursorId, owner, events, sealed, delivery, advance, now));
    } catch (e) {
      if (e === pull.LEASE_LOST) return undefined;
      throw e;
    }
    if (results.some((r) => !r.duplicate)) await this.announce();
    return results;
  }

  finishPullCursor(id: number, owner: string, outcome: PullOutcome, now: number): Promise<boolean> {
    return this.main.once(pull.finishPullCursor(id, owner, outcome, now));
  }

  listPullCursors(query: { memberId?: string; kind?: PullKind; status?: PullStatus } = {}): Promise<PullCursor[]> {
    return this.main.once(pull.listPullCursors(query));
  }

  wakePullCursors(memberId: string, kind: PullKind | undefined, now: number): Promise<number> {
    return this.main.once(pull.wakePullCursors(memberId, kind, now));
  }

  requeuePullCursors(ids: readonly number[], now: number): Promise<number> {
    return this.main.once(pull.requeuePullCursors(this.dialect, ids, now));
  }
}
