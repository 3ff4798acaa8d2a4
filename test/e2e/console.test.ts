import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { storeWithDeadLetter } from '../dead-letters.js';
import { tempDirEach } from '../helpers.js';
import { cli, freePort } from '../process.js';

const TOKEN = 'console-cli-token-0f3b9e2a';
/** The CLI, run without blocking this process: the console's sockets stay served meanwhile. */
const run = async (args: string[]) => {
  try {
    const r = await promisify(execFile)(process.execPath, [cli, ...args], { encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const r = e as { code: number; stdout: string; stderr: string };
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }
};

describe('b24-im-gateway console', () => {
  const tmp = tempDirEach();

  it('serves the page and its API for a database, and agrees with the CLI on events and replay', async () => {
    const db = `${tmp.dir}/c.db`;
    await storeWithDeadLetter(
      db,
      ['imconnector-message-update', 'imconnector-message-delete', 'imconnector-message-add'],
      { state: false },
    );

    // Port 0, the address read from its log: no other test can take the port in between.
    const child = spawn(
      process.execPath,
      [cli, 'console', '--db', db, '--host', '0.0.0.0', '--port', '0', '--log-level', 'info'],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, B24GW_ADMIN_TOKEN: TOKEN } },
    );
    const auth = { authorization: `Bearer ${TOKEN}` };
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const at = /"url":"http:\/\/[^:]+:(\d+)\/console\/"/.exec(out);
          if (at) resolve(`http://127.0.0.1:${at[1]}`);
        });
        child.once('exit', (code) => reject(new Error(`console exited with ${code}: ${out}`)));
      });
      expect((await fetch(`${url}/api/events`)).status).toBe(401);
      const page = (await (await fetch(`${url}/api/events?limit=2`, { headers: auth })).json()) as {
        events: { id: number; code: string; status: string }[];
        next: number | null;
      };
      const cli = JSON.parse((await run(['events', '--db', db, '--json', '--limit', '2'])).stdout) as { id: number }[];
      // The CLI prints the same page, oldest first.
      expect(cli.map((e) => e.id)).toEqual(page.events.map((e) => e.id).reverse());
      expect(page.next).not.toBeNull();
      const dead = JSON.parse((await run(['events', '--db', db, '--json', '--status', 'dead'])).stdout) as {
        id: number;
      }[];
      expect(dead).toHaveLength(1);
      const replayed = await fetch(`${url}/api/replay`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ ids: [dead[0]!.id] }),
      });
      expect(await replayed.json()).toEqual({ requested: 1, requeued: 1, ids: [dead[0]!.id] });
      expect(
        JSON.parse((await run(['events', '--db', db, '--json', '--code', 'ONIMCONNECTORMESSAGEUPDATE'])).stdout),
      ).toMatchObject([{ id: dead[0]!.id, status: 'pending' }]);
      expect((await run(['events', '--db', db, '--line', '107'])).stderr).toMatch(
        /^error B24GW_BAD_INPUT: a line filter needs a portal/,
      );
      const html = await fetch(`${url}/console/`, {
        headers: { authorization: `Basic ${Buffer.from(`me:${TOKEN}`).toString('base64')}` },
      });
      expect(html.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('refuses a missing database, and an open address without a token', async () => {
    expect((await run(['console', '--db', `${tmp.dir}/missing.db`])).stderr).toContain('No database at');
    await run(['migrate', '--db', `${tmp.dir}/m.db`]);
    const open = spawnSync(
      process.execPath,
      [cli, 'console', '--db', `${tmp.dir}/m.db`, '--host', '0.0.0.0', '--port', String(await freePort())],
      { encoding: 'utf8', env: { ...process.env, B24GW_ADMIN_TOKEN: '' }, timeout: 15_000 },
    );
    expect(open.stderr).toMatch(
      /^error B24GW_BAD_CONFIG: The admin listener on 0\.0\.0\.0 is reachable from other machines/,
    );
  });
});
