import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { formFixture } from '../fixtures.js';
import { startPgCluster, pgClusterUnavailable, type PgCluster } from '../support/pg-cluster.js';
import { dbCounts, settle, startFleet, steadyLoad, type Fleet } from './fleet.js';
import { figures, PORTAL_B, post, sleep } from './lib.js';
import { startGatewayProcess, type GatewayProcess } from '../process.js';

/**
 * The PostgreSQL server restarts (a private cluster of the test's own, never the machine's) under
 * load: connections are terminated (57P01) or vanish (the server killed), in every thread of the
 * gateway. The gateway never exits; events that arrive while the database is away a few seconds
 * are held and committed once it is back, never refused; past the bound they are answered 503
 * with Retry-After, never 200 without a commit.
 */

let cluster: PgCluster;
let fleet: Fleet | undefined;
let gw: GatewayProcess | undefined;
let n = 0;

beforeAll(async () => {
  if (!pgClusterUnavailable) cluster = await startPgCluster();
}, 60_000);
afterAll(() => cluster?.destroy());
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
  await gw?.kill('SIGKILL');
  gw = undefined;
});

it.skipIf(pgClusterUnavailable)(
  'db restart: the server restarted twice under load (fast stop, then killed), nothing refused, nothing lost, the gateway stays up',
  async () => {
    const db = await cluster.createDatabase(`restart_${++n}`);
    fleet = await startFleet({ db, instances: 1, args: ['--retry-schedule', '200ms,500ms,1s,2s,5s,5s,5s'] });
    const t0 = Date.now();
    const at = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
    const load = steadyLoad(fleet, 200);
    await at(3_000);
    await cluster.restart(2_000);
    await at(9_000);
    cluster.kill();
    await sleep(1_500);
    cluster.start();
    await at(15_000);
    const result = await load.stop();
    const s = await settle(fleet, result, 30_000);
    const gwAlive = fleet.instances[0]!.child.exitCode === null;
    figures('db-restart', {
      sent: result.sent,
      acknowledged: result.acked.size,
      refused: JSON.stringify(Object.fromEntries(result.refused)),
      ...s,
      'gateway-alive': String(gwAlive),
      ...(await dbCounts(db)),
    });
    if (!gwAlive) console.log(fleet.instances[0]!.output().slice(-8000).replace(/\\n/g, '\n'));
    expect(gwAlive).toBe(true);
    expect(result.refused.size).toBe(0);
    expect(s.missing).toBe(0);
    expect(s.outOfOrder).toBe(0);
  },
  120_000,
);

it.skipIf(pgClusterUnavailable)(
  'db away longer than the bound: 503 with Retry-After, never 200 without a commit, ready again once it is back',
  async () => {
    const db = await cluster.createDatabase(`away_${++n}`);
    gw = await startGatewayProcess(
      ['--db', db, '--app-token', `${PORTAL_B.member}=${PORTAL_B.token}`, '--store-wait', '1s', '--log-level', 'fatal'],
      { admin: true },
    );
    const seed = formFixture('imconnector-message-update');
    const body = (i: number) =>
      seed.replace('ext-msg-005', `away-${i}`).replace('ts=1773760030', `ts=${1773760030 + i}`);
    const acked = new Map<number, number>();
    const answers = new Map<number, number>();
    let retryAfter = 0;
    let i = 0;
    const send = async () => {
      const k = i++;
      const res = await fetch(`${gw!.url}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: body(k),
      });
      answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
      if (res.status === 503 && Number(res.headers.get('retry-after')) > 0) retryAfter++;
      const json = (await res.json()) as { id?: number };
      if (res.status === 200) acked.set(json.id!, k);
    };
    for (let k = 0; k < 20; k++) await send();
    cluster.stop();
    const during = Date.now();
    while (Date.now() - during < 4_000) await Promise.all([send(), send(), send()]);
    const ready = await fetch(`${gw.adminUrl}/readyz`);
    cluster.start();
    await sleep(1_000);
    for (let k = 0; k < 20; k++) await send();
    const check = await post(`${gw.url}/events`, body(0));
    const c = new (await import('pg')).default.Client({ connectionString: db });
    await c.connect();
    const stored = new Map(
      (await c.query<{ id: string; dedup_key: string }>('SELECT id, dedup_key FROM events')).rows.map((r) => [
        Number(r.id),
        r.dedup_key,
      ]),
    );
    await c.end();
    figures('db-away', {
      sent: i,
      answers: JSON.stringify(Object.fromEntries(answers)),
      'with-retry-after': retryAfter,
      stored: stored.size,
      'readyz-while-away': ready.status,
      'gateway-alive': String(gw.child.exitCode === null),
    });
    expect(gw.child.exitCode).toBe(null);
    expect(ready.status).toBe(503);
    expect(answers.get(503)).toBeGreaterThan(0);
    expect(retryAfter).toBe(answers.get(503));
    expect([...answers.keys()].sort()).toEqual([200, 503]);
    // Every 200 was committed.
    for (const id of acked.keys()) expect(stored.has(id)).toBe(true);
    expect(check.status).toBe(200);

    // A gateway started while the database is down starts, is not ready, refuses with 503, and
    // takes events once the database is up.
    await gw.kill('SIGTERM');
    cluster.stop();
    gw = await startGatewayProcess(
      ['--db', db, '--app-token', `${PORTAL_B.member}=${PORTAL_B.token}`, '--store-wait', '1s', '--log-level', 'fatal'],
      { admin: true },
    );
    const early = await post(`${gw.url}/events`, body(1_000));
    const readyEarly = (await fetch(`${gw.adminUrl}/readyz`)).status;
    cluster.start();
    let late = { status: 0 };
    for (let k = 0; k < 20 && late.status !== 200; k++) {
      await sleep(500);
      late = await post(`${gw.url}/events`, body(1_001));
    }
    figures('db-down-at-start', {
      'first-answer': early.status,
      'readyz-before': readyEarly,
      'answer-after': late.status,
    });
    expect([early.status, readyEarly, late.status]).toEqual([503, 503, 200]);
    expect(gw.child.exitCode).toBe(null);
  },
  120_000,
);
