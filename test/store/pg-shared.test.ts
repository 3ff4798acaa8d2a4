import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Sandbox } from '@b24-im-gateway/sandbox';
import { BitrixClients } from '../../src/effects/bitrix/client.js';
import { PgStore } from '../../src/store/postgres/store.js';
import { CLIENT_ID, CLIENT_SECRET, installPortal, refreshesOf, startPortal } from '../bitrix-sandbox.js';
import { freshDatabase, pgAvailable } from '../pg.js';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let stores: PgStore[] = [];
let sb: Sandbox | undefined;
const open = () => {
  const s = new PgStore(db.url);
  stores.push(s);
  return s;
};
beforeEach(async () => {
  if (pgAvailable) db = await freshDatabase();
});
afterEach(async () => {
  if (!pgAvailable) return;
  for (const s of stores) await s.close();
  stores = [];
  await sb?.stop();
  sb = undefined;
  await db.drop();
});

it.skipIf(!pgAvailable)('two instances share one leaky bucket per portal: the burst is free once, then slots are spaced', async () => {
  const [a, b] = [open(), open()];
  const limits = { burst: 5, perSecond: 10 };
  const waits = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).rateSlot('m1', limits, 1_000, 'take')));
  expect(waits.filter((w) => w === 0)).toHaveLength(5);
  // The 15 reservations past the burst are 100 ms apart, shared by both instances.
  expect(waits.filter((w) => w > 0).sort((x, y) => x - y)).toEqual(Array.from({ length: 15 }, (_, i) => (i + 1) * 100));
  // A QUERY_LIMIT_EXCEEDED fills the bucket for everyone.
  expect(await a.rateSlot('m2', limits, 1_000, 'fill')).toBe(0);
  expect(await b.rateSlot('m2', limits, 1_000, 'take')).toBe(100);
  // It drains with time.
  expect(await a.rateSlot('m2', limits, 61_000, 'take')).toBe(0);
});

it.skipIf(!pgAvailable)('a portal lock is held by one instance at a time', async () => {
  const [a, b] = [open(), open()];
  let inside = 0;
  let overlap = 0;
  const work = (s: PgStore) =>
    s.withPortalLock('m1', async () => {
      if (++inside > 1) overlap++;
      await new Promise((r) => setTimeout(r, 10));
      inside--;
    });
  await Promise.all(Array.from({ length: 10 }, (_, i) => work(i % 2 ? a : b)));
  expect(overlap).toBe(0);
});

it.skipIf(!pgAvailable)('two instances whose token expired at once refresh it once between them', async () => {
  const started = await startPortal({ slowOAuthMs: 50 });
  sb = started.sb;
  const { portal } = started;
  const [a, b] = [open(), open()];
  const pair = sb.issueTokens(portal);
  await installPortal(a, portal, pair, { expiresAt: Date.now() - 1_000 });
  sb.faults.expireTokens({ portal });
  const options = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, oauthServer: sb.url };
  const clients = [new BitrixClients({ ...options, store: a }), new BitrixClients({ ...options, store: b })];
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => clients[i % 2]!.forPortal(portal.memberId).call<{ ID: number }>('app.info')));
  expect(results.every((r) => r.ID === portal.appId)).toBe(true);
  // A refresh token works once: a second refresh would have been refused and counted here.
  expect(refreshesOf(sb)).toEqual([{ refreshToken: pair.refresh_token, ok: true }]);
});
