import { afterEach, beforeEach, expect, it } from 'vitest';
import { freshDatabase, pgAvailable } from '../pg.js';
import { dbCounts, readyWithin, settle, startFleet, steadyLoad, type Fleet } from './fleet.js';
import { figures, sleep } from './lib.js';

/**
 * Rolling restart under load: two `serve` instances on one PostgreSQL database behind a load
 * balancer that polls /readyz; each gets SIGTERM in turn while operators' messages keep coming,
 * and is started again. Each must go not-ready first (so the balancer stops sending), finish what
 * it holds, and exit 0; nothing is refused, nothing lost, each chat's messages in order.
 */

const RATE = Number(process.env.RELIABILITY_RATE ?? 100);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let fleet: Fleet | undefined;
beforeEach(async () => {
  if (pgAvailable) db = await freshDatabase();
});
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
  if (pgAvailable) await db.drop();
});

it.skipIf(!pgAvailable)(
  'rolling restart: SIGTERM to each of two instances in turn under load; each exits 0, nothing refused or lost, order per chat holds',
  async () => {
    fleet = await startFleet({ db: db.url, instances: 2, args: ['--drain-delay', '1s'] });
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
    figures('rolling-restart', {
      rate: RATE,
      sent: result.sent,
      acknowledged: result.acked.size,
      refused: JSON.stringify(Object.fromEntries(result.refused)),
      rerouted: fleet.lb.rerouted,
      exits: exits.join('/'),
      ...s,
      ...(await dbCounts(db.url)),
    });
    if (result.refusals.length > 0) console.log(result.refusals.join('\n'));
    expect(readyWhileDraining).toEqual([503, 503]);
    expect(exits).toEqual([0, 0]);
    expect(result.refused.size).toBe(0);
    expect(s.missing).toBe(0);
    expect(s.outOfOrder).toBe(0);
  },
  120_000,
);
