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
export type PortalChange = { kind: 'install'; portal: PortalRecord } | { kind: 'uninstall'; memberId: string; at: number };

export interface AppendResult {
  id: number;
  duplicate: boolean;
}

export type EventStatus = 'pending' | 'invalid' | 'processing' | 'retry' | 'done' | 'dead';

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
}

export interface EventQuery {
  status?: EventStatus;
  memberId?: string;
  code?: string;
  afterId?: number;
  since?: number;
  until?: number;
  limit?: number;
}

/**
 * The durable inbox and the portal state. SQLite is the embedded default;
 * a PostgreSQL implementation satisfies the same contract for several instances.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Resolves once the event (and its portal change) is durably committed. */
  append(event: NewEvent, change?: PortalChange): Promise<AppendResult>;
  getEvent(id: number): Promise<StoredEvent | undefined>;
  listEvents(query?: EventQuery): Promise<StoredEvent[]>;
  countEvents(): Promise<Record<EventStatus, number>>;
  getPortal(memberId: string): Promise<PortalRecord | undefined>;
  listPortals(): Promise<PortalRecord[]>;
  /** True when the store can take writes. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
