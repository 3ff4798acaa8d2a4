import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log.js';
import { QueueLoop, type Lease, type QueueLoopOptions } from './loop.js';
import { holdsWithin as until } from '../../test/helpers.js';

/** Units in memory: the loop does not care what a unit is or where it waits. */
function memoryQueue() {
  const waiting: number[] = [];
  const limits: number[] = [];
  return { waiting, limits, claim: async (limit: number) => (limits.push(limit), waiting.splice(0, limit)) };
}

const capture = () => {
  const lines: { msg: string; retryInMs?: number }[] = [];
  return {
    lines,
    logger: createLogger({
      level: 'warn',
      destination: { write: (c: string) => void lines.push(JSON.parse(c) as { msg: string }) },
    }),
  };
};

/** Real turns of the event loop: what the loop does between rounds. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

let loop: QueueLoop<number> | undefined;
const make = (o: Partial<QueueLoopOptions<number>> & Pick<QueueLoopOptions<number>, 'claim'>) =>
  (loop = new QueueLoop<number>({
    run: async () => undefined,
    describe: (n) => `unit ${n}`,
    words: { owner: 'worker', runner: 'handlers' },
    leaseMs: 30_000,
    pollMs: 60_000,
    ...o,
  }));

afterEach(async () => {
  vi.useRealTimers();
  await loop?.stop();
  loop = undefined;
});

describe('the queue loop', () => {
  it('folds the wakes that come while a round runs into one more round', async () => {
    let claims = 0;
    let release!: () => void;
    make({
      claim: async () => {
        if (++claims === 1) await new Promise<void>((r) => (release = r));
        return [];
      },
    }).start();
    expect(claims).toBe(1);
    for (let i = 0; i < 10; i++) loop!.wake();
    release();
    expect(await until(() => claims === 2)).toBe(true);
    await turns();
    expect(claims).toBe(2);
    // Idle, a wake is a round at once.
    loop!.wake();
    expect(claims).toBe(3);
  });

  it('finds work nobody woke it for on the poll', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const q = memoryQueue();
    const ran: number[] = [];
    make({ claim: q.claim, run: async (n) => void ran.push(n), pollMs: 1_000 }).start();
    await vi.advanceTimersByTimeAsync(0);
    q.waiting.push(1); // stored by another process, which cannot wake this one
    await vi.advanceTimersByTimeAsync(999);
    expect(ran).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(ran).toEqual([1]);
  });

  it('backs off while claims fail: the wait doubles up to its cap, wakes wait for it, and a claim that works ends it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const log = capture();
    let claims = 0;
    let failing = true;
    make({
      claim: async () => {
        claims++;
        if (failing) throw new Error('database unreachable');
        return [];
      },
      pollMs: 1_000,
      backoffMaxMs: 4_000,
      logger: log.logger,
    }).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(claims).toBe(1);
    const after = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms - 1);
      const before = claims;
      await vi.advanceTimersByTimeAsync(1);
      return [before, claims];
    };
    expect(await after(1_000)).toEqual([1, 2]);
    loop!.wake(); // new work does not cut the back-off short
    await vi.advanceTimersByTimeAsync(0);
    expect(claims).toBe(2);
    expect(await after(2_000)).toEqual([2, 3]);
    expect(await after(4_000)).toEqual([3, 4]);
    failing = false;
    expect(await after(4_000)).toEqual([4, 5]);
    // Claims work again: back to the poll.
    expect(await after(1_000)).toEqual([5, 6]);
    expect(log.lines.map((l) => [l.msg, l.retryInMs])).toEqual(
      [1_000, 2_000, 4_000, 4_000].map((ms) => [`the worker could not claim work; trying again in ${ms} ms`, ms]),
    );
  });

  it('on stop, claims no more, aborts the runs still going after the grace period, and waits until they settle', async () => {
    const q = memoryQueue();
    q.waiting.push(1, 2);
    const started: number[] = [];
    const reasons: string[] = [];
    let releaseDeaf!: () => void;
    make({
      claim: q.claim,
      concurrency: 2,
      stopGraceMs: 20,
      run: async (n, lease) => {
        started.push(n);
        if (n === 1) await new Promise((r) => lease.signal.addEventListener('abort', r));
        else await new Promise<void>((r) => (releaseDeaf = r)); // deaf to its signal
        reasons.push((lease.signal.reason as Error).message);
      },
    }).start();
    expect(await until(() => started.length === 2)).toBe(true);
    q.waiting.push(3);
    let stopped = false;
    const stopping = loop!.stop().then(() => (stopped = true));
    expect(await until(() => reasons.length === 1)).toBe(true);
    expect(reasons).toEqual(['the worker stopped, and the handlers did not finish within its 20 ms grace period']);
    await turns();
    expect(stopped).toBe(false);
    releaseDeaf();
    await stopping;
    expect(reasons).toHaveLength(2);
    loop!.wake();
    await turns();
    expect(q.waiting).toEqual([3]);
    expect(started).toEqual([1, 2]);
  });

  it('drain runs everything runnable, at most `concurrency` at once, work the runs add included', async () => {
    const q = memoryQueue();
    q.waiting.push(...Array.from({ length: 20 }, (_, i) => i + 1));
    const ran: number[] = [];
    let running = 0;
    let most = 0;
    make({
      claim: q.claim,
      concurrency: 3,
      run: async (n) => {
        most = Math.max(most, ++running);
        await turns(1);
        if (n === 5) q.waiting.push(21);
        ran.push(n);
        running--;
      },
    });
    await loop!.drain();
    expect(ran.sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(most).toBe(3);
    expect(Math.max(...q.limits)).toBe(3);
  });

  it('while units run, claims again only once `claimBatch` slots are free', async () => {
    const q = memoryQueue();
    q.waiting.push(...Array.from({ length: 12 }, (_, i) => i + 1));
    const finish = new Map<number, () => void>();
    let held = true;
    make({
      claim: q.claim,
      concurrency: 4,
      claimBatch: 2,
      run: (n) => (held ? new Promise<void>((r) => finish.set(n, r)) : Promise.resolve()),
    });
    loop!.start();
    expect(await until(() => finish.size === 4)).toBe(true);
    finish.get(1)!();
    await turns();
    // One slot free of four: not claimed yet.
    expect(q.limits).toEqual([4]);
    finish.get(2)!();
    expect(await until(() => q.limits.length === 2)).toBe(true);
    expect(q.limits).toEqual([4, 2]);
    held = false;
    for (const done of finish.values()) done();
  });

  it('drain waits for the units a claim of the running loop brings, and rejects when its own claim fails', async () => {
    const q = memoryQueue();
    q.waiting.push(1);
    const ran: number[] = [];
    let release!: () => void;
    let claims = 0;
    let failing = false;
    make({
      claim: async (limit) => {
        if (++claims === 1) await new Promise<void>((r) => (release = r));
        if (failing) throw new Error('database unreachable');
        return q.claim(limit);
      },
      run: async (n) => void ran.push(n),
    }).start();
    const drained = loop!.drain();
    await turns();
    release();
    await drained;
    expect(ran).toEqual([1]);
    await loop!.stop();
    failing = true;
    await expect(loop!.drain()).rejects.toThrow('database unreachable');
  });

  it('renews the leases in flight; a lease lost is aborted, and one that ran out while renewals fail is aborted too', async () => {
    let clock = 0;
    let renewal: 'held' | 'lost' | 'fails' = 'held';
    const renewed: number[][] = [];
    const leases = new Map<number, Lease>();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const q = memoryQueue();
    q.waiting.push(1);
    make({
      claim: q.claim,
      leaseMs: 30,
      now: () => clock,
      renew: async (units) => {
        renewed.push([...units]);
        if (renewal === 'fails') throw new Error('database unreachable');
        return renewal === 'held' ? units : [];
      },
      run: async (n, lease) => {
        leases.set(n, lease);
        await released;
      },
    }).start();
    expect(await until(() => renewed.length >= 2)).toBe(true);
    expect(leases.get(1)?.signal.aborted).toBe(false);
    // The store does not answer: the lease holds until it runs out, then the run is told to stop.
    renewal = 'fails';
    const seen = renewed.length;
    expect(await until(() => renewed.length > seen + 1)).toBe(true);
    expect(leases.get(1)?.signal.aborted).toBe(false);
    clock += 1_000;
    expect(await until(() => leases.get(1)!.signal.aborted)).toBe(true);
    expect((leases.get(1)!.signal.reason as Error).message).toBe(
      'the lease ran out and could not be renewed (the store did not answer)',
    );
    expect(leases.get(1)!.lost).toBe(false);
    release();
    expect(await until(() => loop!.inFlight === 0)).toBe(true);
    await loop!.stop();

    // Another owner took it.
    renewal = 'lost';
    let releaseLost!: () => void;
    const lostReleased = new Promise<void>((r) => (releaseLost = r));
    q.waiting.push(2);
    make({
      claim: q.claim,
      leaseMs: 30,
      renew: async (units) => (renewal === 'lost' ? [] : units),
      run: async (n, lease) => {
        leases.set(n, lease);
        await lostReleased;
      },
    }).start();
    expect(await until(() => leases.get(2)?.lost === true)).toBe(true);
    expect((leases.get(2)!.signal.reason as Error).message).toBe('the lease on unit 2 was lost to another worker');
    releaseLost();
  });
});
