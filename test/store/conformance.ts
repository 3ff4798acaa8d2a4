import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BitrixClients } from '../../src/effects/bitrix/client.js';
import { CLIENT_ID, CLIENT_SECRET, installPortal, refreshesOf, startPortal } from '../bitrix-sandbox.js';
import { spawnSync } from 'node:child_process';
import { lapsedAttempt } from '../../src/store/lapsed.js';
import { newOwner, ownerIsDead } from '../../src/store/owner.js';
import type { SqlStore } from '../../src/store/sql-store.js';
import type { NewCustomerAction, NewEvent, NewStatus, PortalRecord, Store } from '../../src/store/types.js';
import { until } from '../helpers.js';
import { stateConformance } from './state-conformance.js';

export interface StoreOptions {
  secretKey?: string;
}

export interface StoreFactory {
  /**
   * A new empty store, a second handle on the same data (another instance, maybe with other
   * options), and SQL straight on its database (`?` placeholders), to see what is kept.
   */
  open(options?: StoreOptions): Promise<{
    store: Store;
    other: (options?: StoreOptions) => Store;
    sql: (text: string, ...params: unknown[]) => Promise<Record<string, unknown>[]>;
    cleanup: () => Promise<void>;
  }>;
  /** Rows the database refuses, each in its own way (the wire refuses them before a store sees them). */
  poisons: Partial<Record<keyof NewEvent, unknown>>[];
}

const KEY = Buffer.alloc(32, 7).toString('base64');
const OTHER_KEY = Buffer.alloc(32, 9).toString('hex');

let seq = 0;
export const newEvent = (over: Partial<NewEvent> = {}): NewEvent => ({
  dedupKey: `k${++seq}-${Math.random()}`,
  memberId: 'm1',
  code: 'ONIMCONNECTORMESSAGEUPDATE',
  known: true,
  status: 'pending',
  handlerId: 1,
  ts: 1,
  orderKey: null,
  receivedAt: 1_000,
  event: '{"event":"ONIMCONNECTORMESSAGEUPDATE"}',
  rawBody: 'event=ONIMCONNECTORMESSAGEUPDATE',
  contentType: 'form',
  error: null,
  ...over,
});

/** The owner name of a process of this machine that has ended. */
export function deadOwner(): string {
  const [host, , , proc] = newOwner().split(':');
  return `${host}:${spawnSync(process.execPath, ['-e', '0']).pid}:dead00:${proc}`;
}

export const portal = (over: Partial<PortalRecord> = {}): PortalRecord => ({
  memberId: 'm1',
  domain: 'a.bitrix24.com',
  applicationToken: 'app',
  accessToken: 'acc',
  refreshToken: 'ref',
  expiresAt: 5_000,
  clientEndpoint: 'https://a.bitrix24.com/rest/',
  serverEndpoint: 'https://oauth.bitrix.info/rest/',
  scope: 'imconnector',
  status: 'L',
  installedAt: 1,
  uninstalledAt: null,
  updatedAt: 1,
  ...over,
});

/** One contract, run against every Store implementation: the inbox, the outbox, the portals, what instances share, and the connector state. */
export function storeConformance(name: string, factory: StoreFactory, enabled = true): void {
  describe.skipIf(!enabled)(`Store conformance: ${name}`, () => {
    let store: Store;
    let other: (options?: StoreOptions) => Store;
    let sql: (text: string, ...params: unknown[]) => Promise<Record<string, unknown>[]>;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, other, sql, cleanup } = await factory.open());
    });
    /** Reopens the data with other options: the store the test then uses. */
    const reopen = (options: StoreOptions): Store => (store = other(options));
    afterEach(async () => {
      await cleanup();
    });

    it('keeps what it appends, with every field', async () => {
      const e = newEvent({ orderKey: 'm1|im|1|c', handlerId: 557, ts: 1773760030, error: null });
      const r = await store.append(e);
      expect(r.duplicate).toBe(false);
      const got = await store.getEvent(r.id);
      expect(got).toMatchObject({
        id: r.id,
        memberId: 'm1',
        code: e.code,
        known: true,
        status: 'pending',
        handlerId: 557,
        ts: 1773760030,
        orderKey: 'm1|im|1|c',
        receivedAt: 1_000,
        rawBody: e.rawBody,
        contentType: 'form',
        attempts: 0,
        duplicates: 0,
      });
      expect(got?.event).toEqual({ event: 'ONIMCONNECTORMESSAGEUPDATE' });
    });

    it('stores a duplicate once, even when the copies arrive together', async () => {
      const e = newEvent();
      const results = await Promise.all(Array.from({ length: 30 }, () => store.append({ ...e })));
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect((await store.getEvent(results[0]!.id))?.duplicates).toBe(29);
    });

    it('commits a burst of appends, each with its own id', async () => {
      const results = await Promise.all(Array.from({ length: 300 }, () => store.append(newEvent())));
      expect(new Set(results.map((r) => r.id)).size).toBe(300);
      expect((await store.countEvents()).pending).toBe(300);
    });

    it('commits a portal change with its event, and erases secrets on uninstall', async () => {
      await store.append(newEvent({ code: 'ONAPPINSTALL' }), { kind: 'install', portal: portal() });
      expect(await store.getPortal('m1')).toMatchObject({
        domain: 'a.bitrix24.com',
        applicationToken: 'app',
        refreshToken: 'ref',
      });
      await store.savePortalTokens('m1', { accessToken: 'acc2', refreshToken: 'ref2', expiresAt: 9_000 });
      expect(await store.getPortal('m1')).toMatchObject({
        accessToken: 'acc2',
        refreshToken: 'ref2',
        expiresAt: 9_000,
        clientEndpoint: 'https://a.bitrix24.com/rest/',
      });
      await store.append(newEvent({ code: 'ONAPPUNINSTALL' }), { kind: 'uninstall', memberId: 'm1', at: 7 });
      expect(await store.getPortal('m1')).toMatchObject({
        applicationToken: null,
        accessToken: null,
        refreshToken: null,
        uninstalledAt: 7,
      });
      expect((await store.listPortals()).map((p) => p.memberId)).toEqual(['m1']);
    });

    it('claims in order per key, and frees the next one when the first is done', async () => {
      const a1 = await store.append(newEvent({ orderKey: 'A' }));
      const a2 = await store.append(newEvent({ orderKey: 'A' }));
      const b1 = await store.append(newEvent({ orderKey: 'B' }));
      const free = await store.append(newEvent({ orderKey: null }));
      const first = await store.claim('w1', 10, 1_000, 10, 10);
      expect(first.map((e) => e.id)).toEqual([a1.id, b1.id, free.id]);
      expect(first.every((e) => e.status === 'processing' && e.attempts === 1)).toBe(true);
      expect(await store.claim('w1', 10, 1_000, 10, 10)).toEqual([]);
      expect(await store.finish(a1.id, 'w1', { ok: true }, 20)).toBe(true);
      expect((await store.claim('w1', 20, 1_000, 10, 10)).map((e) => e.id)).toEqual([a2.id]);
      expect((await store.getEvent(a1.id))?.status).toBe('done');
    });

    it('behind a long queue, claims only the head of each chat whose head is free, and keeps each chat in order', async () => {
      // More open events than a claim looks at oldest first: the chats are walked.
      const ids: Record<string, number[]> = { A: [], B: [], C: [] };
      for (let i = 0; i < 70; i++)
        for (const key of ['A', 'B', 'C']) ids[key]!.push((await store.append(newEvent({ orderKey: key }))).id);
      const [a, b, c] = [ids.A!, ids.B!, ids.C!];
      const d = (await store.append(newEvent({ orderKey: 'D' }))).id;
      const free = (await store.append(newEvent({ orderKey: null }))).id;
      const claim = async (owner: string, now: number, limit: number) =>
        (await store.claim(owner, now, 100, limit, 10)).map((e) => (e.takenOver ? `${e.id} taken` : e.id));
      expect(await claim('w1', 10, 1)).toEqual([a[0]]);
      expect(await claim('w1', 10, 2)).toEqual([b[0], c[0]]);
      expect(await store.finish(b[0]!, 'w1', { ok: false, error: 'boom', retryAt: 500 }, 20)).toBe(true);
      // A and C are held by leases, B by a retry not yet due: none of their queued events runs.
      expect(await claim('w2', 50, 10)).toEqual([d, free]);
      expect(await claim('w2', 60, 10)).toEqual([]);
      // The leases of A and C ran out: their heads are taken over, B still waits.
      expect(await claim('w2', 120, 10)).toEqual([`${a[0]} taken`, `${c[0]} taken`]);
      for (const id of [a[0]!, c[0]!, d, free]) expect(await store.finish(id, 'w2', { ok: true }, 130)).toBe(true);
      expect(await claim('w2', 140, 10)).toEqual([a[1], c[1]]);
      // Due now, B's head runs before the later events of A and C, whose heads are done.
      for (const id of [a[1]!, c[1]!]) expect(await store.finish(id, 'w2', { ok: true }, 150)).toBe(true);
      expect(await claim('w2', 500, 2)).toEqual([b[0], a[2]]);
      expect(await store.finish(b[0]!, 'w2', { ok: true }, 510)).toBe(true);
      expect(await claim('w2', 520, 10)).toEqual([b[1], c[2]]);
    });

    it('holds a key behind a retry that is not due, and lets a dead letter pass', async () => {
      const a1 = await store.append(newEvent({ orderKey: 'A' }));
      const a2 = await store.append(newEvent({ orderKey: 'A' }));
      await store.claim('w1', 10, 1_000, 1, 10);
      await store.finish(a1.id, 'w1', { ok: false, error: 'boom', retryAt: 500 }, 20);
      expect(await store.claim('w1', 100, 1_000, 10, 10)).toEqual([]);
      const again = await store.claim('w1', 500, 1_000, 10, 10);
      expect(again.map((e) => [e.id, e.attempts])).toEqual([[a1.id, 2]]);
      await store.finish(a1.id, 'w1', { ok: false, error: 'boom twice', retryAt: null }, 600);
      expect(await store.getEvent(a1.id)).toMatchObject({ status: 'dead', lastError: 'boom twice' });
      expect((await store.claim('w1', 600, 1_000, 10, 10)).map((e) => e.id)).toEqual([a2.id]);
      const attempts = await store.attempts(a1.id);
      expect(attempts.map((a) => [a.attempt, a.ok, a.error])).toEqual([
        [1, false, 'boom'],
        [2, false, 'boom twice'],
      ]);
      expect(await store.requeue([a1.id])).toBe(1);
      expect(await store.getEvent(a1.id)).toMatchObject({ status: 'pending', attempts: 0 });
    });

    it('gives a lapsed lease to another worker, and drops the late outcome of the first', async () => {
      const e = await store.append(newEvent());
      await store.claim('crashed', 10, 100, 10, 10);
      expect(await store.claim('w2', 50, 100, 10, 10)).toEqual([]);
      expect((await store.claim('w2', 111, 100, 10, 10)).map((x) => x.id)).toEqual([e.id]);
      expect(await store.finish(e.id, 'crashed', { ok: true }, 120)).toBe(false);
      expect(await store.finish(e.id, 'w2', { ok: true }, 120)).toBe(true);
      // The attempt that never recorded an outcome is closed, with the reason, when its event is taken again.
      expect((await store.attempts(e.id)).map((a) => [a.attempt, a.owner, a.ok, a.error, a.finishedAt])).toEqual([
        [1, 'crashed', false, lapsedAttempt, 111],
        [2, 'w2', true, null, 120],
      ]);
    });

    it('renews only the leases the owner still holds', async () => {
      const [a, b, c] = [
        await store.append(newEvent()),
        await store.append(newEvent()),
        await store.append(newEvent()),
      ];
      expect((await store.claim('w1', 10, 100, 10, 10)).map((e) => e.id)).toEqual([a.id, b.id, c.id]);
      expect(await store.renewLeases([], 'w1', 300)).toEqual([]);
      expect((await store.renewLeases([a.id, b.id, c.id], 'w1', 300)).sort((x, y) => x - y)).toEqual([
        a.id,
        b.id,
        c.id,
      ]);
      // Renewed past 110: nobody may take them at 200.
      expect(await store.claim('w2', 200, 100, 10, 10)).toEqual([]);
      expect(await store.finish(a.id, 'w1', { ok: true }, 210)).toBe(true);
      expect(await store.renewLeases([c.id], 'w1', 1_000)).toEqual([c.id]);
      expect((await store.claim('w2', 301, 100, 10, 10)).map((e) => e.id)).toEqual([b.id]);
      // Done (a), taken by another (b), unknown (999999): not renewed; another owner renews nothing of w1's.
      expect(await store.renewLeases([a.id, b.id, c.id, 999_999], 'w1', 2_000)).toEqual([c.id]);
      expect(await store.renewLeases([c.id], 'w3', 2_000)).toEqual([]);
      expect(await store.renewLeases([b.id], 'w2', 2_000)).toEqual([b.id]);
      expect(await store.claim('w3', 1_500, 100, 10, 10)).toEqual([]);
      expect(await store.finish(b.id, 'w2', { ok: true }, 1_600)).toBe(true);
      expect(await store.finish(c.id, 'w1', { ok: true }, 1_600)).toBe(true);
    });

    it('makes an event dead at claim when its lease ran out on its last attempt, and frees its chat', async () => {
      const a1 = await store.append(newEvent({ orderKey: 'A', secrets: '{"x":"spent-secret"}' }));
      const a2 = await store.append(newEvent({ orderKey: 'A' }));
      // Two processes die during the event (budget 2): the second takes it after the first's lease.
      expect((await store.claim('p1', 10, 100, 10, 2)).map((e) => [e.id, e.attempts])).toEqual([[a1.id, 1]]);
      expect((await store.claim('p2', 200, 100, 10, 2)).map((e) => [e.id, e.attempts])).toEqual([[a1.id, 2]]);
      // The third finds the budget spent: a1 is dead, not run, and a2 of its chat is claimed at once.
      expect((await store.claim('p3', 400, 100, 10, 2)).map((e) => e.id)).toEqual([a2.id]);
      const dead = await store.getEvent(a1.id);
      expect(dead).toMatchObject({ status: 'dead', attempts: 2 });
      expect(dead?.lastError).toMatch(/^the gateway stopped during each of its 2 attempts \(a crash loop\?\)/);
      // Dead, it never runs again: its secrets go with it.
      expect(await sql('SELECT event_id FROM event_secrets')).toEqual([]);
      expect((await store.attempts(a1.id)).map((a) => [a.attempt, a.owner, a.ok, a.error, a.finishedAt])).toEqual([
        [1, 'p1', false, lapsedAttempt, 200],
        [2, 'p2', false, dead?.lastError, 400],
      ]);
      expect(await store.finish(a1.id, 'p2', { ok: true }, 410)).toBe(false);
      expect(await store.finish(a2.id, 'p3', { ok: true }, 410)).toBe(true);
      expect(await store.claim('p4', 10_000, 100, 10, 2)).toEqual([]);
      expect(await store.getEvent(a1.id)).toMatchObject({ status: 'dead', attempts: 2 });
    });

    it('tells a spent budget whose last attempt lapsed from a crash loop, and replay gives a fresh budget', async () => {
      const e = await store.append(newEvent());
      await store.claim('w1', 10, 100, 10, 2);
      await store.finish(e.id, 'w1', { ok: false, error: 'boom', retryAt: 50 }, 20);
      expect((await store.claim('p2', 60, 100, 10, 2)).map((x) => x.attempts)).toEqual([2]);
      // Under budget, a lapsed lease is taken again; at the budget, it is dead.
      expect(await store.claim('p3', 1_000, 100, 10, 2)).toEqual([]);
      expect((await store.getEvent(e.id))?.lastError).toMatch(
        /^the gateway stopped during its last attempt \(2 of 2\)/,
      );
      expect(await store.requeue([e.id])).toBe(1);
      expect((await store.claim('p4', 1_100, 100, 10, 2)).map((x) => [x.id, x.attempts])).toEqual([[e.id, 1]]);
    });

    it('makes a delivery status dead at claim when its lease ran out on its last attempt', async () => {
      const status = (eventId: number): NewStatus => ({ memberId: 'm1', connector: 'c', line: 1, item: '{}', eventId });
      await store.enqueueStatuses([status(1), status(2)]);
      const [s1, s2] = await store.claimStatuses('p1', 10, 100, 10, 2);
      await store.finishStatuses([s2!.id], 'p1', { ok: true }, 20);
      expect((await store.claimStatuses('p2', 200, 100, 10, 2)).map((s) => [s.id, s.attempts])).toEqual([[s1!.id, 2]]);
      expect(await store.claimStatuses('p3', 400, 100, 10, 2)).toEqual([]);
      expect(await store.countStatuses()).toEqual({ pending: 0, sent: 1, dead: 1 });
      // The late outcome of the process that lost it changes nothing.
      await store.finishStatuses([s1!.id], 'p2', { ok: true }, 410);
      expect(await store.countStatuses()).toEqual({ pending: 0, sent: 1, dead: 1 });
    });

    it('tells when the oldest pending event was received, for the queue age', async () => {
      expect(await store.oldestPendingAt?.()).toBe(null);
      await store.append(newEvent({ dedupKey: 'o1', receivedAt: 5_000 }));
      await store.append(newEvent({ dedupKey: 'o2', receivedAt: 7_000 }));
      expect(await store.oldestPendingAt?.()).toBe(5_000);
      await store.claim('p1', 8_000, 1_000, 1, 8);
      expect(await store.oldestPendingAt?.()).toBe(7_000);
    });

    it('takes back at once, in every queue, what a dead process of this machine held, and leaves a live one its leases', async () => {
      const dead = deadOwner();
      const alive = newOwner();
      expect([ownerIsDead(dead), ownerIsDead(alive), ownerIsDead('elsewhere:1:ab:1.1'), ownerIsDead('p1')]).toEqual([
        true,
        false,
        false,
        false,
      ]);
      const e1 = await store.append(newEvent({ dedupKey: 'd1' }));
      const e2 = await store.append(newEvent({ dedupKey: 'd2' }));
      await store.enqueueStatuses([{ memberId: 'm1', connector: 'c', line: 1, item: '{}', eventId: e1.id }]);
      expect((await store.claim(dead, 1_000, 600_000, 1, 8)).map((e) => e.id)).toEqual([e1.id]);
      expect((await store.claim(alive, 1_000, 600_000, 1, 8)).map((e) => e.id)).toEqual([e2.id]);
      const [s1] = await store.claimStatuses(dead, 1_000, 600_000, 10, 8);
      expect(await (store as unknown as SqlStore).endLeasesOfDeadOwners(2_000)).toEqual([dead]);
      const taken = await store.claim('p2', 2_001, 600_000, 10, 8);
      expect(taken.map((e) => [e.id, e.takenOver])).toEqual([[e1.id, true]]);
      expect((await store.claimStatuses('p2', 2_001, 600_000, 10, 8)).map((s) => s.id)).toEqual([s1!.id]);
      // The live owner keeps its event, and renews it; a status renewal answers for the owner's only.
      expect(await store.renewLeases([e2.id], alive, 700_000)).toEqual([e2.id]);
      expect(await store.renewStatuses([s1!.id], dead, 700_000)).toEqual([]);
      expect(await store.renewStatuses([s1!.id], 'p2', 700_000)).toEqual([s1!.id]);
    });

    it('never gives one event, or two events of one key, to two instances at once', async () => {
      // One chat's long queue first: while its head runs, a claim walks the chats behind it.
      for (let i = 0; i < 70; i++) await store.append(newEvent({ orderKey: 'K6' }));
      for (let i = 0; i < 60; i++) await store.append(newEvent({ orderKey: `K${i % 6}` }));
      const second = other();
      const claimed: { owner: string; id: number; key: string | null }[] = [];
      const running = new Set<string>();
      let overlap = 0;
      const work = async (s: Store, owner: string) => {
        for (;;) {
          const batch = await s.claim(owner, 10, 60_000, 3, 10);
          if (batch.length === 0) {
            if ((await s.countEvents()).done === 130) return;
            await new Promise((r) => setTimeout(r, 2));
            continue;
          }
          for (const e of batch) {
            if (running.has(e.orderKey!)) overlap++;
            running.add(e.orderKey!);
            claimed.push({ owner, id: e.id, key: e.orderKey });
          }
          await new Promise((r) => setTimeout(r, 1));
          for (const e of batch) {
            running.delete(e.orderKey!);
            await s.finish(e.id, owner, { ok: true }, 20);
          }
        }
      };
      await Promise.all([work(store, 'a'), work(second, 'b')]);
      expect(overlap).toBe(0);
      expect(new Set(claimed.map((c) => c.id)).size).toBe(130);
      expect(claimed).toHaveLength(130);
      for (let k = 0; k < 7; k++) {
        const ids = claimed.filter((c) => c.key === `K${k}`).map((c) => c.id);
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
      }
    });

    it('lists and counts by status, portal, code and time', async () => {
      await store.append(newEvent({ memberId: 'm1', receivedAt: 100 }));
      await store.append(newEvent({ memberId: 'm2', receivedAt: 200, code: 'ONAPPTEST' }));
      await store.append(newEvent({ memberId: 'm2', receivedAt: 300, status: 'invalid', error: 'bad' }));
      expect((await store.listEvents({ memberId: 'm2' })).map((e) => e.receivedAt)).toEqual([200, 300]);
      expect((await store.listEvents({ since: 150, until: 300 })).map((e) => e.receivedAt)).toEqual([200]);
      expect(await store.listEvents({ code: 'ONAPPTEST' })).toHaveLength(1);
      expect((await store.listEvents({ status: 'invalid' }))[0]?.lastError).toBe('bad');
      expect(await store.listEvents({ limit: 1 })).toHaveLength(1);
      expect(await store.countEvents()).toMatchObject({ pending: 2, invalid: 1, done: 0 });
      expect(await store.ping()).toBe(true);
    });

    it('counts only the statuses asked for', async () => {
      await store.append(newEvent());
      await store.append(newEvent({ status: 'invalid', error: 'bad' }));
      const done = await store.append(newEvent());
      await store.claim('w', 10, 1_000, 10, 8);
      await store.finish(done.id, 'w', { ok: true }, 20);
      expect(await store.countEvents(['pending', 'processing', 'invalid', 'dead'])).toEqual({
        pending: 0,
        processing: 1,
        invalid: 1,
        dead: 0,
      });
      expect(await store.countEvents(['done'])).toEqual({ done: 1 });
    });

    it('prunes only finished events received before the cutoff, with their attempts and delivery statuses', async () => {
      type Ev = { id: number; status: string; receivedAt: number };
      const add = async (status: string, receivedAt: number): Promise<Ev> => ({
        id: (await store.append(newEvent({ receivedAt }))).id,
        status,
        receivedAt,
      });
      // Old events (received at 1,000) in every status but pending, and new finished ones (9,000), run by a worker.
      const run = [
        await add('done', 1_000),
        await add('done', 1_000),
        await add('dead', 1_000),
        await add('retry', 1_000),
        await add('processing', 1_000),
        await add('done', 9_000),
        await add('dead', 9_000),
      ];
      const unsent = await add('done', 1_000);
      run.push(unsent);
      expect(await store.claim('w', 10, 60_000, 100, 8)).toHaveLength(run.length);
      for (const e of run) {
        if (e.status === 'processing') continue;
        const outcome =
          e.status === 'done'
            ? { ok: true as const }
            : { ok: false as const, error: 'boom', retryAt: e.status === 'dead' ? null : 50_000 };
        expect(await store.finish(e.id, 'w', outcome, 20)).toBe(true);
      }
      const pending = await add('pending', 1_000);
      const invalid = {
        id: (await store.append(newEvent({ receivedAt: 1_000, status: 'invalid', error: 'bad' }))).id,
        status: 'invalid',
        receivedAt: 1_000,
      };
      const all = [...run, pending, invalid].sort((a, b) => a.id - b.id);
      // Delivery statuses: sent for the first old done event, still waiting to be sent for `unsent`.
      const first = run[0]!;
      await store.enqueueStatuses(
        [first, unsent].map((e) => ({ memberId: 'm1', connector: 'c', line: 1, item: '{}', eventId: e.id })),
      );
      const statuses = await store.claimStatuses('s', 30, 60_000, 10, 8);
      await store.finishStatuses(
        statuses.filter((x) => x.eventId === first.id).map((x) => x.id),
        's',
        { ok: true },
        40,
      );
      await store.finishStatuses(
        statuses.filter((x) => x.eventId === unsent.id).map((x) => x.id),
        's',
        { ok: false, error: 'later', retryAt: 99_000 },
        40,
      );

      const query = { before: 5_000, statuses: ['done', 'invalid', 'dead'] as const, limit: 100 };
      const gone = all
        .filter((e) => e !== unsent && e.receivedAt < 5_000 && ['done', 'dead', 'invalid'].includes(e.status))
        .map((e) => e.id);
      expect(gone).toHaveLength(4);
      expect(await store.pruneEvents({ ...query, dryRun: true })).toBe(4);
      expect(await store.pruneEvents({ ...query, statuses: ['dead'], limit: 5 })).toBe(1);
      expect(await store.pruneEvents({ ...query, limit: 2 })).toBe(2);
      expect(await store.pruneEvents(query)).toBe(1);
      expect(await store.pruneEvents(query)).toBe(0);
      expect((await store.listEvents()).map((e) => e.id)).toEqual(
        all.map((e) => e.id).filter((id) => !gone.includes(id)),
      );
      for (const id of gone) expect(await store.attempts(id)).toEqual([]);
      expect(await store.attempts(run[3]!.id)).toHaveLength(1);
      // The sent status went with its event; the one still waiting kept its event.
      expect(await store.countStatuses()).toEqual({ pending: 1, sent: 0, dead: 0 });
      expect((await store.getEvent(unsent.id))?.status).toBe('done');
      await expect(store.pruneEvents({ ...query, statuses: ['done', 'pending'] as never })).rejects.toMatchObject({
        code: 'B24GW_BAD_INPUT',
      });
    });

    it('one row the database refuses fails alone: the others of its commit are stored and answered', async () => {
      for (const poison of factory.poisons) {
        // The first append is committed at once; those made meanwhile share the next commit.
        const lead = store.append(newEvent());
        const rows = [
          newEvent({ orderKey: 'P' }),
          newEvent(poison as Partial<NewEvent>),
          newEvent(),
          newEvent({ memberId: 'm2' }),
        ];
        const results = await Promise.allSettled([lead, ...rows.map((e) => store.append(e))]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
        expect(String((results[2] as PromiseRejectedResult).reason)).not.toBe('');
        // A coded error, with what the database said as its cause.
        const refused = (results[2] as PromiseRejectedResult).reason as { code: string; cause?: { message?: string } };
        expect(refused).toMatchObject({ code: 'B24GW_STORE_FAILED' });
        expect(refused.cause?.message).toMatch(/null|NUL|0x00/i);
        for (const r of results.filter((x) => x.status === 'fulfilled')) {
          const { id, duplicate } = r.value;
          expect(duplicate).toBe(false);
          expect(await store.getEvent(id)).toMatchObject({ id, status: 'pending' });
        }
      }
      expect((await store.countEvents()).pending).toBe(4 * factory.poisons.length);
    });

    it('keeps an edit back within one second (A, B, A) and takes a re-delivery of the latest for a duplicate', async () => {
      const at = (key: string, ts: number, orderKey: string | null = 'C') =>
        newEvent({ dedupKey: `${ts}:${key}`, ts, orderKey });
      const a1 = await store.append(at('a', 100));
      const b = await store.append(at('b', 100));
      const a2 = await store.append(at('a', 100));
      expect(a2.duplicate).toBe(false);
      expect(new Set([a1.id, b.id, a2.id]).size).toBe(3);
      // A proxy repeating the last body: the same event.
      expect(await store.append(at('a', 100))).toEqual({ id: a2.id, duplicate: true });
      expect(await store.getEvent(a2.id)).toMatchObject({ duplicates: 1 });
      expect(await store.getEvent(a1.id)).toMatchObject({ duplicates: 0 });
      // A late copy of an event of an earlier second cannot be an edit back: a duplicate.
      await store.append(at('c', 101));
      expect(await store.append(at('b', 100))).toEqual({ id: b.id, duplicate: true });
      // An event of another chat in between changes nothing; events of no chat keep the plain rule.
      const h = await store.append(at('h', 102));
      await store.append(at('i', 102, 'D'));
      expect(await store.append(at('h', 102))).toEqual({ id: h.id, duplicate: true });
      const f1 = await store.append(at('f', 100, null));
      await store.append(at('g', 100, null));
      expect(await store.append(at('f', 100, null))).toEqual({ id: f1.id, duplicate: true });
      expect(await store.listEvents()).toHaveLength(8);
      // The repeat runs after B, in its chat's order.
      expect((await store.claim('w', 1, 1_000, 10, 8)).map((e) => e.id)).toContain(a1.id);
      await store.finish(a1.id, 'w', { ok: true }, 2);
      expect((await store.claim('w', 3, 1_000, 10, 8)).map((e) => e.id)).toContain(b.id);
      await store.finish(b.id, 'w', { ok: true }, 4);
      expect((await store.claim('w', 5, 1_000, 10, 8)).map((e) => e.id)).toContain(a2.id);
    });

    it("takes a copy for the stored event when its chat's latest event was archived", async () => {
      const at = (key: string) => newEvent({ dedupKey: `100:${key}`, ts: 100, orderKey: 'C' });
      const a1 = await store.append(at('a'));
      await store.append(at('b'));
      const a2 = await store.append(at('a'));
      await sql('DELETE FROM events WHERE id = ?', a2.id);
      expect(await store.append(at('a'))).toEqual({ id: a1.id, duplicate: true });
    });

    it('stores copies of one chat event arriving together once, with every answer naming it', async () => {
      const e = newEvent({ orderKey: 'C' });
      const results = await Promise.all(Array.from({ length: 20 }, () => store.append({ ...e })));
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect((await store.getEvent(results[0]!.id))?.duplicates).toBe(19);
    });

    it("keeps an event's secrets apart: claim returns them, list and get never, and finishing erases them", async () => {
      const secrets = '{"571":{"access_token":"bot-access-1"}}';
      const first = newEvent({ secrets });
      const done = await store.append(first);
      const dead = await store.append(newEvent({ secrets: '{"x":"dead-secret"}' }));
      const retried = await store.append(newEvent({ secrets: '{"x":"retry-secret"}' }));
      const none = await store.append(newEvent());
      // An invalid event never runs, so nothing would erase its secrets: none are kept.
      await store.append(newEvent({ status: 'invalid', error: 'bad', secrets: '{"x":"invalid"}' }));
      // A copy's secrets do not replace the stored event's.
      expect(await store.append({ ...first, secrets: '{"x":"copy"}' })).toEqual({ id: done.id, duplicate: true });
      const kept = await sql('SELECT event_id, data FROM event_secrets ORDER BY event_id');
      expect(kept.map((r) => Number(r.event_id))).toEqual([done.id, dead.id, retried.id]);
      expect(kept[0]?.data).toBe(secrets);
      for (const e of [...(await store.listEvents()), (await store.getEvent(done.id))!]) {
        expect(e.secrets ?? null).toBeNull();
        expect(JSON.stringify(e)).not.toContain('bot-access-1');
      }
      const claimed = new Map((await store.claim('w', 10, 1_000, 10, 8)).map((e) => [e.id, e.secrets]));
      expect(claimed.get(done.id)).toBe(secrets);
      expect(claimed.get(none.id)).toBeNull();
      await store.finish(done.id, 'w', { ok: true }, 20);
      await store.finish(dead.id, 'w', { ok: false, error: 'x', retryAt: null }, 20);
      await store.finish(retried.id, 'w', { ok: false, error: 'x', retryAt: 30 }, 20);
      expect(
        (await sql('SELECT event_id FROM event_secrets ORDER BY event_id')).map((r) => Number(r.event_id)),
      ).toEqual([retried.id]);
      // The retry has them again; a replayed finished event runs without.
      expect((await store.claim('w', 30, 1_000, 10, 8)).find((e) => e.id === retried.id)?.secrets).toBe(
        '{"x":"retry-secret"}',
      );
      await store.requeue([done.id]);
      expect((await store.claim('w', 40, 1_000, 10, 8)).find((e) => e.id === done.id)?.secrets).toBeNull();
    });

    it('with a key, keeps tokens and secrets encrypted, reads them back, and re-encrypts plain ones when written', async () => {
      // Written without a key first: the plain values a store keeps before a key is set.
      await store.append(newEvent({ code: 'ONAPPINSTALL' }), {
        kind: 'install',
        portal: portal({ accessToken: 'plain-access', refreshToken: 'plain-refresh' }),
      });
      reopen({ secretKey: KEY });
      expect(await store.getPortal('m1')).toMatchObject({ accessToken: 'plain-access', refreshToken: 'plain-refresh' });
      await store.savePortalTokens('m1', { accessToken: 'access-2', refreshToken: 'refresh-2', expiresAt: 9_000 });
      await store.append(newEvent({ code: 'ONAPPINSTALL', memberId: 'm2' }), {
        kind: 'install',
        portal: portal({ memberId: 'm2', accessToken: 'access-3', refreshToken: 'refresh-3' }),
      });
      const e = await store.append(newEvent({ memberId: 'm2', secrets: '{"AUTH":"bot-secret"}' }));
      const raw = JSON.stringify([
        ...(await sql('SELECT * FROM portals')),
        ...(await sql('SELECT * FROM event_secrets')),
      ]);
      for (const plain of ['access-2', 'refresh-2', 'access-3', 'refresh-3', 'bot-secret'])
        expect(raw).not.toContain(plain);
      const tokens = await sql('SELECT access_token, refresh_token FROM portals ORDER BY member_id');
      for (const t of tokens.flatMap((r) => [r.access_token, r.refresh_token]))
        expect(String(t)).toMatch(/^enc:v1:[A-Za-z0-9_-]+$/);
      expect(await store.getPortal('m1')).toMatchObject({
        accessToken: 'access-2',
        refreshToken: 'refresh-2',
        applicationToken: 'app',
      });
      expect((await store.listPortals()).map((p) => p.accessToken)).toEqual(['access-2', 'access-3']);
      expect((await store.claim('w', 10, 1_000, 10, 8)).find((x) => x.id === e.id)?.secrets).toBe(
        '{"AUTH":"bot-secret"}',
      );
      // The application token is not the store's to encrypt.
      expect(
        (await sql('SELECT application_token FROM portals ORDER BY member_id')).map((r) => r.application_token),
      ).toEqual(['app', 'app']);
    });

    it('refuses, with a coded error naming B24GW_SECRET_KEY, to read secrets under another key or none, never a garbled token', async () => {
      // Opened before anything is encrypted: the read itself must refuse.
      const wrong = other({ secretKey: OTHER_KEY });
      reopen({ secretKey: KEY });
      await store.append(newEvent({ code: 'ONAPPINSTALL' }), { kind: 'install', portal: portal() });
      const refusal = { code: 'B24GW_SECRET_UNREADABLE', message: expect.stringMatching(/B24GW_SECRET_KEY/) };
      await expect(wrong.getPortal('m1')).rejects.toMatchObject(refusal);
      // Opened after: the store refuses from the start.
      await expect(Promise.resolve().then(() => other({ secretKey: OTHER_KEY }).getPortal('m1'))).rejects.toMatchObject(
        refusal,
      );
      await expect(Promise.resolve().then(() => other().listPortals())).rejects.toMatchObject(refusal);
      expect(await other({ secretKey: KEY }).getPortal('m1')).toMatchObject({
        accessToken: 'acc',
        refreshToken: 'ref',
      });
    });

    it('refuses an append once closed, with a coded error, and answers a ping false', async () => {
      const closed = other();
      expect(await closed.ping()).toBe(true);
      await closed.close();
      await expect(closed.append(newEvent())).rejects.toMatchObject({ code: 'B24GW_STORE_CLOSED', status: 503 });
      expect(await closed.ping()).toBe(false);
      // A second close is no error.
      await closed.close();
    });

    it('a close waits for the appends already made, and each is stored and answered', async () => {
      const closing = other();
      const appends = Array.from({ length: 40 }, (_, i) => closing.append(newEvent({ dedupKey: `closing-${i}` })));
      await closing.close();
      const results = await Promise.all(appends);
      expect(results.filter((r) => r.duplicate)).toEqual([]);
      const stored = await store.listEvents({ limit: 100 });
      expect(stored.map((e) => e.id).sort((a, b) => a - b)).toEqual(results.map((r) => r.id).sort((a, b) => a - b));
    });

    it('one commit mixing events with and without secrets, portal changes and repeats keeps each as sent', async () => {
      const twin = newEvent();
      const chatTwin = newEvent({ orderKey: 'T' });
      // The first append is committed at once; those made meanwhile share the next commit.
      const lead = store.append(newEvent());
      const made = [
        store.append(newEvent({ code: 'ONAPPINSTALL', secrets: '{"x":"with-change"}' }), {
          kind: 'install',
          portal: portal(),
        }),
        store.append(newEvent()),
        store.append(newEvent({ secrets: '{"x":"alone"}' })),
        store.append(newEvent({ code: 'ONAPPINSTALL', memberId: 'm2' }), {
          kind: 'install',
          portal: portal({ memberId: 'm2', domain: 'b.bitrix24.com' }),
        }),
        store.append(twin),
        store.append({ ...twin }),
      ];
      await lead;
      const [withChange, plain, alone, changeOnly, t1, t2] = await Promise.all(made);
      // Copies of a chat's event in one commit: PostgreSQL writes that commit row by row.
      const [c1, c2, inOrder] = await Promise.all([
        store.append(chatTwin),
        store.append({ ...chatTwin }),
        store.append(newEvent({ orderKey: 'U', secrets: '{"x":"in order"}' })),
      ]);
      expect([t1!.duplicate, t2!.duplicate, t2!.id, c1!.duplicate, c2!.duplicate, c2!.id]).toEqual([
        false,
        true,
        t1!.id,
        false,
        true,
        c1!.id,
      ]);
      expect(new Set([withChange, plain, alone, changeOnly, t1, c1].map((r) => r!.id)).size).toBe(6);
      expect(
        (await sql('SELECT event_id, data FROM event_secrets ORDER BY event_id')).map((r) => [
          Number(r.event_id),
          r.data,
        ]),
      ).toEqual([
        [withChange!.id, '{"x":"with-change"}'],
        [alone!.id, '{"x":"alone"}'],
        [inOrder!.id, '{"x":"in order"}'],
      ]);
      expect((await store.listPortals()).map((p) => [p.memberId, p.domain])).toEqual([
        ['m1', 'a.bitrix24.com'],
        ['m2', 'b.bitrix24.com'],
      ]);
      expect([(await store.getEvent(t1!.id))?.duplicates, (await store.getEvent(c1!.id))?.duplicates]).toEqual([1, 1]);
    });

    describe('the status outbox', () => {
      const status = (eventId: number, over: Partial<NewStatus> = {}): NewStatus => ({
        memberId: 'm1',
        connector: 'c',
        line: 7,
        item: `{"message":{"id":["ext-${eventId}"]}}`,
        eventId,
        ...over,
      });

      it('keeps each status with every field, and claims them in order, up to the limit, leased to one owner', async () => {
        await store.enqueueStatuses([]);
        await store.enqueueStatuses([status(1, { memberId: 'm2', connector: 'other', line: 9 }), status(2), status(3)]);
        expect(await store.countStatuses()).toEqual({ pending: 3, sent: 0, dead: 0 });
        const first = await store.claimStatuses('a', 10, 100, 2, 3);
        expect(first).toEqual([
          {
            id: first[0]!.id,
            memberId: 'm2',
            connector: 'other',
            line: 9,
            item: status(1).item,
            eventId: 1,
            attempts: 1,
          },
          { id: first[1]!.id, ...status(2), attempts: 1 },
        ]);
        // Held ones are not claimed again while their lease lasts; the rest is.
        expect((await store.claimStatuses('b', 50, 100, 10, 3)).map((s) => s.eventId)).toEqual([3]);
        expect(await store.claimStatuses('c', 60, 100, 10, 3)).toEqual([]);
      });

      it('a sent status is done; a failed one waits for its retry time; one failed for the last time is dead', async () => {
        await store.enqueueStatuses([status(1), status(2), status(3)]);
        const [s1, s2, s3] = await store.claimStatuses('a', 10, 100, 10, 3);
        await store.finishStatuses([s1!.id], 'a', { ok: true }, 20);
        await store.finishStatuses([s2!.id], 'a', { ok: false, error: 'later', retryAt: 500 }, 20);
        await store.finishStatuses([s3!.id], 'a', { ok: false, error: 'never', retryAt: null }, 20);
        expect(await store.countStatuses()).toEqual({ pending: 1, sent: 1, dead: 1 });
        const rows = await sql('SELECT id, status, last_error, next_attempt_at FROM status_outbox ORDER BY id');
        expect(
          rows.map((r) => [r.status, r.last_error, r.next_attempt_at === null ? null : Number(r.next_attempt_at)]),
        ).toEqual([
          ['sent', null, null],
          ['pending', 'later', 500],
          ['dead', 'never', null],
        ]);
        expect(await store.claimStatuses('b', 499, 100, 10, 3)).toEqual([]);
        expect((await store.claimStatuses('b', 500, 100, 10, 3)).map((s) => [s.id, s.attempts])).toEqual([[s2!.id, 2]]);
      });

      it('a finish by an owner that no longer holds the status changes nothing', async () => {
        await store.enqueueStatuses([status(1)]);
        const [s] = await store.claimStatuses('a', 10, 100, 10, 3);
        // The lease ran out and another owner took it.
        expect((await store.claimStatuses('b', 200, 100, 10, 3)).map((x) => x.id)).toEqual([s!.id]);
        await store.finishStatuses([s!.id], 'a', { ok: false, error: 'late', retryAt: null }, 210);
        expect(await store.countStatuses()).toEqual({ pending: 0, sent: 0, dead: 0 });
        await store.finishStatuses([s!.id], 'b', { ok: true }, 220);
        expect(await store.countStatuses()).toEqual({ pending: 0, sent: 1, dead: 0 });
      });
    });

    describe('the customer outbox', () => {
      let n = 0;
      const action = (over: Partial<NewCustomerAction> = {}): NewCustomerAction => ({
        memberId: 'm1',
        connector: 'c',
        line: 1,
        type: 'message.created',
        dedupKey: `d${++n}`,
        orderKey: 'chat-A',
        item: '{"a":1}',
        receivedAt: 1_000,
        ...over,
      });

      it('keeps an action once per portal and key, with every field; the same key of another portal is another action', async () => {
        const first = await store.appendCustomerAction(action({ dedupKey: 'k' }));
        expect(await store.appendCustomerAction(action({ dedupKey: 'k', item: '{"other":1}' }))).toEqual({
          id: first.id,
          duplicate: true,
        });
        expect((await store.appendCustomerAction(action({ dedupKey: 'k', memberId: 'm2' }))).duplicate).toBe(false);
        const [kept] = await store.listCustomerActions({ memberId: 'm1' });
        expect(kept).toEqual({
          id: first.id,
          memberId: 'm1',
          connector: 'c',
          line: 1,
          type: 'message.created',
          dedupKey: 'k',
          orderKey: 'chat-A',
          item: '{"a":1}',
          receivedAt: 1_000,
          attempts: 0,
          status: 'pending',
          nextAttemptAt: null,
          lastError: null,
          sentAt: null,
        });
      });

      it("claims a chat's whole queue in order; a retry not yet due holds back the rest of its chat, not other chats", async () => {
        const ids = [];
        for (const key of ['A', 'A', 'B', 'A'])
          ids.push((await store.appendCustomerAction(action({ orderKey: key }))).id);
        const all = await store.claimCustomerActions('p1', 10, 100, 10, 5);
        expect(all.map((a) => [a.id, a.attempts])).toEqual(ids.map((id) => [id, 1]));
        // The first of A fails until 500; the rest of A goes back unsent, its attempt not counted.
        await store.finishCustomerActions([ids[0]!], 'p1', { ok: false, error: 'boom', retryAt: 500 }, 20);
        await store.releaseCustomerActions([ids[1]!, ids[3]!], 'p1');
        await store.finishCustomerActions([ids[2]!], 'p1', { ok: true }, 20);
        const b2 = await store.appendCustomerAction(action({ orderKey: 'B' }));
        expect((await store.claimCustomerActions('p1', 30, 10_000, 10, 5)).map((a) => a.id)).toEqual([b2.id]);
        const due = await store.claimCustomerActions('p1', 600, 100, 10, 5);
        expect(due.map((a) => [a.id, a.attempts])).toEqual([
          [ids[0], 2],
          [ids[1], 1],
          [ids[3], 1],
        ]);
        const listed = await store.listCustomerActions({ status: 'sending' });
        expect(listed.map((a) => a.id)).toEqual([ids[0], ids[1], ids[3], b2.id]);
        expect((await store.listCustomerActions({ status: 'sent' })).map((a) => [a.id, a.sentAt])).toEqual([
          [ids[2], 20],
        ]);
      });

      it('a limit takes whole prefixes of a chat; a lease held by another owner holds its chat back until it runs out', async () => {
        for (const key of ['A', 'A', 'A']) await store.appendCustomerAction(action({ orderKey: key }));
        const [first] = await store.claimCustomerActions('p1', 10, 100, 1, 5);
        expect(await store.claimCustomerActions('p2', 20, 100, 10, 5)).toEqual([]);
        expect(await store.renewCustomerActions([first!.id], 'p2', 500)).toEqual([]);
        expect(await store.renewCustomerActions([first!.id], 'p1', 300)).toEqual([first!.id]);
        expect(await store.claimCustomerActions('p2', 200, 100, 10, 5)).toEqual([]);
        // p1's lease ran out at 300: p2 takes the chat from its first action.
        const taken = await store.claimCustomerActions('p2', 301, 100, 10, 5);
        expect(taken.map((a) => a.id)).toEqual([first!.id, first!.id + 1, first!.id + 2]);
        // The late outcome of the owner that lost it changes nothing.
        await store.finishCustomerActions([first!.id], 'p1', { ok: true }, 310);
        expect(await store.countCustomerActions()).toEqual({ pending: 3, sent: 0, dead: 0 });
      });

      it('makes an action dead when its lease ran out on its last attempt, lets its chat go on, and replays it', async () => {
        const a = await store.appendCustomerAction(action());
        const b = await store.appendCustomerAction(action());
        await store.claimCustomerActions('p1', 10, 100, 1, 2);
        await store.finishCustomerActions([a.id], 'p1', { ok: false, error: 'x', retryAt: 50 }, 20);
        await store.claimCustomerActions('p1', 60, 100, 1, 2);
        // The second attempt's lease runs out: the budget (2) is spent.
        const next = await store.claimCustomerActions('p2', 500, 100, 10, 2);
        expect(next.map((x) => x.id)).toEqual([b.id]);
        const [dead] = await store.listCustomerActions({ status: 'dead' });
        expect(dead).toMatchObject({ id: a.id, attempts: 2, lastError: expect.stringMatching(/its last attempt/) });
        expect(await store.countCustomerActions()).toEqual({ pending: 1, sent: 0, dead: 1 });
        expect(await store.requeueCustomerActions([a.id, 999])).toBe(1);
        expect((await store.listCustomerActions()).find((x) => x.id === a.id)).toMatchObject({
          status: 'pending',
          attempts: 0,
          nextAttemptAt: null,
        });
      });

      it('two instances never hold one chat at once, and each chat goes out in order', async () => {
        for (let i = 0; i < 40; i++) await store.appendCustomerAction(action({ orderKey: `K${i % 4}` }));
        const second = other();
        const sent: { id: number; key: string }[] = [];
        const held = new Set<string>();
        let overlap = 0;
        const work = async (s: Store, owner: string) => {
          for (;;) {
            const batch = await s.claimCustomerActions(owner, 10, 60_000, 3, 10);
            if (batch.length === 0) {
              if ((await s.countCustomerActions()).sent === 40) return;
              await new Promise((r) => setTimeout(r, 2));
              continue;
            }
            const keys = new Set(batch.map((a) => a.orderKey));
            for (const k of keys) if (held.has(k)) overlap++;
            for (const k of keys) held.add(k);
            await new Promise((r) => setTimeout(r, 1));
            for (const a of batch) sent.push({ id: a.id, key: a.orderKey });
            for (const k of keys) held.delete(k);
            await s.finishCustomerActions(
              batch.map((a) => a.id),
              owner,
              { ok: true },
              20,
            );
          }
        };
        await Promise.all([work(store, 'a'), work(second, 'b')]);
        expect(overlap).toBe(0);
        expect(sent).toHaveLength(40);
        for (let k = 0; k < 4; k++) {
          const ids = sent.filter((x) => x.key === `K${k}`).map((x) => x.id);
          expect(ids).toEqual([...ids].sort((x, y) => x - y));
        }
      });
    });

    it('notes refused test events per portal, the latest kept', async () => {
      expect(await store.refusedTestAt('m1')).toBeNull();
      await store.noteRefusedTest('m1', 2_000);
      await store.noteRefusedTest('m1', 1_000);
      await store.noteRefusedTest('m2', 5_000);
      expect(await store.refusedTestAt('m1')).toBe(2_000);
      expect(await other().refusedTestAt('m2')).toBe(5_000);
    });

    it("reads a portal's leaky bucket as it drains, without taking a slot", async () => {
      const limits = { burst: 5, perSecond: 10 };
      expect(await store.rateLevel('m1', limits, 1_000)).toBe(0);
      for (let i = 0; i < 4; i++) await store.rateSlot('m1', limits, 1_000, 'take');
      expect(await store.rateLevel('m1', limits, 1_000)).toBe(4);
      expect(await store.rateLevel('m1', limits, 1_200)).toBeCloseTo(2);
      expect(await store.rateLevel('m1', limits, 9_000)).toBe(0);
      expect(await store.rateLevel('m1', limits, 1_000)).toBe(4);
    });

    describe('what instances share', () => {
      it('one leaky bucket per portal: the burst is free once, then slots are spaced', async () => {
        const [a, b] = [store, other()];
        const limits = { burst: 5, perSecond: 10 };
        const waits = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).rateSlot('m1', limits, 1_000, 'take')),
        );
        expect(waits.filter((w) => w === 0)).toHaveLength(5);
        // The 15 reservations past the burst are 100 ms apart, shared by both instances.
        expect(waits.filter((w) => w > 0).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 15 }, (_, i) => (i + 1) * 100),
        );
        // A QUERY_LIMIT_EXCEEDED fills the bucket for everyone.
        expect(await a.rateSlot('m2', limits, 1_000, 'fill')).toBe(0);
        expect(await b.rateSlot('m2', limits, 1_000, 'take')).toBe(100);
        // It drains with time.
        expect(await a.rateSlot('m2', limits, 61_000, 'take')).toBe(0);
      });

      it('a portal lock is held by one instance at a time, and other portals do not wait for it', async () => {
        const [a, b] = [store, other()];
        let inside = 0;
        let overlap = 0;
        const work = (s: Store) =>
          s.withPortalLock('m1', async () => {
            if (++inside > 1) overlap++;
            await new Promise((r) => setTimeout(r, 10));
            inside--;
          });
        // m1 is held until m2 was taken: were the two one lock, this would never end.
        let release: ((v: string) => void) | undefined;
        const held = a.withPortalLock('m1', () => new Promise<string>((r) => (release = r)));
        await until(() => release !== undefined, 5_000, 'the holder of m1 inside');
        expect(await b.withPortalLock('m2', async () => 'free')).toBe('free');
        release!('first');
        await Promise.all(Array.from({ length: 10 }, (_, i) => work(i % 2 ? a : b)));
        expect(await held).toBe('first');
        expect(overlap).toBe(0);
        // A failing holder releases it.
        await expect(a.withPortalLock('m1', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
        expect(await b.withPortalLock('m1', async () => 'next')).toBe('next');
      });

      it('two instances whose token expired at once refresh it once between them', async () => {
        const { sb, portal } = await startPortal({ slowOAuthMs: 50 });
        const [a, b] = [store, other()];
        const pair = sb.issueTokens(portal);
        await installPortal(a, portal, pair, { expiresAt: Date.now() - 1_000 });
        sb.faults.expireTokens({ portal });
        const options = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, oauthServer: sb.url };
        const clients = [new BitrixClients({ ...options, store: a }), new BitrixClients({ ...options, store: b })];
        try {
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              clients[i % 2]!.forPortal(portal.memberId).call<{ ID: number }>('app.info'),
            ),
          );
          expect(results.every((r) => r.ID === portal.appId)).toBe(true);
          // A refresh token works once: a second refresh would have been refused and counted here.
          expect(refreshesOf(sb)).toEqual([{ refreshToken: pair.refresh_token, ok: true }]);
        } finally {
          for (const c of clients) c.close();
          await sb.stop();
        }
      });

      it("wakes another instance's subscribers when events are stored or requeued, and stops when asked", async () => {
        const second = other();
        let woken = 0;
        const off = await second.onNewEvents(() => woken++);
        const e = await store.append(newEvent());
        await until(() => woken > 0, 5_000, 'a wake after an append');
        await store.claim('w', 10, 1_000, 10, 8);
        await store.finish(e.id, 'w', { ok: false, error: 'x', retryAt: null }, 20);
        const before = woken;
        expect(await store.requeue([e.id])).toBe(1);
        await until(() => woken > before, 5_000, 'a wake after a requeue');
        off();
        const after = woken;
        await store.append(newEvent());
        // Another subscriber still hears it; the one that stopped does not.
        let third = 0;
        const offThird = await second.onNewEvents(() => third++);
        await store.append(newEvent());
        await until(() => third > 0, 5_000, 'a wake for the subscriber still listening');
        offThird();
        expect(woken).toBe(after);
      });
    });

    describe("the console's reads", () => {
      it('pages events newest first by keyset under each filter, and the pages join without gap or repeat', async () => {
        const codes = ['A', 'B', 'C'];
        for (let i = 0; i < 30; i++) {
          const member = i % 2 ? 'm1' : 'm2';
          await store.append(
            newEvent({
              code: codes[i % 3],
              memberId: member,
              orderKey: i % 5 === 0 ? `${member}|im|7|chat-x` : `${member}|im|${i % 3 === 0 ? 8 : 9}|c${i}`,
              receivedAt: 1_000 + i,
              contentType: i < 20 ? 'form' : 'json',
            }),
          );
        }
        // As the puller keeps them: the last ten came from the offline queue.
        await sql("UPDATE events SET delivery = 'offline' WHERE content_type = 'json'");
        const ids: number[] = [];
        for (let before: number | null | undefined = undefined; before !== null;) {
          const page = await store.browseEvents({ limit: 7, ...(before ? { before } : {}) });
          ids.push(...page.events.map((e) => e.id));
          before = page.next;
        }
        expect(ids).toHaveLength(30);
        expect([...ids].sort((a, b) => b - a)).toEqual(ids);
        const only = async (q: Parameters<Store['browseEvents']>[0]) =>
          (await store.browseEvents({ limit: 500, ...q })).events;
        expect((await only({ code: 'B' })).every((e) => e.code === 'B')).toBe(true);
        expect(await only({ code: 'B' })).toHaveLength(10);
        expect(await only({ memberId: 'm2', code: 'A' })).toHaveLength(5);
        expect(await only({ delivery: 'offline' })).toHaveLength(10);
        expect((await only({ since: 1_010, until: 1_015 })).map((e) => e.receivedAt)).toEqual([
          1_014, 1_013, 1_012, 1_011, 1_010,
        ]);
        // A time range pages by receipt, its cursor an id like any other.
        const byTime: number[] = [];
        for (let before: number | null | undefined = undefined; before !== null;) {
          const page = await store.browseEvents({
            since: 1_003,
            until: 1_013,
            limit: 3,
            ...(before ? { before } : {}),
          });
          byTime.push(...page.events.map((e) => e.receivedAt));
          before = page.next;
        }
        expect(byTime).toEqual([1_012, 1_011, 1_010, 1_009, 1_008, 1_007, 1_006, 1_005, 1_004, 1_003]);
        expect((await only({ memberId: 'm1', line: 7, chat: 'chat-x' })).map((e) => e.receivedAt)).toEqual([
          1_025, 1_015, 1_005,
        ]);
        expect((await only({ memberId: 'm1', line: 8 })).map((e) => e.receivedAt)).toEqual([
          1_027, 1_021, 1_009, 1_003,
        ]);
        expect((await only({ memberId: 'm1', line: 8 })).every((e) => e.orderKey?.startsWith('m1|im|8|'))).toBe(true);
        const [first] = await only({ limit: 1 });
        expect(first).toMatchObject({ status: 'pending', attempts: 0, contentType: 'json', receivedAt: 1_029 });
        expect(first).not.toHaveProperty('rawBody');
        // A search by id finds the one event, under the other filters too.
        expect((await only({ search: String(first!.id) })).map((e) => e.id)).toEqual([first!.id]);
        expect(await only({ search: String(first!.id), status: 'dead' })).toEqual([]);
        expect(await only({ search: 'not a number' })).toEqual([]);
      });

      it("finds a Bitrix24 message's events through the state's chat, and only those naming it", async () => {
        const M = 'm1';
        const data = (id: number) => ({
          CONNECTOR: 'c',
          LINE: 3,
          MESSAGES: [{ im: { chat_id: 5, message_id: id }, message: { text: 'x' }, chat: { id: 'ext-1' } }],
        });
        const ids: number[] = [];
        for (const id of [4401, 4402, 44011]) {
          const event = { event: 'ONIMCONNECTORMESSAGEADD', data: data(id), ts: 1, auth: { member_id: M } };
          const r = await store.append(
            newEvent({ code: event.event, orderKey: `${M}|im|3|ext-1`, event: JSON.stringify(event) }),
          );
          await store.state.apply(event, { eventId: r.id, memberId: M, receivedAt: 1_000 });
          ids.push(r.id);
        }
        const found = await store.browseEvents({ search: '4401' });
        expect(found.events.map((e) => e.id)).toEqual([ids[0]]);
        expect((await store.state.chats(M)).map((c) => [c.line, c.externalChatId, c.imChatId])).toEqual([
          [3, 'ext-1', 5],
        ]);
        expect(await store.state.chats(M, { line: 4 })).toEqual([]);
      });

      it("keeps an event's delivery statuses with when Bitrix24 took them", async () => {
        const e = await store.append(newEvent());
        await store.enqueueStatuses([
          { memberId: 'm1', connector: 'c', line: 1, item: '{"n":1}', eventId: e.id },
          { memberId: 'm1', connector: 'c', line: 1, item: '{"n":2}', eventId: e.id },
        ]);
        const [a, b] = await store.claimStatuses('o', 10, 100, 10, 3);
        await store.finishStatuses([a!.id], 'o', { ok: true }, 1_500);
        await store.finishStatuses([b!.id], 'o', { ok: false, error: 'QUERY_LIMIT', retryAt: null }, 1_600);
        expect(await store.eventStatuses(e.id)).toEqual([
          {
            id: a!.id,
            connector: 'c',
            line: 1,
            item: '{"n":1}',
            status: 'sent',
            attempts: 1,
            lastError: null,
            sentAt: 1_500,
          },
          {
            id: b!.id,
            connector: 'c',
            line: 1,
            item: '{"n":2}',
            status: 'dead',
            attempts: 1,
            lastError: 'QUERY_LIMIT',
            sentAt: null,
          },
        ]);
        const activity = await store.activity(0);
        expect(activity.confirmedMs).toEqual([500]);
      });

      it('counts events by minute, code and status, the latencies of done ones, and each portal at a glance', async () => {
        await store.append(newEvent({ code: 'ONAPPINSTALL' }), { kind: 'install', portal: portal() });
        const a = await store.append(newEvent({ code: 'X', receivedAt: 120_000 }));
        const b = await store.append(newEvent({ code: 'X', receivedAt: 121_000 }));
        await store.append(newEvent({ code: 'Y', receivedAt: 185_000, memberId: 'm1' }));
        const claimed = await store.claim('o', 200_000, 1_000, 10, 1);
        expect(claimed.map((e) => e.id)).toContain(a.id);
        await store.finish(a.id, 'o', { ok: true }, 120_250);
        await store.finish(b.id, 'o', { ok: false, error: 'boom', retryAt: null }, 200_000);
        const activity = await store.activity(60_000);
        expect(activity.perMinute).toEqual(
          expect.arrayContaining([
            { minute: 120_000, code: 'X', status: 'done', n: 1 },
            { minute: 120_000, code: 'X', status: 'dead', n: 1 },
            { minute: 180_000, code: 'Y', status: 'processing', n: 1 },
          ]),
        );
        expect(activity.perMinute.every((r) => r.minute >= 60_000)).toBe(true);
        expect(activity.processedMs).toEqual([250]);
        expect(await store.portalActivity()).toEqual([
          { memberId: 'm1', lastEventAt: 185_000, dead: 1, retry: 0, deadStatuses: 0, deadCustomerActions: 0 },
        ]);
      });
    });

    describe('pull cursors', () => {
      const bot = (target: string, memberId = 'm1') => ({ memberId, kind: 'bot' as const, target });
      const pulled = (key: string, over: Partial<NewEvent> = {}) =>
        newEvent({ dedupKey: key, code: 'ONIMBOTV2MESSAGEADD', orderKey: 'm1|chat|5', ...over });

      it('keeps one cursor per target, due at once, with its first position; retired ones come back', async () => {
        expect(await store.keepPullCursors([bot('1'), bot('2')], 100, (t) => `p${t.target}`)).toBe(2);
        expect(await store.keepPullCursors([bot('1'), bot('2')], 200)).toBe(0);
        expect((await store.listPullCursors()).map((c) => [c.target, c.position, c.dueAt, c.status])).toEqual([
          ['1', 'p1', 100, 'active'],
          ['2', 'p2', 100, 'active'],
        ]);
        expect(await store.retirePullCursors('m1', 'bot', ['2'], 300)).toBe(1);
        expect((await store.listPullCursors({ status: 'gone' })).map((c) => c.target)).toEqual(['1']);
        expect(await store.keepPullCursors([bot('1')], 400)).toBe(1);
        expect((await store.listPullCursors({ kind: 'bot', status: 'active' })).length).toBe(2);
      });

      it('claims due cursors under a lease, one owner at a time, and again once the lease ran out', async () => {
        await store.keepPullCursors([bot('1'), bot('2', 'm2')], 100);
        const a = await store.claimPullCursors('a', 100, 1_000, 10, 8);
        expect(a.map((c) => c.target).sort()).toEqual(['1', '2']);
        expect(a[0]!.attempts).toBe(1);
        expect(await other().claimPullCursors('b', 500, 1_000, 10, 8)).toEqual([]);
        expect(await store.renewPullCursors([a[0]!.id], 'a', 1_500)).toEqual([a[0]!.id]);
        expect(await store.renewPullCursors([a[0]!.id], 'b', 9_000)).toEqual([]);
        expect(await store.finishPullCursor(a[0]!.id, 'a', { ok: true, position: null, dueAt: 9_000 }, 1_150)).toBe(
          true,
        );
        // a's lease on the second ran out at 1,100: b takes it over, and a's outcome no longer counts.
        const b = await other().claimPullCursors('b', 1_200, 1_000, 10, 8);
        expect(b.map((c) => c.id)).toEqual([a[1]!.id]);
        expect(await store.finishPullCursor(a[1]!.id, 'a', { ok: true, position: 'x', dueAt: 0 }, 1_300)).toBe(false);
        expect(await store.finishPullCursor(b[0]!.id, 'b', { ok: true, position: '7', dueAt: 5_000 }, 1_300)).toBe(
          true,
        );
        const after = (await store.listPullCursors()).find((c) => c.id === b[0]!.id)!;
        expect(after).toMatchObject({ position: '7', dueAt: 5_000, attempts: 0, leaseOwner: null });
        expect(await store.claimPullCursors('a', 4_000, 1_000, 10, 8)).toEqual([]);
        expect(await store.wakePullCursors('m2', 'bot', 4_000)).toBe(1);
        expect((await store.claimPullCursors('a', 4_000, 1_000, 10, 8)).map((c) => c.id)).toEqual([b[0]!.id]);
      });

      it('stores pulled events and moves the cursor in one transaction, each event once, only for the owner', async () => {
        let woken = 0;
        await other().onNewEvents(() => woken++);
        await store.keepPullCursors([bot('1')], 100);
        const [c] = await store.claimPullCursors('a', 100, 1_000, 10, 8);
        const first = await store.appendPulled(
          c!.id,
          'a',
          [pulled('f1', { secrets: '{"x":"pulled-secret"}' }), pulled('f2')],
          'fetch',
          { position: '3' },
          110,
        );
        expect(first!.map((r) => r.duplicate)).toEqual([false, false]);
        // Stored pulled events wake the workers of every instance, as posted ones do.
        await until(() => woken > 0, 5_000, 'a wake after a pull');
        // Fetched again (the confirming call never went): the same keys are kept once, counted as duplicates.
        const again = await store.appendPulled(
          c!.id,
          'a',
          [pulled('f1'), pulled('f2'), pulled('f3')],
          'fetch',
          { position: '4', dueAt: 900 },
          120,
        );
        expect(again!.map((r) => r.duplicate)).toEqual([true, true, false]);
        expect(again![0]!.id).toBe(first![0]!.id);
        const events = await store.listEvents();
        expect(events.map((e) => [e.delivery, e.duplicates])).toEqual([
          ['fetch', 1],
          ['fetch', 1],
          ['fetch', 0],
        ]);
        expect((await store.listPullCursors())[0]).toMatchObject({
          position: '4',
          pulled: 3,
          dueAt: 900,
          leaseOwner: null,
        });
        // Not held any more: nothing is written, the events neither.
        expect(await store.appendPulled(c!.id, 'a', [pulled('f9')], 'fetch', { position: '9' }, 130)).toBeUndefined();
        expect((await store.listEvents()).length).toBe(3);
        expect((await store.listPullCursors())[0]!.position).toBe('4');
        // Posted events say so.
        await store.append(newEvent());
        expect((await store.listEvents()).at(-1)!.delivery).toBe('webhook');
        // The pulled events run like posted ones, in order per chat.
        const claimed = await store.claim('w', 200, 1_000, 10, 8);
        expect(claimed.map((e) => e.id)).toEqual([first![0]!.id, (await store.listEvents()).at(-1)!.id]);
        expect(claimed[0]!.delivery).toBe('fetch');
        expect(claimed[0]!.secrets).toBe('{"x":"pulled-secret"}');
      });

      it('a wake while a cursor is pulled keeps it due when the pull ends', async () => {
        await store.keepPullCursors([bot('1'), bot('2')], 100);
        const [a, b] = await store.claimPullCursors('a', 100, 1_000, 10, 8);
        expect(await store.wakePullCursors('m1', 'bot', 150)).toBe(2);
        await store.finishPullCursor(a!.id, 'a', { ok: true, position: '1', dueAt: 9_000, since: a!.dueAt }, 200);
        await store.appendPulled(b!.id, 'a', [], 'fetch', { position: '2', dueAt: 9_000, since: b!.dueAt }, 200);
        expect((await store.listPullCursors()).map((c) => [c.position, c.dueAt])).toEqual([
          ['1', 150],
          ['2', 150],
        ]);
        // Without a wake, the next due time is the one asked for.
        const again = await store.claimPullCursors('a', 300, 1_000, 10, 8);
        for (const c of again)
          await store.finishPullCursor(c.id, 'a', { ok: true, position: 'x', dueAt: 9_000, since: c.dueAt }, 400);
        expect((await store.listPullCursors()).map((c) => c.dueAt)).toEqual([9_000, 9_000]);
      });

      it('a failed pull waits for its retry; its budget spent, the cursor is parked until requeued', async () => {
        await store.keepPullCursors([bot('1')], 100);
        const [c] = await store.claimPullCursors('a', 100, 1_000, 10, 2);
        expect(await store.finishPullCursor(c!.id, 'a', { ok: false, error: 'down', retryAt: 700 }, 200)).toBe(true);
        expect(await store.claimPullCursors('a', 600, 1_000, 10, 2)).toEqual([]);
        const [again] = await store.claimPullCursors('a', 700, 1_000, 10, 2);
        expect(again!.attempts).toBe(2);
        // The owner died on its last attempt: the next claim parks it.
        expect(await store.claimPullCursors('b', 5_000, 1_000, 10, 2)).toEqual([]);
        const parked = (await store.listPullCursors({ status: 'parked' }))[0]!;
        expect(parked.lastError).toMatch(/retry budget is spent/);
        expect(await store.requeuePullCursors([parked.id], 6_000)).toBe(1);
        const [back] = await store.claimPullCursors('b', 6_000, 1_000, 10, 2);
        expect(back).toMatchObject({ id: parked.id, attempts: 1 });
        expect(await store.finishPullCursor(back!.id, 'b', { ok: false, error: 'gone', retryAt: null }, 6_100)).toBe(
          true,
        );
        expect((await store.listPullCursors())[0]).toMatchObject({ status: 'parked', lastError: 'gone' });
      });
    });

    stateConformance(factory);
  });
}
