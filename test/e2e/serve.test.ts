import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { formFixture } from '../fixtures.js';
import { tempDirEach } from '../helpers.js';
import { startGatewayProcess } from '../process.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';

/** `serve` takes events on its main thread, alone (--role intake) or with the worker on a thread of its own (all). */
describe.each(['intake', 'all'])('b24-im-gateway serve --role %s', (role) => {
  const tmp = tempDirEach();

  it('answers each request with its own outcome, codes and paths intact, and stores before a clean exit', async () => {
    const db = `${tmp.dir}/data/e.db`;
    const gw = await startGatewayProcess(
      ['--role', role, '--db', db, '--app-token', `${MEMBER}=${TOKEN}`, '--log-level', 'error'],
      { admin: true },
    );
    const post = async (body: string) => {
      const res = await fetch(`${gw.url}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      return {
        status: res.status,
        body: (await res.json()) as { id?: number; duplicate?: boolean; error?: { code: string; path?: string } },
      };
    };
    const good = formFixture('imconnector-message-update');
    let answers;
    try {
      // Sent together, so they share commits and must come back to the right requests.
      answers = await Promise.all([
        ...Array.from({ length: 40 }, (_, i) => post(good.replace(/&ts=\d+/, `&ts=${1773760030 + i}`))),
        post(good),
        post(good.replace('data%5BLINE%5D=107', 'data%5BLINE%5D=seven')),
        post(good.replace(TOKEN, 'f'.repeat(32))),
        post(`${good.replace(/&ts=\d+/, '&ts=1773760099')}&a${'[x]'.repeat(40)}=1`),
      ]);
      // Metrics only on the admin port: the public one, which takes events, has none.
      const metrics = await fetch(`${gw.adminUrl}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/b24gw_events_rejected_total\{reason="token_mismatch"\} 1/);
      const publicMetrics = await fetch(`${gw.url}/metrics`);
      expect(publicMetrics.status).toBe(404);
      expect(await publicMetrics.json()).toMatchObject({ error: { code: 'B24GW_NOT_FOUND' } });
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      // The database, its -wal and -shm are the owner's only, and so is the folder made for them.
      for (const f of [db, `${db}-wal`, `${db}-shm`])
        expect([f, (statSync(f).mode & 0o777).toString(8)]).toEqual([f, '600']);
      expect((statSync(`${tmp.dir}/data`).mode & 0o777).toString(8)).toBe('700');
    } finally {
      await gw.kill('SIGTERM');
    }
    expect(gw.child.exitCode).toBe(0);
    const fresh = answers.slice(0, 40);
    const [dup, invalid, forged, garbled] = answers.slice(40);
    // The first body and `dup` are the same delivery, sent together: either may be stored first, the other is its duplicate.
    expect([fresh[0]!.body.duplicate, dup!.body.duplicate].sort()).toEqual([false, true]);
    expect(dup).toEqual({ status: 200, body: { ok: true, id: fresh[0]!.body.id, duplicate: dup!.body.duplicate } });
    expect(fresh.slice(1).every((a) => a.status === 200 && a.body.duplicate === false)).toBe(true);
    expect(new Set(fresh.map((a) => a.body.id)).size).toBe(40);
    expect(invalid).toMatchObject({
      status: 400,
      body: { error: { code: 'B24GW_INVALID_EVENT', path: 'data[LINE]' } },
    });
    expect(forged).toMatchObject({ status: 401, body: { error: { code: 'B24GW_UNAUTHORIZED' } } });
    expect(garbled).toMatchObject({ status: 400, body: { error: { code: 'B24GW_TOO_DEEP' } } });
    const store = new SqliteStore(db);
    try {
      const stored = await store.listEvents({ limit: 100 });
      // Each id answered is the row that holds that event's ts; the invalid one is kept as invalid.
      for (const [i, a] of fresh.entries()) expect(stored.find((e) => e.id === a.body.id)?.ts).toBe(1773760030 + i);
      expect(stored.filter((e) => e.status === 'invalid')).toHaveLength(1);
      expect(stored).toHaveLength(41);
    } finally {
      await store.close();
    }
  });
});
