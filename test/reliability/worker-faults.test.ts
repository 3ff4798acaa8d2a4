import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { lapsedAttempt } from '../../src/store/lapsed.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { formFixture } from '../fixtures.js';
import { freePort, startNodeProcess, type GatewayProcess } from '../process.js';
import { figures, PORTAL_B, post, sleep, waitUntil } from './lib.js';
import { useRig } from './rig.js';

/**
 * Handlers that misbehave, in gateway processes of the built package (fault-gateway.mjs), events
 * through POST /events:
 * (a) a handler that kills its process on one event: restarted each time, the gateway runs that
 *     event no more than its retry budget allows, then it is dead, and every other event is done;
 * (b) a handler that ignores its aborted signal, with a second process on the same database: the
 *     event never runs twice at once, and its timed-out attempt is recorded once it settles.
 */

const script = new URL('./fault-gateway.mjs', import.meta.url).pathname;
const seed = formFixture('imconnector-message-update');
const bodyFor = (chat: string, message: string, n: number) =>
  seed
    .replace('channel-123', chat)
    .replace('ext-msg-005', message)
    .replace('ts=1773760030', `ts=${1773760030 + n}`);

const rig = useRig();

interface Config {
  leaseMs: number;
  handlerTimeoutMs: number;
  schedule: number[];
  slowMs?: number;
}

const start = async (config: Config): Promise<GatewayProcess> => {
  const port = await freePort();
  const o = {
    ...config,
    db: `${rig.tmp.dir}/faults.db`,
    log: `${rig.tmp.dir}/runs.log`,
    port,
    member: PORTAL_B.member,
    token: PORTAL_B.token,
  };
  return startNodeProcess([script, JSON.stringify(o)], port);
};

/** The handler's lines: start/end, message id, attempt, pid (and whether the signal was aborted, on end). */
const runs = () =>
  existsSync(`${rig.tmp.dir}/runs.log`)
    ? readFileSync(`${rig.tmp.dir}/runs.log`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const [what, id, attempt, pid, aborted] = l.split(' ');
          return { what: what!, id: id!, attempt: Number(attempt), pid: Number(pid), aborted: aborted === 'true' };
        })
    : [];

/** The most runs of one message at once, across processes, from the order of the lines. */
const mostAtOnce = (id: string) => {
  let now = 0;
  let most = 0;
  for (const r of runs().filter((x) => x.id === id)) {
    now += r.what === 'start' ? 1 : -1;
    most = Math.max(most, now);
  }
  return most;
};

it('crash loop: an event that kills its process is dead after its retry budget, and every other event is done', async () => {
  const started = Date.now();
  const schedule = [100, 100]; // three attempts
  const config = { leaseMs: 1_000, handlerTimeoutMs: 10_000, schedule };
  rig.gw = await start(config);
  let processes = 1;
  let crashes = 0;
  let supervising = true;
  const alive = (gw: GatewayProcess) => gw.child.exitCode === null && gw.child.signalCode === null;
  // Restarts the gateway whenever it dies, as a supervisor would, up to a bound.
  const supervisor = (async () => {
    while (supervising && processes < 8) {
      const gw = rig.gw!;
      if (alive(gw)) await new Promise((r) => gw.child.once('exit', r));
      if (!supervising) return;
      if (gw.child.signalCode === 'SIGKILL') crashes++;
      // One may die while starting, when it takes the poisoned event at once: start another.
      for (;;) {
        processes++;
        try {
          rig.gw = await start(config);
          break;
        } catch {
          crashes++;
          if (!supervising || processes >= 8) return;
        }
      }
    }
  })();
  /** Posts until some live process answers 200; a duplicate of a body that got in before a crash is fine. */
  const send = async (body: string) => {
    for (const end = Date.now() + 30_000; Date.now() < end; await sleep(50)) {
      const r = await post(`${rig.gw!.url}/events`, body);
      if (r.status === 200) return (r.json as { id: number }).id;
      expect(r.status).toBe(0);
    }
    throw new Error('no gateway took the event');
  };

  const store = new SqliteStore(`${rig.tmp.dir}/faults.db`);
  try {
    let n = 0;
    const before: number[] = [];
    for (let i = 0; i < 10; i++) before.push(await send(bodyFor(`before-${i}`, `b-${i}`, n++)));
    expect(await waitUntil(async () => (await store.countEvents()).done === 10, 20_000)).toBe(true);
    const poison = await send(bodyFor('poisoned-chat', 'poison', n++));
    const after: number[] = [];
    for (let i = 0; i < 10; i++) after.push(await send(bodyFor(`after-${i}`, `a-${i}`, n++)));
    // Behind the poisoned event in its chat: runs once that one is dead.
    const behind = await send(bodyFor('poisoned-chat', 'behind', n++));

    const others = [...before, ...after, behind];
    const settled = await waitUntil(
      async () => {
        const events = await Promise.all([poison, ...others].map((id) => store.getEvent(id)));
        return events[0]?.status === 'dead' && events.slice(1).every((e) => e?.status === 'done');
      },
      40_000,
      100,
    );
    supervising = false;

    const dead = await store.getEvent(poison);
    const poisonRuns = runs().filter((r) => r.id === 'poison' && r.what === 'start');
    const lines = runs();
    figures('worker-faults crash loop', {
      processes,
      crashes,
      'poison-runs': poisonRuns.length,
      'poison-status': dead?.status ?? 'missing',
      'others-done': (await Promise.all(others.map((id) => store.getEvent(id)))).filter((e) => e?.status === 'done')
        .length,
      seconds: ((Date.now() - started) / 1000).toFixed(1),
    });
    expect(settled).toBe(true);
    // Run exactly as often as the budget allows (first attempt + one per retry), never again.
    expect(poisonRuns.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(new Set(poisonRuns.map((r) => r.pid)).size).toBe(3);
    expect(dead).toMatchObject({ status: 'dead', attempts: 3 });
    expect(dead?.lastError).toMatch(/^the gateway stopped during each of its 3 attempts \(a crash loop\?\)/);
    expect((await store.attempts(poison)).map((a) => [a.attempt, a.ok, a.error])).toEqual([
      [1, false, lapsedAttempt],
      [2, false, lapsedAttempt],
      [3, false, dead?.lastError],
    ]);
    for (const id of others) expect(await store.getEvent(id)).toMatchObject({ status: 'done', attempts: 1 });
    // Its chat waited: the event behind it started after the last run of the poisoned one.
    const lastPoison = lines.findLastIndex((r) => r.id === 'poison');
    expect(lines.findIndex((r) => r.id === 'behind')).toBeGreaterThan(lastPoison);
    expect(crashes).toBe(3);
  } finally {
    supervising = false;
    await rig.gw?.kill('SIGKILL');
    await supervisor;
    await store.close();
  }
}, 90_000);

it('slow handler deaf to its signal: never two runs at once across two processes, and its timed-out attempt is retried once it settles', async () => {
  const started = Date.now();
  // The handler sleeps five leases; the time limit aborts it after half of one.
  const config = { leaseMs: 600, handlerTimeoutMs: 300, schedule: [100], slowMs: 3_000 };
  rig.gw = await start(config);
  const second = await start(config); // a worker on the same database, ready to take what it may
  const store = new SqliteStore(`${rig.tmp.dir}/faults.db`);
  try {
    const slow = await post(`${rig.gw.url}/events`, bodyFor('slow-chat', 'slow', 0));
    expect(slow.status).toBe(200);
    const id = (slow.json as { id: number }).id;
    const quick: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post(`${rig.gw.url}/events`, bodyFor(`quick-${i}`, `q-${i}`, i + 1));
      expect(r.status).toBe(200);
      quick.push((r.json as { id: number }).id);
    }
    const done = await waitUntil(async () => (await store.getEvent(id))?.status === 'done', 30_000, 100);
    const lines = runs().filter((r) => r.id === 'slow');
    const output = rig.gw.output() + second.output();
    figures('worker-faults slow handler', {
      runs: lines.filter((r) => r.what === 'start').length,
      'most-at-once': mostAtOnce('slow'),
      processes: new Set(lines.map((r) => r.pid)).size,
      warnings: (output.match(/ignore their aborted signal/g) ?? []).length,
      seconds: ((Date.now() - started) / 1000).toFixed(1),
    });
    expect(done).toBe(true);
    expect(mostAtOnce('slow')).toBe(1);
    // The first run ended (deaf, its signal aborted) before the second began.
    expect(lines.map((r) => [r.what, r.attempt, r.what === 'end' ? r.aborted : undefined])).toEqual([
      ['start', 1, undefined],
      ['end', 1, true],
      ['start', 2, undefined],
      ['end', 2, false],
    ]);
    expect((await store.attempts(id)).map((a) => [a.attempt, a.ok, a.error])).toEqual([
      [1, false, 'handlers did not finish within 300 ms'],
      [2, true, null],
    ]);
    expect(output).toMatch(/the handlers of event \d+ ignore their aborted signal and still run/);
    for (const q of quick) expect(await store.getEvent(q)).toMatchObject({ status: 'done', attempts: 1 });
  } finally {
    await second.kill('SIGKILL');
    await store.close();
  }
}, 60_000);
