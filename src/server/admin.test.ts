import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { Gateway } from '../gateway.js';
import { isLoopbackHost, type AdminOptions } from './admin.js';
import { startServer, type RunningServer } from './start.js';

const TOKEN = 'adm-9f2c1e7a44b0d3c8';

describe('the admin listener', () => {
  let tmp: ReturnType<typeof tempDir>;
  let gateway: Gateway;
  let running: RunningServer | undefined;
  /** The admin listener. */
  let admin: { url: string };
  beforeEach(() => {
    tmp = tempDir();
    gateway = new Gateway({ db: `${tmp.dir}/a.db`, defaultMetrics: false });
  });
  afterEach(async () => {
    if (running) await running.close();
    else await gateway.close();
    running = undefined;
    tmp.cleanup();
  });
  const start = async (options: AdminOptions) => {
    running = await startServer(gateway, { port: 0, role: 'intake', admin: options });
    admin = { url: running.adminUrl! };
  };

  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { headers });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  it('serves /metrics, and the public listener does not; health is on both', async () => {
    await start({ port: 0 });
    expect(admin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const metrics = await get(`${admin.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('b24gw_queue_depth{status="pending"} 0');
    const publicMetrics = await get(`${running!.url}/metrics`);
    expect(publicMetrics.status).toBe(404);
    expect(JSON.parse(publicMetrics.text)).toMatchObject({ error: { code: 'B24GW_NOT_FOUND' } });
    expect(publicMetrics.text).not.toContain('b24gw_');
    for (const url of [running!.url, admin.url]) {
      expect(await get(`${url}/healthz`)).toMatchObject({ status: 200, text: '{"status":"ok"}' });
      expect(await get(`${url}/readyz`)).toMatchObject({ status: 200, text: '{"status":"ready"}' });
    }
    expect((await get(`${admin.url}/events`)).status).toBe(404);
  });

  it('with a token, answers only a request that carries it, as a bearer token or a basic auth password', async () => {
    await start({ port: 0, token: TOKEN });
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${TOKEN}` },
      { authorization: `Basic ${Buffer.from(`admin:${TOKEN.slice(1)}`).toString('base64')}` },
      { authorization: TOKEN },
    ]) {
      for (const path of ['/metrics', '/healthz', '/nothing']) {
        const r = await get(`${admin.url}${path}`, headers);
        expect([path, r.status]).toEqual([path, 401]);
        expect(JSON.parse(r.text)).toMatchObject({ error: { code: 'B24GW_ADMIN_UNAUTHORIZED' } });
        // A browser asks its user for the basic one; a script sends the bearer one.
        expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm=.*, Basic realm=/);
      }
    }
    const ok = await get(`${admin.url}/metrics`, { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('b24gw_events_received_total');
    expect((await get(`${admin.url}/nothing`, { authorization: `bearer ${TOKEN}` })).status).toBe(404);
    const basic = `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}`;
    expect((await get(`${admin.url}/metrics`, { authorization: basic })).status).toBe(200);
  });

  it('refuses to listen beyond loopback without a token, and a short token', async () => {
    for (const options of [
      { host: '0.0.0.0', port: 0 },
      { host: '::', port: 0 },
      { port: 0, token: 'short' },
    ]) {
      await expect(startServer(gateway, { port: 0, role: 'intake', admin: options })).rejects.toMatchObject({
        code: 'B24GW_BAD_CONFIG',
      });
    }
    await start({ host: '0.0.0.0', port: 0, token: TOKEN });
    expect((await get(`${admin.url.replace('0.0.0.0', '127.0.0.1')}/metrics`)).status).toBe(401);
  });

  it('knows loopback addresses', async () => {
    for (const host of ['127.0.0.1', '127.8.0.1', '::1', '::ffff:127.0.0.1', 'localhost'])
      expect([host, await isLoopbackHost(host)]).toEqual([host, true]);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.10', '::ffff:10.0.0.1', 'no-such-host.invalid'])
      expect([host, await isLoopbackHost(host)]).toEqual([host, false]);
  });

  it('takes more routes behind the same token, never in place of a built-in one', async () => {
    await start({
      port: 0,
      token: TOKEN,
      routes: {
        '/admin/portals': async (_req, res) => void res.end(JSON.stringify(await gateway.store.listPortals())),
        '/admin/things/*': (req, res) => void res.end(`under: ${req.url}`),
        '/admin/broken': () => {
          throw new Error('a secret detail');
        },
      },
    });
    expect((await get(`${admin.url}/admin/portals`)).status).toBe(401);
    expect(await get(`${admin.url}/admin/portals`, { authorization: `Bearer ${TOKEN}` })).toMatchObject({
      status: 200,
      text: '[]',
    });
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await get(`${admin.url}/admin/things/7/parts?x=1`, auth)).text).toBe('under: /admin/things/7/parts?x=1');
    expect((await get(`${admin.url}/admin/things`, auth)).status).toBe(404);
    expect((await get(`${admin.url}/admin/thingsX/1`, auth)).status).toBe(404);
    const broken = await get(`${admin.url}/admin/broken`, { authorization: `Bearer ${TOKEN}` });
    expect(broken.status).toBe(500);
    expect(JSON.parse(broken.text)).toEqual({ error: { code: 'B24GW_ADMIN_FAILED', message: 'Admin route failed' } });
    await expect(
      startServer(gateway, { port: 0, role: 'intake', admin: { port: 0, routes: { '/metrics': () => undefined } } }),
    ).rejects.toMatchObject({ code: 'B24GW_BAD_CONFIG' });
  });
});
