import { channelPayloads } from '../effects/channel/payload.js';
import type { ChannelPayload, KnownEventLike, TextFormat } from '../effects/channel/types.js';
import type { Attempt, StatusRecord, Store, StoredEvent } from '../store/types.js';

/** One thing that happened to an event, for its timeline. */
export interface TimelineEntry {
  at: number;
  what:
    'received' | 'attempt started' | 'attempt failed' | 'attempt done' | 'processed' | 'status sent' | 'next attempt';
  detail?: string;
}

/** What the channel was sent for the event: each payload, the `webhook-id` it went under, and what the channel answered with. */
export interface ChannelDelivery {
  webhookId: string;
  payload: ChannelPayload;
  /** The channel's ids for the message, as the connector state recorded them from its answer; null if none were kept. */
  externalIds: string[] | null;
}

export interface EventDetail {
  event: Omit<StoredEvent, 'secrets'>;
  attempts: Attempt[];
  statuses: StatusRecord[];
  channel: ChannelDelivery[];
  timeline: TimelineEntry[];
}

/**
 * An event's page: its typed data and raw body (both kept with every secret redacted), its
 * attempts, what the channel was sent (the payloads are made again from the stored event: the
 * same ids and text as each attempt sent) and the statuses reported to Bitrix24, on one timeline.
 */
export async function eventDetail(
  store: Store,
  id: number,
  /** How the channel is given message text; null when the gateway has no channel. */
  format: TextFormat | null,
): Promise<EventDetail | undefined> {
  const stored = await store.getEvent(id);
  if (!stored) return undefined;
  const { secrets: _secrets, ...event } = stored;
  const [attempts, statuses] = await Promise.all([store.attempts(id), store.eventStatuses(id)]);
  const channel = format === null ? [] : await deliveries(store, event, format);
  const timeline: TimelineEntry[] = [{ at: event.receivedAt, what: 'received', detail: event.code }];
  for (const a of attempts) {
    timeline.push({ at: a.startedAt, what: 'attempt started', detail: `attempt ${a.attempt} by ${a.owner}` });
    if (a.finishedAt !== null)
      timeline.push({
        at: a.finishedAt,
        what: a.ok ? 'attempt done' : 'attempt failed',
        ...(a.error ? { detail: a.error } : {}),
      });
  }
  if (event.processedAt !== null) timeline.push({ at: event.processedAt, what: 'processed' });
  for (const s of statuses)
    if (s.sentAt !== null) timeline.push({ at: s.sentAt, what: 'status sent', detail: `status ${s.id}` });
  if (event.status === 'retry' && event.nextAttemptAt !== null)
    timeline.push({ at: event.nextAttemptAt, what: 'next attempt' });
  timeline.sort((a, b) => a.at - b.at);
  return { event, attempts, statuses, channel, timeline };
}

async function deliveries(
  store: Store,
  event: Omit<StoredEvent, 'secrets'>,
  format: TextFormat,
): Promise<ChannelDelivery[]> {
  if (!event.known || event.status === 'invalid') return [];
  const typed = event.event as KnownEventLike & { auth?: { domain?: string } };
  const portal = await store.getPortal(event.memberId);
  let payloads: ChannelPayload[];
  try {
    payloads = channelPayloads(
      typed,
      { eventId: event.id, memberId: event.memberId, domain: portal?.domain ?? typed.auth?.domain ?? '' },
      format,
    );
  } catch {
    // An event kept by an older version may not read as today's types: it is shown without payloads.
    return [];
  }
  const out: ChannelDelivery[] = [];
  for (const payload of payloads) {
    let externalIds: string[] | null = null;
    if (payload.type === 'message.created' || payload.type === 'message.updated') {
      const m = await store.state.message(event.memberId, {
        line: payload.connector.line,
        imMessageId: payload.message.bitrixMessageId,
      });
      externalIds = m && m.externalIds.length > 0 ? m.externalIds : null;
    }
    out.push({ webhookId: payload.id, payload, externalIds });
  }
  return out;
}
