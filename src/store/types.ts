import type { ConnectorStateStore } from './state/types.js';

/** What intake hands to the store: one verified event, ready to be kept. */
export interface NewEvent {
  /** Same portal, code, handler, ts and data give the same key: a re-delivery is stored once. */
  dedupKey: string;
  memberId: string;
  code: string;
  known: boolean;
  /** `pending` goes to the worker; `invalid` failed its schema and is kept for inspection only. */
  status: 'pending' | 'invalid';
  handlerId: number | null;
  ts: number | null;
  /** Events with one key run in order (portal + line + chat); null runs freely. */
  orderKey: string | null;
  receivedAt: number;
  /** The typed event as JSON, with application_token redacted. */
  event: string;
  /** The body as received, with every secret redacted. */
  rawBody: string;
  contentType: 'form' | 'json';
  error: string | null;
  /**
   * What the handlers need of the event's secrets (a bot's `AUTH` pairs), as JSON text, or null.
   * Kept apart from the event row (encrypted when the store has a key) and erased once the event is finished.
   */
  secrets?: string | null;
}

/** Portal records the intake keeps: who is installed, with which secrets. */
export interface PortalRecord {
  memberId: string;
  domain: string;
  applicationToken: string | null;
  accessToken: string | null;
  refreshToken: string | null;
  /** Unix ms when accessToken stops working. */
  expiresAt: number | null;
  clientEndpoint: string | null;
  serverEndpoint: string | null;
  scope: string | null;
  status: string | null;
  installedAt: number | null;
  uninstalledAt: number | null;
  updatedAt: number;
}

/** A change to a portal committed in the same transaction as the event that caused it. */
export type PortalChange =
  { kind: 'install'; portal: PortalRecord } | { kind: 'uninstall'; memberId: string; at: number };

export interface AppendResult {
  id: number;
  duplicate: boolean;
}

export type EventStatus = 'pending' | 'invalid' | 'processing' | 'retry' | 'done' | 'dead';

/** Statuses an event never leaves by itself: the only ones pruning may remove. */
export type FinishedStatus = 'done' | 'invalid' | 'dead';
export const FINISHED_STATUSES: readonly FinishedStatus[] = ['done', 'invalid', 'dead'];

/** Which events pruning removes: finished ones received before `before`. */
export interface PruneQuery {
  /** Unix ms: events received before this go. */
  before: number;
  /** Finished statuses to remove; any other status is refused. */
  statuses: readonly FinishedStatus[];
  /** At most this many events in one call (one short transaction). */
  limit: number;
  /** Count what would go instead of removing it (limit ignored). */
  dryRun?: boolean;
}

/** How an event reached the gateway: posted to it, pulled with a Chatbots 2.0 `Event.get`, or taken from the offline queue. */
export type Delivery = 'webhook' | 'fetch' | 'offline';

export interface StoredEvent {
  id: number;
  memberId: string;
  code: string;
  known: boolean;
  status: EventStatus;
  handlerId: number | null;
  ts: number | null;
  orderKey: string | null;
  receivedAt: number;
  event: unknown;
  rawBody: string;
  contentType: 'form' | 'json';
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  duplicates: number;
  processedAt: number | null;
  /** The secrets kept apart for the handlers (see NewEvent.secrets): filled by claim, null elsewhere or once erased. */
  secrets?: string | null;
  /** How it arrived; `webhook` when a store does not say. */
  delivery?: Delivery;
  /** Set by claim when the event's last lease ran out unfinished: its owner died (or stalled), and this claim took it over. */
  takenOver?: boolean;
}

/** One run of an event's handlers, kept for `events` and for people deciding about dead letters. */
export interface Attempt {
  eventId: number;
  attempt: number;
  owner: string;
  startedAt: number;
  finishedAt: number | null;
  ok: boolean | null;
  error: string | null;
}

/**
 * What every claim of a leased queue takes: the owner to lease to, the time, how long a lease
 * runs, how many rows at most, and the attempts after which a row whose lease ran out is not taken again.
 */
export type Claim = [owner: string, now: number, leaseMs: number, limit: number, maxAttempts: number];

/** How a claimed event's run ended: done, to be retried at a time, or dead (retryAt null). */
export type Outcome = { ok: true } | { ok: false; error: string; retryAt: number | null };

export interface PortalTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  clientEndpoint?: string | null;
  serverEndpoint?: string | null;
}

/** A delivery status waiting to be reported to Bitrix24 (imconnector.send.status.delivery). */
export interface NewStatus {
  memberId: string;
  connector: string;
  line: number;
  /** The MESSAGES item as JSON: im, message.id (a list), chat. */
  item: string;
  eventId: number;
}

export interface PendingStatus extends NewStatus {
  id: number;
  attempts: number;
}

/**
 * What a customer did in the external channel (wrote, edited, deleted, read, renamed a chat), as
 * the channel told the gateway: kept before the channel is answered, then sent to Bitrix24 in
 * order per chat (the customer outbox).
 */
export interface NewCustomerAction {
  memberId: string;
  connector: string;
  line: number;
  /** `message.created`, `message.updated`, `message.deleted`, `message.read` or `chat.renamed`. */
  type: string;
  /** The channel's own key (its message id for a new message, its request id otherwise): an action is kept once per key and portal. */
  dedupKey: string;
  /** Actions with one key (portal, connector, line and external chat) are sent in order. */
  orderKey: string;
  /** The action as JSON. */
  item: string;
  receivedAt: number;
}

export interface PendingCustomerAction extends NewCustomerAction {
  id: number;
  attempts: number;
}

export type CustomerActionStatus = 'pending' | 'sending' | 'sent' | 'dead';

export interface CustomerActionRecord extends PendingCustomerAction {
  status: CustomerActionStatus;
  nextAttemptAt: number | null;
  lastError: string | null;
  sentAt: number | null;
}

export interface CustomerActionQuery {
  status?: CustomerActionStatus;
  memberId?: string;
  afterId?: number;
  limit?: number;
}

/**
 * What a puller pulls: one Chatbots 2.0 bot's queue (`bot`, target its id), one user's `im.v2`
 * queue (`user`, target the user id), or a portal's offline queue (`offline`, target the
 * `auth_connector`, empty for none).
 */
export type PullKind = 'bot' | 'user' | 'offline';

export interface PullTarget {
  memberId: string;
  kind: PullKind;
  target: string;
}

/** `parked`: its retry budget is spent and it waits for a person; `gone`: the bot (or binding) is no more. */
export type PullStatus = 'active' | 'parked' | 'gone';

/** One queue the gateway pulls, and where the pull stands. */
export interface PullCursor extends PullTarget {
  id: number;
  /** The Event.get offset to send next (confirms what was stored), or the offline queue's process_id. */
  position: string | null;
  status: PullStatus;
  /** When the next pull is due (unix ms). */
  dueAt: number;
  /** Failed pulls in a row (counted when claimed, reset by a pull that worked). */
  attempts: number;
  lastError: string | null;
  /** Events this cursor stored, in all. */
  pulled: number;
  pulledAt: number | null;
  leaseOwner: string | null;
  leaseUntil: number | null;
}

/** How a pull ended: its cursor's new position, and when the next one is due (or, failed: retried at, or parked when null). */
export type PullOutcome =
  | {
      ok: true;
      position: string | null;
      dueAt: number;
      /** The due time the claim saw: a wake since (its due time changed) keeps the cursor due instead. */
      since?: number;
    }
  | { ok: false; error: string; retryAt: number | null };

export interface EventQuery {
  status?: EventStatus;
  memberId?: string;
  code?: string;
  afterId?: number;
  since?: number;
  until?: number;
  limit?: number;
}

/** A page of the events list, newest first: what a person filters by (the console, the CLI's `events`). */
export interface EventBrowse {
  status?: EventStatus | undefined;
  code?: string | undefined;
  memberId?: string | undefined;
  /** A connector line: needs memberId (events are keyed by portal, line and chat). */
  line?: number | undefined;
  /** An external chat on `line`: needs memberId and line. */
  chat?: string | undefined;
  /** Unix ms: received at or after. */
  since?: number | undefined;
  /** Unix ms: received before. */
  until?: number | undefined;
  /** How the event came: posted (`webhook`), pulled from a fetch-mode bot's or a user's queue (`fetch`), or from the offline queue (`offline`). */
  delivery?: Delivery | undefined;
  /** An event id, or a Bitrix24 message id: the events of the message's chat that name it. */
  search?: string | undefined;
  /** The cursor: events with a smaller id (the previous page's `next`). */
  before?: number | undefined;
  /** At most this many; default 50, at most 500. */
  limit?: number | undefined;
}

/** An event as a list shows it: no bodies. */
export interface EventSummary {
  id: number;
  memberId: string;
  code: string;
  status: EventStatus;
  orderKey: string | null;
  receivedAt: number;
  processedAt: number | null;
  attempts: number;
  lastError: string | null;
  contentType: 'form' | 'json';
  delivery: Delivery;
  /** Deliveries of it after the first, each kept once. */
  duplicates: number;
}

export interface EventPage {
  events: EventSummary[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: number | null;
}

/** A delivery status of an event, as the status outbox keeps it. */
export interface StatusRecord {
  id: number;
  connector: string;
  line: number;
  /** The MESSAGES item as JSON. */
  item: string;
  status: 'pending' | 'sending' | 'sent' | 'dead';
  attempts: number;
  lastError: string | null;
  /** When Bitrix24 took it; null until then, and for statuses sent before this was kept. */
  sentAt: number | null;
}

/** What the store saw since a time: events by minute, code and status, and how long they took. */
export interface Activity {
  /** One row per minute (Unix ms of its start), code and status, received in the window. */
  perMinute: { minute: number; code: string; status: EventStatus; n: number }[];
  /** Received → processed (done), ms, of the latest done events in the window, newest first. */
  processedMs: number[];
  /** Received → status sent to Bitrix24, ms, of the latest sent statuses in the window. */
  confirmedMs: number[];
}

/** A portal's delivery problems and last event. */
export interface PortalActivity {
  memberId: string;
  lastEventAt: number | null;
  dead: number;
  retry: number;
  deadStatuses: number;
  deadCustomerActions: number;
}

/**
 * The durable inbox, the status outbox, the portals and the connector state, in one database.
 * SQLite is the embedded default; PostgreSQL satisfies the same contract for several instances.
 * Every method is required: what keeps several instances (or threads) safe is part of the contract,
 * and a store given to the Gateway without one of them is refused at construction (see complete.ts).
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Resolves once the event (and its portal change) is durably committed. */
  append(event: NewEvent, change?: PortalChange): Promise<AppendResult>;
  getEvent(id: number): Promise<StoredEvent | undefined>;
  listEvents(query?: EventQuery): Promise<StoredEvent[]>;
  /** Events by status: every status, or only those listed (each counted through an index, never the whole table). */
  countEvents<S extends EventStatus = EventStatus>(statuses?: readonly S[]): Promise<Record<S, number>>;
  /** When the oldest pending event (stored, not yet run) was received; null when none waits. Optional: for the queue age metric. */
  oldestPendingAt?(): Promise<number | null>;
  getPortal(memberId: string): Promise<PortalRecord | undefined>;
  listPortals(): Promise<PortalRecord[]>;
  /** Keeps a refreshed OAuth pair; called before the new access token is used. */
  savePortalTokens(memberId: string, tokens: PortalTokens): Promise<void>;

  /**
   * Leases up to `limit` runnable events to `owner` until `now + leaseMs`: pending ones, retries
   * that are due, and ones whose lease ran out (a crashed worker). An event waits while an
   * earlier one with its order key is unfinished, so one chat runs in order.
   * Attempts are counted here, so an attempt that never records an outcome (its process died)
   * still spends the budget: an event whose lease ran out after `maxAttempts` attempts is made
   * `dead` instead of run again, and a lapsed attempt's log row is closed with the reason.
   */
  claim(...claim: Claim): Promise<StoredEvent[]>;
  /**
   * Extends the leases `owner` still holds to `until` (a heartbeat while handlers run). Returns
   * the ids renewed: one missing was lost (taken by another worker, or made dead at a claim).
   */
  renewLeases(ids: readonly number[], owner: string, until: number): Promise<number[]>;
  /** Ends a claimed run. False when the lease was lost to another worker: the outcome is dropped. */
  finish(id: number, owner: string, outcome: Outcome, now: number): Promise<boolean>;
  attempts(id: number): Promise<Attempt[]>;
  /** A page of events, newest first, through an index for each filter (fast at millions of rows). */
  browseEvents(query: EventBrowse): Promise<EventPage>;
  /** The delivery statuses an event left in the status outbox. */
  eventStatuses(id: number): Promise<StatusRecord[]>;
  /** Events by minute, code and status received at or after `since`, and their latencies. */
  activity(since: number): Promise<Activity>;
  /** Each portal's last event and delivery problems. */
  portalActivity(): Promise<PortalActivity[]>;
  /** Puts events back to pending with a fresh retry budget (replay). Returns how many. */
  requeue(ids: readonly number[]): Promise<number>;
  /**
   * Removes up to `limit` finished events received before `before`, with their attempts and their
   * delivery statuses, in one short transaction; returns how many. An unfinished event (pending,
   * retry, processing) is never removed, nor one whose delivery statuses still wait to be sent.
   */
  pruneEvents(query: PruneQuery): Promise<number>;

  /**
   * The status outbox: statuses are kept durably when an event is handled, and sent apart from
   * it, so statuses of many events (one chat's included) share REST calls.
   */
  enqueueStatuses(statuses: readonly NewStatus[]): Promise<void>;
  /** Leases due statuses; like `claim`, one whose lease ran out after `maxAttempts` attempts is made dead. */
  claimStatuses(...claim: Claim): Promise<PendingStatus[]>;
  /** Extends the leases `owner` still holds on these statuses to `until`; returns the ids renewed. */
  renewStatuses(ids: readonly number[], owner: string, until: number): Promise<number[]>;
  /** Marks claimed statuses sent, or failed: retried at `retryAt`, dead when it is null. */
  finishStatuses(ids: readonly number[], owner: string, outcome: Outcome, now: number): Promise<void>;
  countStatuses(): Promise<{ pending: number; sent: number; dead: number }>;

  /**
   * The customer outbox: what the channel's customers did, kept once per key (a duplicate returns
   * the first one's id with `duplicate: true`) before the channel is answered.
   */
  appendCustomerAction(action: NewCustomerAction): Promise<AppendResult>;
  /**
   * Leases due actions, in order per chat: an action is taken only with every earlier unfinished
   * action of its chat (none of which may wait for a retry or be held by another owner), so one
   * claim may take a chat's whole queue and send it in order. Like `claim`, one whose lease ran out
   * after `maxAttempts` attempts is made dead first. On PostgreSQL claims wait for each other.
   */
  claimCustomerActions(...claim: Claim): Promise<PendingCustomerAction[]>;
  /** Extends the leases `owner` still holds; returns the ids renewed. */
  renewCustomerActions(ids: readonly number[], owner: string, until: number): Promise<number[]>;
  /** Marks claimed actions sent, or failed: retried at `retryAt`, dead when it is null. */
  finishCustomerActions(ids: readonly number[], owner: string, outcome: Outcome, now: number): Promise<void>;
  /** Gives claimed actions back unsent, their attempt not counted (an earlier action of their chat failed). */
  releaseCustomerActions(ids: readonly number[], owner: string): Promise<void>;
  listCustomerActions(query?: CustomerActionQuery): Promise<CustomerActionRecord[]>;
  countCustomerActions(): Promise<{ pending: number; sent: number; dead: number }>;
  /** Puts dead or failed actions back to pending with a fresh retry budget (replay). Returns how many. */
  requeueCustomerActions(ids: readonly number[]): Promise<number>;

  /** Notes that an ONAPPTEST for the portal was refused for its application_token (the doctor reads it). */
  noteRefusedTest(memberId: string, at: number): Promise<void>;
  /** When an ONAPPTEST for the portal was last refused for its token; null if never. */
  refusedTestAt(memberId: string): Promise<number | null>;
  /** The portal's REST leaky bucket as it stands at `now`: requests counted and not yet drained. */
  rateLevel(memberId: string, limits: { perSecond: number }, now: number): Promise<number>;

  /**
   * Each portal's REST leaky bucket, shared by whatever shares the store: reserves the next request
   * slot and says how long to wait for it ('fill' records a QUERY_LIMIT_EXCEEDED: the bucket is full).
   */
  rateSlot(
    memberId: string,
    limits: { burst: number; perSecond: number },
    now: number,
    mode: 'take' | 'fill',
  ): Promise<number>;
  /**
   * Runs `fn` while nothing else holds the portal's lock (a token refresh: a refresh token works once).
   * PostgreSQL: across instances; SQLite: across the stores of one thread on one file (held in memory).
   */
  withPortalLock<T>(memberId: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Calls `wake` when events are stored or requeued (PostgreSQL: by any instance; SQLite: by any store
   * of this thread on the file). Resolves to the function that stops it.
   */
  onNewEvents(wake: () => void): Promise<() => void>;

  /**
   * The pull cursors: keeps one for each target (a new one is due at once, a `gone` one comes back),
   * with `position` as its first position. Returns how many were added or came back.
   */
  keepPullCursors(
    targets: readonly PullTarget[],
    now: number,
    position?: (t: PullTarget) => string | null,
  ): Promise<number>;
  /** Marks `gone` the portal's active cursors of `kind` whose target is not in `keep`. Returns how many. */
  retirePullCursors(memberId: string, kind: PullKind, keep: readonly string[], now: number): Promise<number>;
  /**
   * Leases up to `limit` due cursors (active, due, not held, or whose lease ran out) to `owner`
   * until `now + leaseMs`, across portals; on PostgreSQL a cursor another instance holds is skipped.
   * Failures are counted here: one whose lease ran out after `maxAttempts` attempts is parked instead.
   */
  claimPullCursors(...claim: Claim): Promise<PullCursor[]>;
  /** Extends the leases `owner` still holds; returns the ids renewed. */
  renewPullCursors(ids: readonly number[], owner: string, until: number): Promise<number[]>;
  /**
   * Stores pulled events (the intake's append: deduplicated by their key, which the source made
   * unique, ordered by chat) and moves the cursor to `position`, in one transaction, only while
   * `owner` holds the cursor; undefined (nothing written) when it does not. With `dueAt` the pull
   * is also finished (the lease released); without it the lease is kept for what the run does next.
   */
  appendPulled(
    cursorId: number,
    owner: string,
    events: readonly NewEvent[],
    delivery: Delivery,
    advance: { position: string | null; dueAt?: number; since?: number },
    now: number,
  ): Promise<AppendResult[] | undefined>;
  /** Ends a claimed pull (see PullOutcome). False when the lease was lost: nothing is written. */
  finishPullCursor(id: number, owner: string, outcome: PullOutcome, now: number): Promise<boolean>;
  listPullCursors(query?: { memberId?: string; kind?: PullKind; status?: PullStatus }): Promise<PullCursor[]>;
  /** Makes the portal's active cursors (of `kind`, or all) due now, those being pulled too (they are pulled again): something is waiting. Returns how many. */
  wakePullCursors(memberId: string, kind: PullKind | undefined, now: number): Promise<number>;
  /** Puts parked cursors back to active, due now, with a fresh budget. Returns how many. */
  requeuePullCursors(ids: readonly number[], now: number): Promise<number>;

  /** The connector state, in the same database. */
  readonly state: ConnectorStateStore;

  /** True when the store can take writes. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
