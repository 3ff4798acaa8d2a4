import { expect, it } from 'vitest';
import { pgAvailable } from '../pg.js';
import { fleetPerTest, readyWithin, reportRun, settle, steadyLoad } from './fleet.js';
import { sleep } from './lib.js';

/**
 * Rolling restart under load: two `serve` instances on one PostgreSQL database behind a load
 * balancer that polls /readyz; each gets SIGTERM in turn while operators' messages keep coming,
 * and is started again. Each must go not-ready first (so the balancer stops sending), finish what
 * it holds, and exit 0; nothing is refused, nothing lost, each chat's messages in order.
 */

const RATE = Number(process.env.RELIABILITY_RATE ?? 100);
const fleets = fleetPerTest();

it.skipIf(!pgAvailable)(
  'rolling restart: SIGTERM to each of two instances in turn under load; each exits 0, nothing refused or lost, order per chat holds',
  async () => {
    const fleet = await fleets.start({ instances: 2, args: ['--drain-delay', '1s'] });
    const load = steadyLoad(fleet, RATE);
    const exits: (number | null)[] = [];
    const readyWhileDraining: number[] = [];
    await sleep(3_000);
    for (const i of [0, 1]) {
      const gw = fleet.instances[i]!;
      const stopping = fleet.stop(i, 'SIGTERM');
      // Readiness goes false first, while the listener still takes events.
      await sleep(300);
      readyWhileDraining.push((await fetch(`${gw.adminUrl}/readyz`)).status);
      exits.push(await stopping);
      const again = await fleet.start(i);
      expect(await readyWithin(again, 60_000)).toBe(true);
      await sleep(3_000);
    }
    const result = await load.stop();
    const s = await settle(fleet, result, 60_000);
    await reportRun('rolling-restart', fleet, result, s, fleets.url(), { rate: RATE, exits: exits.join('/') });
    expect(readyWhileDraining).toEqual([503, 503]);
    expect(exits).toEqual([0, 0]);
    expect(result.refused.size).toBe(0);
    expect(s.missing).toBe(0);
    expect(s.outOfOrder).toBe(0);
  },
  120_000,
);
