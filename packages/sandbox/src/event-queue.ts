/** One event waiting in a queue, as `imbot.v2.Event.get` / `im.v2.Event.get` hand it out. */
export interface QueuedEvent {
  eventId: number;
  type: string;
  /** ISO 8601, as Bitrix24 writes dates. */
  date: string;
  data: Record<string, unknown>;
  /** Sandbox clock when queued (ms): the im.v2 log keeps events 24 hours. */
  at: number;
}

/** What one Event.get answers. */
export interface EventPage {
  events: { eventId: number; type: string; date: string; data: Record<string, unknown> }[];
  nextOffset: number;
  hasMore: boolean;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/**
 * The documented range of `limit` is 1–1000, with no error for other values: a value outside it
 * is brought into it, and anything that is not an integer is the default, 100.
 */
export function eventLimit(raw: number | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(1, raw));
}

/**
 * A queue of one bot's (or one user's) events. Ids come from the portal's one sequence, so one
 * `offset` can confirm a bot's and a user's events together (`withUserEvents`).
 */
export class EventQueue {
  readonly #events: QueuedEvent[] = [];

  push(event: QueuedEvent): void {
    this.#events.push(event);
  }

  /** Confirms (removes) every event with an id below `offset`, handed out or not, as the docs say. */
  confirm(offset: number): number {
    let n = 0;
    while (n < this.#events.length && this.#events[n]!.eventId < offset) n++;
    this.#events.splice(0, n);
    return n;
  }

  /** Drops events queued before `cutoff` (sandbox ms): the im.v2 log keeps them 24 hours. */
  expire(cutoff: number): void {
    for (let i = this.#events.length - 1; i >= 0; i--) if (this.#events[i]!.at < cutoff) this.#events.splice(i, 1);
  }

  /** Unconfirmed events, oldest first. */
  pending(): readonly QueuedEvent[] {
    return this.#events;
  }

  get size(): number {
    return this.#events.length;
  }
}

/**
 * One Event.get: first confirm what `offset` confirms in every queue read, then hand out the
 * oldest `limit` unconfirmed events. `nextOffset` confirms exactly those when passed back: the
 * last one's id + 1, or, when none was handed out, the id the next event will get (nothing is
 * waiting, so it confirms nothing new). Unconfirmed events are handed out again on every call.
 */
export function readQueues(
  queues: EventQueue[],
  offset: number | undefined,
  limit: number,
  nextEventId: number,
): EventPage {
  if (offset !== undefined && offset > 0) for (const q of queues) q.confirm(offset);
  const pending =
    queues.length === 1
      ? queues[0]!.pending()
      : queues.flatMap((q) => q.pending()).sort((a, b) => a.eventId - b.eventId);
  const page = pending.slice(0, limit);
  return {
    events: page.map(({ eventId, type, date, data }) => ({ eventId, type, date, data })),
    nextOffset: page.length > 0 ? page.at(-1)!.eventId + 1 : nextEventId,
    hasMore: pending.length > page.length,
  };
}
