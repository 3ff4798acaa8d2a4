import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { formFixture } from '../fixtures.js';
import { tempDirEach } from '../helpers.js';
import { cli, startGatewayProcess } from '../process.js';
import { newEvent } from '../store/conformance.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const HOUR = 3_600_000;

const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** A database with events in every status, received `ageMs` ago, each run once by a worker; returns their ids by status. */
async function fill(
  file: string,
  ageMs: number,
): Promise<Record<'done' | 'dead' | 'retry' | 'invalid' | 'pending', number>> {
  const store = new SqliteStore(file);
  try {
    const at = Date.now() - ageMs;
    const add = async (over = {}) => (await store.append(newEvent({ receivedAt: at, ...over }))).id;
    const done = await add();
    const dead = await add();
    // The pending one waits behind the retry (same chat): no worker takes it.
    const retry = await add({ orderKey: `chat-${ageMs}` });
    for (const e of await store.claim('old-worker', at, 60_000, 10, 8)) {
      const outcome =
        e.id === done
          ? { ok: true as const }
          : { ok: false as const, error: 'boom', retryAt: e.id === dead ? null : Date.now() + 24 * HOUR };
      await store.finish(e.id, 'old-worker', outcome, at);
    }
    return {
      done,
      dead,
      retry,
      invalid: await add({ status: 'invalid', error: 'bad' }),
      pending: await add({ orderKey: `chat-${ageMs}` }),
    };
  } finally {
    await store.close();
  }
}

const left = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return {
      events: db.prepare('SELECT id, status FROM events ORDER BY id').all() as { id: number; status: string }[],
      attempts: db.prepare('SELECT DISTINCT event_id FROM event_attempts ORDER BY event_id').pluck().all() as number[],
    };
  } finally {
    db.close();
  }
};

describe('b24-im-gateway prune', () => {
  const tmp = tempDirEach();

  it('removes only finished events older than the age, with their attempts', async () => {
    const db = `${tmp.dir}/p.db`;
    const old = await fill(db, 48 * HOUR);
    const recent = await fill(db, HOUR);
    const before = left(db);
    expect(before.attempts).toEqual([old.done, old.dead, old.retry, recent.done, recent.dead, recent.retry]);

    const dry = run(['prune', '--db', db, '--older-than', '1d', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^3 done, invalid, dead events received before \S+ would be pruned\n$/);
    expect(left(db)).toEqual(before);

    const deadOnly = run(['prune', '--db', db, '--older-than', '1d', '--status', 'dead']);
    expect(deadOnly.stdout).toMatch(/^1 dead events received before \S+ pruned\n$/);
    const r = run(['prune', '--db', db, '--older-than', '1d']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^2 done, invalid, dead events received before \S+ pruned\n$/);
    const after = left(db);
    const gone = [old.done, old.dead, old.invalid];
    expect(after.events.map((e) => e.id)).toEqual(before.events.map((e) => e.id).filter((id) => !gone.includes(id)));
    expect(after.events.find((e) => e.id === old.retry)?.status).toBe('retry');
    expect(after.events.find((e) => e.id === old.pending)?.status).toBe('pending');
    expect(after.attempts).toEqual([old.retry, recent.done, recent.dead, recent.retry]);
  });

  it('refuses unfinished statuses and a missing age, with codes', () => {
    const db = `${tmp.dir}/none.db`;
    expect(run(['prune', '--db', db]).stderr).toBe('error B24GW_BAD_INPUT: Say how old: --older-than 30d\n');
    expect(run(['prune', '--db', db, '--older-than', 'a month']).stderr).toMatch(
      /^error B24GW_BAD_INPUT: --older-than: "a month" is not a duration/,
    );
    expect(run(['prune', '--db', db, '--older-than', '1d', '--status', 'done,pending']).stderr).toMatch(
      /^error B24GW_BAD_INPUT: Only finished events can be pruned \(done, invalid, dead\), got "done,pending"\n$/,
    );
    const missing = run(['prune', '--db', db, '--older-than', '1d']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error B24GW_BAD_INPUT: No database at/);
    expect(run(['prune', '--help']).stdout).toContain('Usage: b24-im-gateway prune');
  });
});

describe('b24-im-gateway serve --retain', () => {
  const tmp = tempDirEach();

  it('prunes finished events older than the retention while it runs, and nothing else', async () => {
    const db = `${tmp.dir}/r.db`;
    const old = await fill(db, 2 * HOUR);
    const gw = await startGatewayProcess([
      '--db',
      db,
      '--retain',
      '1h',
      '--app-token',
      `${MEMBER}=${TOKEN}`,
      '--log-level',
      'info',
    ]);
    try {
      const res = await fetch(`${gw.url}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: formFixture('imconnector-message-update'),
      });
      const { id: fresh } = (await res.json()) as { id: number };
      const deadline = Date.now() + 15_000;
      let events = left(db).events;
      while (
        (events.some((e) => e.id === old.done) || events.find((e) => e.id === fresh)?.status !== 'done') &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 100));
        events = left(db).events;
      }
      expect(events).toEqual([
        { id: old.retry, status: 'retry' },
        { id: old.pending, status: 'pending' },
        { id: fresh, status: 'done' },
      ]);
      expect(gw.output()).toMatch(/"removed":3,.*"msg":"pruned 3 finished events received before/);
    } finally {
      await gw.kill();
    }
    expect(run(['serve', '--db', db, '--role', 'intake', '--retain', '1h']).stderr).toBe(
      'error B24GW_BAD_CONFIG: --retain runs with the worker: use it with --role all or worker\n',
    );
  });
});
