import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tempDirEach } from '../helpers.js';
import { cli, freePort, startGatewayProcess } from '../process.js';

const TOKEN = 'e2e-admin-4b1f0c9d2a7e';

describe('b24-im-gateway serve --admin-port', () => {
  const tmp = tempDirEach();

  it('refuses to start with an admin host beyond loopback and no token, before opening anything', async () => {
    const db = `${tmp.dir}/x.db`;
    const port = await freePort();
    const env = { ...process.env, B24GW_ADMIN_TOKEN: '' };
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'serve',
        '--port',
        String(port),
        '--admin-port',
        String(await freePort()),
        '--admin-host',
        '0.0.0.0',
        '--db',
        db,
      ],
      { encoding: 'utf8', env, timeout: 15_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^error B24GW_BAD_CONFIG: The admin listener on 0\.0\.0\.0 is reachable from other machines: give it a token .*\n$/,
    );
    expect(existsSync(db)).toBe(false);
    const short = spawnSync(
      process.execPath,
      [cli, 'serve', '--port', String(port), '--admin-port', '0', '--admin-token', 'short', '--db', db],
      { encoding: 'utf8', env, timeout: 15_000 },
    );
    expect(short.stderr).toMatch(/^error B24GW_BAD_CONFIG: The admin token must be at least 16 characters\n$/);
    const noPort = spawnSync(process.execPath, [cli, 'serve', '--port', String(port), '--db', db], {
      encoding: 'utf8',
      env: { ...env, B24GW_ADMIN_TOKEN: TOKEN },
      timeout: 15_000,
    });
    expect(noPort.stderr).toMatch(/^error B24GW_BAD_CONFIG: --admin-host and --admin-token need --admin-port/);
  });

  it('with a token (B24GW_ADMIN_TOKEN), answers admin routes only with the bearer; the public health needs none', async () => {
    const gw = await startGatewayProcess(
      ['--db', `${tmp.dir}/t.db`, '--admin-host', '0.0.0.0', '--log-level', 'error'],
      { admin: true, env: { B24GW_ADMIN_TOKEN: TOKEN } },
    );
    try {
      for (const path of ['/metrics', '/healthz', '/readyz']) {
        const denied = await fetch(`${gw.adminUrl}${path}`);
        expect([path, denied.status]).toEqual([path, 401]);
        expect(await denied.json()).toMatchObject({ error: { code: 'B24GW_ADMIN_UNAUTHORIZED' } });
        expect(
          (await fetch(`${gw.adminUrl}${path}`, { headers: { authorization: 'Bearer wrong-token-0000000' } })).status,
        ).toBe(401);
      }
      const metrics = await fetch(`${gw.adminUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('b24gw_queue_depth{status="pending"} 0');
      expect((await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      // The console and its API are on the admin listener, behind the same token, never on the public one.
      expect((await fetch(`${gw.adminUrl}/api/events`)).status).toBe(401);
      const events = await fetch(`${gw.adminUrl}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(await events.json()).toEqual({ events: [], next: null });
      const basic = `Basic ${Buffer.from(`ops:${TOKEN}`).toString('base64')}`;
      expect((await fetch(`${gw.adminUrl}/console/`, { headers: { authorization: basic } })).status).toBe(200);
      expect((await fetch(`${gw.url}/console/`)).status).toBe(404);
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    } finally {
      await gw.kill();
    }
    expect(gw.child.exitCode).toBe(0);
  });
});
