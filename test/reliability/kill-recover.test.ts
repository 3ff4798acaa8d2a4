import { expect, it } from 'vitest';
import { pgAvailable } from '../pg.js';
import { fleetPerTest, readyWithin, reportRun, settle, steadyLoad } from './fleet.js';
import { sleep } from './lib.js';

/**
 * Kill and recover: two `serve` instances on one PostgreSQL database behind a load balancer,
 * default settings, operators' messages at about 300/s. Instance 0 is SIGKILLed at 5 s and
 * started again at 7 s. Every acknowledged message must reach the channel and get its delivery
 * status within 30 s of the end, each chat's in order: what the dead instance held is taken over,
 * and the chats behind it are not blocked for long.
 */

const RATE = Number(process.env.RELIABILITY_RATE ?? 300);
const fleets = fleetPerTest();

it.skipIf(!pgAvailable)(
  'kill and recover: SIGKILL of one of two instances under load, restarted 2 s later; every acknowledged message delivered with its status, in order',
  async () => {
    const fleet = await fleets.start({ instances: 2 });
    const t0 = Date.now();
    const at = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
    const load = steadyLoad(fleet, RATE);
    await at(5_000);
    await fleet.stop(0, 'SIGKILL');
    const killedAt = Date.now();
    await at(7_000);
    const restarted = await fleet.start(0);
    expect(await readyWithin(restarted, 60_000)).toBe(true);
    await at(12_000);
    const result = await load.stop();
    const s = await settle(fleet, result, 30_000);
    const counts = await reportRun('kill-recover', fleet, result, s, fleets.url(), {
      rate: RATE,
      'slowest-after-kill-ms': s.slowestMs,
      'kill-to-end-ms': Date.now() - killedAt,
    });
    expect(s.missing).toBe(0);
    expect(s.outOfOrder).toBe(0);
    expect(s.settledMs).toBeGreaterThanOrEqual(0);
    expect(counts['events-dead']).toBe(0);
    // Only what was in flight on the killed instance may go unanswered; nothing else is refused.
    expect([...result.refused.keys()].every((status) => status === 0 || status === 502)).toBe(true);
  },
  120_000,
);
