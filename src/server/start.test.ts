import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { tempDir, holdsWithin as until } from '../../test/helpers.js';
import { Gateway } from '../gateway.js';
import { startServer, type RunningServer } from './start.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';

describe('startServer with a Gateway: everything on this thread', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: RunningServer | undefined;
  const gateway = (db = 'g.db') =>
    new Gateway({ db: `${tmp.dir}/${db}`, appTokens: new Map([[MEMBER, TOKEN]]), worker: { pollMs: 20 } });
  const post = (url: string) =>
    fetch(`${url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formFixture('imconnector-message-update'),
    });

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    tmp.cleanup();
  });

  it('role all takes events and processes them, and close() closes the gateway', async () => {
    const g = gateway();
    const ran: number[] = [];
    g.on('ONIMCONNECTORMESSAGEUPDATE', (_e, ctx) => void ran.push(ctx.eventId));
    server = await startServer(g, { port: 0 });
    expect(server.gateway).toBe(g);
    expect((await post(server.url)).status).toBe(200);
    expect(await until(() => ran.length === 1)).toBe(true);
    await server.close();
    await expect(g.store.ping()).resolves.toBe(false);
  });

  it('role worker processes and answers health, but takes no events; role intake takes them and does not process', async () => {
    const intake = gateway();
    const worker = gateway();
    const ran: string[] = [];
    intake.on('ONIMCONNECTORMESSAGEUPDATE', () => void ran.push('intake'));
    worker.on('ONIMCONNECTORMESSAGEUPDATE', () => void ran.push('worker'));
    const intakeServer = await startServer(intake, { port: 0, role: 'intake' });
    server = await startServer(worker, { port: 0, role: 'worker' });
    try {
      const refused = await post(server.url);
      expect(refused.status).toBe(404);
      expect(await refused.json()).toMatchObject({
        error: { code: 'B24GW_NOT_FOUND', message: 'This server runs with role worker and takes no events' },
      });
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      expect((await post(intakeServer.url)).status).toBe(200);
      expect(await until(() => ran.length > 0)).toBe(true);
      expect(ran).toEqual(['worker']);
    } finally {
      await intakeServer.close();
    }
  });

  it('refuses an unknown role, and leaves a gateway it could not serve open for its owner', async () => {
    const g = gateway();
    await expect(startServer(g, { port: 0, role: 'both' as 'all' })).rejects.toMatchObject({
      code: 'B24GW_BAD_CONFIG',
    });
    server = await startServer(g, { port: 0 });
    await expect(startServer(g, { port: Number(new URL(server.url).port) })).rejects.toMatchObject({
      code: 'B24GW_LISTEN_FAILED',
      cause: { code: 'EADDRINUSE' },
    });
    await expect(g.store.ping()).resolves.toBe(true);
  });
});
