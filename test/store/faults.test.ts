import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/gateway.js';
import { startServer, type RunningServer } from '../../src/server/start.js';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { freshDatabase, pgAvailable } from '../pg.js';
import pg from 'pg';
import { formFixture } from '../fixtures.js';
import { tempDir } from '../helpers.js';
import { newEvent } from './conformance.js';

/*
 * Faults of the storage under the intake, through real HTTP: a commit the database refuses, the
 * SQLite writer thread dying mid-commit, a full disk. Whatever happens, an event answered 200 is
 * in the database as sent, an event not stored is never answered 200, and the gateway takes events
 * again once the fault is gone.
 */

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const update = formFixture('imconnector-message-update');
const TEXT = 'data%5BMESSAGES%5D%5B0%5D%5Bmessage%5D%5Btext%5D=';
/** Event n: its own message id, chat and time, and `pad` bytes of text. */
const eventBody = (n: number, pad = 0) =>
  update
    .replace('ext-msg-005', `m-${n}`)
    .replace('channel-123', `chat-${n % 7}`)
    .replace('ts=1773760030', `ts=${1773760030 + n}`)
    .replace(TEXT, `${TEXT}${'x'.repeat(pad)}`);

interface Answer {
  n: number;
  status: number;
  id?: number;
  code?: string;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(
  db: string,
): Promise<{ gateway: Gateway; server: RunningServer; post: (n: number, pad?: number) => Promise<Answer> }> {
  const gateway = new Gateway({ db, appTokens: new Map([[MEMBER, TOKEN]]) });
  // The intake alone: nothing but the answers writes to the database.
  const server = await startServer(gateway, { port: 0, role: 'intake' });
  cleanups.push(() => server.close());
  const post = async (n: number, pad = 0): Promise<Answer> => {
    const res = await fetch(`${server.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: eventBody(n, pad),
    });
    const body = (await res.json()) as { id?: number; error?: { code: string } };
    return { n, status: res.status, id: body.id, code: body.error?.code };
  };
  return { gateway, server, post };
}

/** Every event answered 200 is stored under its id, as sent; none other is. */
async function expectAcknowledgedKept(location: string, answers: Answer[]): Promise<void> {
  const store = openStore(location);
  try {
    const stored = new Map((await store.listEvents({ limit: 10_000 })).map((e) => [e.id, e]));
    const acknowledged = answers.filter((a) => a.status === 200);
    for (const a of acknowledged) {
      const e = stored.get(a.id!);
      expect([a.n, e?.ts]).toEqual([a.n, 1773760030 + a.n]);
    }
    // Anything stored was answered 200 at some point (a refused one may be stored and answered when retried).
    const acknowledgedTs = new Set(acknowledged.map((a) => 1773760030 + a.n));
    for (const e of stored.values())
      expect(acknowledgedTs.has(e.ts!), `event ts ${e.ts} stored but never acknowledged`).toBe(true);
  } finally {
    await store.close();
  }
}

describe('storage faults under the intake', () => {
  const refuseCommits = {
    SQLite: async (gateway: Gateway, on: boolean) =>
      (gateway.store as SqliteStore).db.exec(
        on
          ? "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
          : 'DROP TRIGGER refuse',
      ),
    PostgreSQL: async (_gateway: Gateway, on: boolean, url?: string) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(
          on
            ? "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()"
            : 'DROP TRIGGER refuse ON events',
        );
      } finally {
        await c.end();
      }
    },
  };
  for (const kind of ['SQLite', 'PostgreSQL'] as const)
    it.skipIf(kind === 'PostgreSQL' && !pgAvailable)(
      `${kind}: a commit the database refuses: 503 B24GW_STORE_FAILED for each event in it, nothing stored; taken again once it commits`,
      async () => {
        let location: string;
        if (kind === 'SQLite') {
          const tmp = tempDir();
          cleanups.push(tmp.cleanup);
          location = `${tmp.dir}/refuse.db`;
        } else {
          const db = await freshDatabase();
          cleanups.push(db.drop);
          location = db.url;
        }
        const { gateway, post } = await serve(location);
        const answers: Answer[] = [];
        answers.push(await post(1));
        expect(answers[0]).toMatchObject({ status: 200 });
        // Every commit of a new event now fails, whole or row by row.
        await refuseCommits[kind](gateway, true, location);
        const refused = await Promise.all([2, 3, 4, 5].map((n) => post(n)));
        expect(refused.map((a) => [a.status, a.code])).toEqual(refused.map(() => [503, 'B24GW_STORE_FAILED']));
        answers.push(...refused);
        await refuseCommits[kind](gateway, false, location);
        const retried = await Promise.all([2, 3, 4, 5].map((n) => post(n)));
        expect(retried.map((a) => a.status)).toEqual([200, 200, 200, 200]);
        answers.push(...retried);
        await expectAcknowledgedKept(location, answers);
      },
    );

  it('the writer thread dies mid-commit: what it did not answer is 503, what was answered 200 is kept, and a new thread takes over', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const file = `${tmp.dir}/thread.db`;
    const { gateway, post } = await serve(file);
    const answers: Answer[] = [await post(0)];
    const writer = (gateway.store as unknown as { appender: { worker: { terminate(): Promise<number> } } }).appender;
    // A burst, and the thread stopped while it commits.
    const burst = Array.from({ length: 60 }, (_, i) => post(i + 1));
    await new Promise((r) => setTimeout(r, 5));
    await writer.worker.terminate();
    answers.push(...(await Promise.all(burst)));
    const failed = answers.filter((a) => a.status !== 200);
    expect(failed.every((a) => a.status === 503 && a.code === 'B24GW_STORE_FAILED')).toBe(true);
    // What was refused is sent again, as Bitrix24 does: taken (or found already stored) by a new thread.
    const again = await Promise.all(failed.map((a) => post(a.n)));
    expect(again.map((a) => a.status)).toEqual(failed.map(() => 200));
    answers.push(...again);
    await expectAcknowledgedKept(file, answers);
    expect(new Set(answers.filter((a) => a.status === 200).map((a) => a.n)).size).toBe(61);
  });
});

describe('the SQLite writer thread', () => {
  it('rejects the append it holds when it dies (B24GW_STORE_FAILED), and the next append starts a new one', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const store = new SqliteStore(`${tmp.dir}/dies.db`);
    cleanups.push(() => store.close());
    expect((await store.append(newEvent({ dedupKey: 'before' }))).duplicate).toBe(false);
    const writer = (store as unknown as { appender: { worker: { terminate(): Promise<number> } } }).appender;
    const held = store.append(newEvent({ dedupKey: 'held' }));
    const stopped = writer.worker.terminate();
    await expect(held).rejects.toMatchObject({ code: 'B24GW_STORE_FAILED' });
    await stopped;
    const after = await store.append(newEvent({ dedupKey: 'after' }));
    expect(after.duplicate).toBe(false);
    expect(store.db.prepare('SELECT dedup_key FROM events ORDER BY id').pluck().all()).toEqual(['before', 'after']);
  });
});

const asRoot = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;

describe.skipIf(!asRoot)('a full disk (a 2 MB tmpfs)', () => {
  it('answers 503 once nothing more fits, never 200 for what was not stored, and takes events again when there is room', async () => {
    const mnt = `/tmp/b24gw-full-${process.pid}`;
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    cleanups.push(() => {
      spawnSync('umount', ['-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
    });
    // Room to give back once the disk is full.
    writeFileSync(`${mnt}/ballast`, Buffer.alloc(256 * 1024));
    const file = `${mnt}/full.db`;
    const { post } = await serve(file);
    const answers: Answer[] = [];
    let n = 0;
    // Events of 4 KB, a few at a time, until twenty in a row are refused.
    for (let refusedInARow = 0; refusedInARow < 20 && n < 2_000;) {
      const round = await Promise.all(Array.from({ length: 4 }, () => post(++n, 4_000)));
      answers.push(...round);
      for (const a of round) refusedInARow = a.status === 200 ? 0 : refusedInARow + 1;
    }
    const refused = answers.filter((a) => a.status !== 200);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(50);
    expect(refused.length).toBeGreaterThanOrEqual(20);
    expect(refused.every((a) => a.status === 503 && a.code === 'B24GW_STORE_FAILED')).toBe(true);
    // Room again: the gateway, never restarted, takes what it refused.
    rmSync(`${mnt}/ballast`);
    const again = await Promise.all(refused.slice(-5).map((a) => post(a.n, 100)));
    expect(again.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    answers.push(...again);
    await expectAcknowledgedKept(file, answers);
  });
});
