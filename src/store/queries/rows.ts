import type { SecretBox } from '../secret-box.js';
import type { Attempt, Delivery, EventStatus, PortalRecord, StoredEvent } from '../types.js';

export interface EventRow {
  id: number;
  member_id: string;
  code: string;
  known: number | boolean;
  status: EventStatus;
  handler_id: number | null;
  ts: number | null;
  order_key: string | null;
  received_at: number;
  event: string;
  raw_body: string;
  content_type: 'form' | 'json';
  attempts: number;
  next_attempt_at: number | null;
  last_error: string | null;
  duplicates: number;
  processed_at: number | null;
  delivery?: Delivery;
}

export const eventFromRow = (r: EventRow): StoredEvent => ({
  id: r.id,
  memberId: r.member_id,
  code: r.code,
  known: Boolean(r.known),
  status: r.status,
  handlerId: r.handler_id,
  ts: r.ts,
  orderKey: r.order_key,
  receivedAt: r.received_at,
  event: JSON.parse(r.event) as unknown,
  rawBody: r.raw_body,
  contentType: r.content_type,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  duplicates: r.duplicates,
  processedAt: r.processed_at,
  delivery: r.delivery ?? 'webhook',
});

export interface PortalRow {
  member_id: string;
  domain: string;
  application_token: string | null;
  access_token: string | null;
  refresh_token: string | null;
  expires_at: number | null;
  client_endpoint: string | null;
  server_endpoint: string | null;
  scope: string | null;
  status: string | null;
  installed_at: number | null;
  uninstalled_at: number | null;
  updated_at: number;
}

/** A portal as kept, its OAuth tokens decrypted when the store encrypts them. */
export const portalFromRow = (r: PortalRow, box: SecretBox): PortalRecord => ({
  memberId: r.member_id,
  domain: r.domain,
  applicationToken: r.application_token,
  accessToken: box.open(r.access_token, 'portals.access_token', r.member_id),
  refreshToken: box.open(r.refresh_token, 'portals.refresh_token', r.member_id),
  expiresAt: r.expires_at,
  clientEndpoint: r.client_endpoint,
  serverEndpoint: r.server_endpoint,
  scope: r.scope,
  status: r.status,
  installedAt: r.installed_at,
  uninstalledAt: r.uninstalled_at,
  updatedAt: r.updated_at,
});

export interface AttemptRow {
  event_id: number;
  attempt: number;
  owner: string;
  started_at: number;
  finished_at: number | null;
  ok: number | boolean | null;
  error: string | null;
}

export const attemptFromRow = (r: AttemptRow): Attempt => ({
  eventId: r.event_id,
  attempt: r.attempt,
  owner: r.owner,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  ok: r.ok === null ? null : Boolean(r.ok),
  error: r.error,
});

/** An event as claim returns it: with its secrets, decrypted (null when it has none, or they were erased). */
export const claimedFromRow = (r: EventRow & { secrets: string | null }, box: SecretBox): StoredEvent => ({
  ...eventFromRow(r),
  secrets: box.open(r.secrets, 'event_secrets.data', r.member_id),
});
