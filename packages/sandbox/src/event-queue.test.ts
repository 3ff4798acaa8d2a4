import { describe, expect, it } from 'vitest';
import { EventQueue, eventLimit, readQueues } from './event-queue.js';

const queueOf = (ids: number[], at = 0): EventQueue => {
  const q = new EventQueue();
  for (const eventId of ids) q.push({ eventId, type: 'ONIMBOTV2MESSAGEADD', date: 'd', data: { n: eventId }, at });
  return q;
};
const ids = (page: { events: { eventId: number }[] }) => page.events.map((e) => e.eventId);

describe('Event.get over a queue', () => {
  it('hands out the oldest `limit`, again and again until an offset confirms them', () => {
    const q = queueOf([1001, 1002, 1003, 1004, 1005]);
    const first = readQueues([q], undefined, 2, 1006);
    expect(first).toMatchObject({ nextOffset: 1003, hasMore: true });
    expect(ids(first)).toEqual([1001, 1002]);
    // No offset: nothing confirmed, the same two again.
    expect(ids(readQueues([q], undefined, 2, 1006))).toEqual([1001, 1002]);
    // nextOffset confirms exactly what was handed out.
    const second = readQueues([q], first.nextOffset, 2, 1006);
    expect(ids(second)).toEqual([1003, 1004]);
    expect(second).toMatchObject({ nextOffset: 1005, hasMore: true });
    const last = readQueues([q], second.nextOffset, 100, 1006);
    expect(ids(last)).toEqual([1005]);
    expect(last).toMatchObject({ nextOffset: 1006, hasMore: false });
    // Nothing waits: the next offset is the id the next event gets, which confirms nothing new.
    const empty = readQueues([q], last.nextOffset, 100, 1006);
    expect(empty).toEqual({ events: [], nextOffset: 1006, hasMore: false });
    expect(q.size).toBe(0);
  });

  it('an offset confirms every event below it, handed out or not, and nothing at or above it', () => {
    const q = queueOf([1001, 1002, 1003, 1004]);
    const page = readQueues([q], 1003, 100, 1005);
    expect(ids(page)).toEqual([1003, 1004]);
    // An offset at or below what is left, or 0, confirms nothing.
    expect(ids(readQueues([q], 1002, 100, 1005))).toEqual([1003, 1004]);
    expect(ids(readQueues([q], 0, 100, 1005))).toEqual([1003, 1004]);
  });

  it('hasMore is true exactly when unconfirmed events are left beyond the page', () => {
    const q = queueOf([1, 2, 3]);
    expect(readQueues([q], undefined, 3, 4).hasMore).toBe(false);
    expect(readQueues([q], undefined, 2, 4).hasMore).toBe(true);
  });

  it('one offset confirms a bot queue and a user queue together, read in id order', () => {
    const bot = queueOf([1001, 1004]);
    const user = queueOf([1002, 1003, 1005]);
    const page = readQueues([bot, user], undefined, 3, 1006);
    expect(ids(page)).toEqual([1001, 1002, 1003]);
    const next = readQueues([bot, user], page.nextOffset, 3, 1006);
    expect(ids(next)).toEqual([1004, 1005]);
    expect([bot.size, user.size]).toEqual([1, 1]);
  });

  it('limit: 1–1000, 100 by default', () => {
    expect(eventLimit(undefined)).toBe(100);
    expect(eventLimit(0)).toBe(1);
    expect(eventLimit(-5)).toBe(1);
    expect(eventLimit(1)).toBe(1);
    expect(eventLimit(1000)).toBe(1000);
    expect(eventLimit(1001)).toBe(1000);
  });

  it('the im.v2 log drops events older than its cutoff', () => {
    const q = new EventQueue();
    q.push({ eventId: 1, type: 't', date: 'd', data: {}, at: 100 });
    q.push({ eventId: 2, type: 't', date: 'd', data: {}, at: 200 });
    q.expire(150);
    expect(q.pending().map((e) => e.eventId)).toEqual([2]);
  });
});
