import { beforeAll, expect, it } from 'vitest';
import { pgAvailable } from '../pg.js';
import { previousBuild } from '../support/previous-build.js';
import { fleetPerTest, readyWithin, reportRun, settle, steadyLoad } from './fleet.js';
import { sleep } from './lib.js';

/**
 * Rolling upgrade under load: the previous release and the current one side by side on one
 * PostgreSQL database, as during a deploy. The fleet starts with the previous release's build on
 * both instances; each is then stopped (SIGTERM) and replaced by the current build in turn, while
 * operators' messages keep coming. Nothing refused, nothing lost, each chat in order.
 */

/** The release before these changes; B24GW_PREVIOUS_RELEASE names another. */
const PREVIOUS = process.env.B24GW_PREVIOUS_RELEASE ?? 'ee6d60a';
const RATE = Number(process.env.RELIABILITY_RATE ?? 100);

let previous: ReturnType<typeof previousBuild> = { unavailable: 'not built yet' };
beforeAll(() => {
  previous = previousBuild(PREVIOUS);
  if ('unavailable' in previous) console.warn(`rolling upgrade SKIPPED: ${previous.unavailable}`);
}, 400_000);
const fleets = fleetPerTest();

it.skipIf(!pgAvailable)(
  `rolling upgrade: the previous release (${PREVIOUS}) replaced by the current one, instance by instance, under load`,
  async (ctx) => {
    if ('unavailable' in previous) return ctx.skip();
    const old = previous.cli;
    const fleet = await fleets.start({ instances: 2, oldCli: old });
    const load = steadyLoad(fleet, RATE);
    const exits: (number | null)[] = [];
    await sleep(3_000);
    for (const i of [0, 1]) {
      exits.push(await fleet.stop(i, 'SIGTERM'));
      const current = await fleet.start(i);
      expect(await readyWithin(current, 60_000)).toBe(true);
      await sleep(3_000);
    }
    const result = await load.stop();
    const s = await settle(fleet, result, 60_000);
    await reportRun('rolling-upgrade', fleet, result, s, fleets.url(), {
      previous: PREVIOUS,
      rate: RATE,
      exits: exits.join('/'),
    });
    expect(exits).toEqual([0, 0]);
    // The previous release has no drain delay: what reached it as it closed was answered 503, never taken silently.
    expect([...result.refused.keys()].every((status) => status === 503)).toBe(true);
    expect(s.missing).toBe(0);
    expect(s.outOfOrder).toBe(0);
  },
  180_000,
);
