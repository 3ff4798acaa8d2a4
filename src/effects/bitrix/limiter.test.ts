import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/fake-clock.js';
import { LeakyBucket, planLimits } from './limiter.js';

describe('planLimits', () => {
  it('has the numbers of limits.md and takes custom ones', () => {
    expect(planLimits()).toEqual({ burst: 50, perSecond: 2 });
    expect(planLimits('standard')).toEqual({ burst: 50, perSecond: 2 });
    expect(planLimits('enterprise')).toEqual({ burst: 250, perSecond: 5 });
    expect(planLimits({ burst: 10, perSecond: 1 })).toEqual({ burst: 10, perSecond: 1 });
    expect(() => planLimits({ burst: 0, perSecond: 1 })).toThrow(RangeError);
  });
});

describe('LeakyBucket', () => {
  /** Starts n takes at once and returns the clock time each one was let through. */
  async function startTimes(bucket: LeakyBucket, clock: FakeClock, n: number): Promise<number[]> {
    const t0 = clock.now();
    return Promise.all(Array.from({ length: n }, () => bucket.take().then(() => clock.now() - t0)));
  }

  it('lets the burst through at once, then one request per 1/perSecond, in order (standard)', async () => {
    const clock = new FakeClock();
    const bucket = new LeakyBucket(planLimits('standard'), clock.now, clock.sleep);
    const times = await startTimes(bucket, clock, 60);
    expect(times.slice(0, 50)).toEqual(Array(50).fill(0));
    expect(times.slice(50)).toEqual([500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]);
  });

  it('enterprise: 250 at once, then 5 per second', async () => {
    const clock = new FakeClock();
    const bucket = new LeakyBucket(planLimits('enterprise'), clock.now, clock.sleep);
    const times = await startTimes(bucket, clock, 255);
    expect(times.filter((t) => t === 0)).toHaveLength(250);
    expect(times.slice(250)).toEqual([200, 400, 600, 800, 1000]);
  });

  it('never lets more than burst + perSecond·T through by time T', async () => {
    const clock = new FakeClock();
    const limits = { burst: 7, perSecond: 3 };
    const bucket = new LeakyBucket(limits, clock.now, clock.sleep);
    const first = await startTimes(bucket, clock, 20);
    clock.t += 1500; // idle: the bucket drains 4.5
    const second = (await startTimes(bucket, clock, 10)).map((t) => t + first.at(-1)! + 1500);
    const all = [...first, ...second].sort((a, b) => a - b);
    all.forEach((t, k) => expect(k + 1).toBeLessThanOrEqual(limits.burst + (limits.perSecond * t) / 1000 + 1e-9));
    // After the idle time, 4 of the 10 went at once (4.5 drained), then the pace resumed.
    expect(second.filter((t) => t === first.at(-1)! + 1500)).toHaveLength(4);
  });

  it('fill() makes the next request wait a full slot (the portal said QUERY_LIMIT_EXCEEDED)', async () => {
    const clock = new FakeClock();
    const bucket = new LeakyBucket({ burst: 50, perSecond: 2 }, clock.now, clock.sleep);
    await bucket.take();
    bucket.fill();
    const [t] = await startTimes(bucket, clock, 1);
    expect(t).toBe(500);
  });
});
